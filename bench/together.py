"""What does sharing one Probe save? All proxies in one call vs. each proxy in its own call.

For the same seeded random NAS-Bench-201 architectures and one probe batch, times
`score(model, batch, names)` once with every name, and once per name alone (each a fresh Probe
that recomputes its ingredients), and reports seconds per architecture, each proxy's own cost
and the ratio. `--clock cpu` counts this process's CPU time instead of wall time (steadier on a
shared machine; run with one thread).

    python bench/together.py --archs 5 --proxies all
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

import torch

from gradnas.api import sample_archs
from gradnas.proxies import PROXIES, score
from gradnas.run.tasks import ProbeSpec, build_model

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def seconds(model, batch, names, clock=time.perf_counter) -> float:
    start = clock()
    score(model, batch, names)
    return clock() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=5)
    parser.add_argument("--proxies", default="all", help="comma-separated, or 'all' registered")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    args = parser.parse_args()
    clock = CLOCKS[args.clock]
    print("$ python " + shlex.join(sys.argv))
    names = list(PROXIES) if args.proxies == "all" else args.proxies.split(",")
    batch = ProbeSpec(args.dataset, args.batch_size, args.seed).batch()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(names)} proxies, "
        f"{args.dataset} batch {args.batch_size}, {args.clock} clock"
    )
    together = alone = 0.0
    each = dict.fromkeys(names, 0.0)
    for arch in sample_archs("nb201", args.archs, args.seed):
        model = build_model("nb201", arch, batch, args.seed)
        t = seconds(model, batch, names, clock)
        for name in names:
            each[name] += seconds(model, batch, [name], clock)
        a = sum(each.values()) - alone
        together, alone = together + t, alone + a
        print(f"  {arch}: together {t:.2f} s, each alone {a:.2f} s, {a / t:.1f}x")
    n = args.archs
    for name, total in each.items():
        print(f"  {name:24s} alone {total / n:6.2f} s per arch")
    print(
        f"mean per arch: together {together / n:.2f} s, sum of each alone {alone / n:.2f} s, "
        f"sharing saves {alone / together:.1f}x"
    )


if __name__ == "__main__":
    main()
