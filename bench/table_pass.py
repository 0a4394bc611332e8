"""CPU seconds to score one NB201 architecture with every proxy of the shipped score tables (all
but the three that cost far more than a second: `grasp`, `ntk_cond`, `vkdnw`), at their probe
(CIFAR-10, batch 64, seed 0), one thread: what completing a whole-space table costs; or of any
proxies, or an ensemble's members (`--proxies ensemble:default`).

Seeded random architectures, the first scored once untimed as a warm-up; process CPU time, so a
busy machine inflates it less than wall time. To compare two versions of gradnas on the same
architectures, run it with each on PYTHONPATH, e.g. under `farm-bench --vs`.

    python bench/table_pass.py --archs 6
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from gradnas.evaluate.ensemble import is_ensemble, parse_ensemble
from gradnas.proxies import PROXIES
from gradnas.run.tasks import ProbeSpec, make_tasks, run_task
from gradnas.spaces import get_space

EXPENSIVE = ("grasp", "ntk_cond", "vkdnw")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=11, help="draws the architectures")
    parser.add_argument(
        "--proxies", default=None, help="comma-separated, or an ensemble's members (default: the table's)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    space = get_space("nb201")
    archs = [space.format(a) for a in space.sample_many(args.archs, np.random.default_rng(args.seed))]
    if args.proxies is None:
        names = [p for p in PROXIES if p not in EXPENSIVE]
    elif is_ensemble(args.proxies):
        names = list(parse_ensemble(args.proxies))
    else:
        names = args.proxies.split(",")
    tasks = make_tasks("nb201", archs, ProbeSpec("cifar10", 64, 0), names)
    run_task(tasks[0])
    start = time.process_time()
    for task in tasks:
        run_task(task)
    seconds = (time.process_time() - start) / len(tasks)
    print(f"{', '.join(names)} on {len(tasks)} NB201 archs: {seconds:.2f} CPU-s per architecture")


if __name__ == "__main__":
    main()
