"""Wall time per architecture of a correlation-style run, and the speed-up from more workers.

The same seeded random NAS-Bench-201 architectures are scored (all nine seed proxies, one probe
batch) by `gradnas.run.executor.execute` with 1 worker (in-process, torch's default threads),
then with W one-thread worker processes for each W given (`--threads 1` makes the in-process
run single-threaded too, to isolate the gain from processes). Nothing is stored, so every run
computes everything. The speed-up is wall time with 1 worker over wall time with W.

    python bench/workers.py --archs 24 --workers 1,2 --dataset cifar10
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

import torch

from gradnas.api import sample_archs
from gradnas.proxies import SEED_PROXIES
from gradnas.run.executor import execute
from gradnas.run.tasks import ProbeSpec, make_tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=24)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads of the in-process run")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print("$ python " + shlex.join(sys.argv))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads in-process")
    spec = ProbeSpec(args.dataset, args.batch_size, args.seed)
    tasks = make_tasks("nb201", sample_archs("nb201", args.archs, args.seed), spec, list(SEED_PROXIES))
    spec.batch()  # load the data once, outside the timings
    walls = {}
    for workers in (int(w) for w in args.workers.split(",")):
        start = time.perf_counter()
        results = list(execute(tasks, workers=workers, progress=False))
        walls[workers] = time.perf_counter() - start
        busy = sum(r.seconds for r in results) / len(results)
        speedup = walls[min(walls)] / walls[workers]
        print(f"workers {workers}: wall {walls[workers]:.1f} s, {walls[workers] / len(tasks):.2f} s/arch "
              f"(each task {busy:.2f} s inside its worker), speed-up {speedup:.2f}x")


if __name__ == "__main__":
    main()
