"""Seconds per architecture step of each rule, as a multiple of a `first` step (target: amended ≤ 4×).

On one NB201 supernet and one (train, val) pair of downsampled CIFAR-10 batches, times each rule's
  gradient  `arch_gradient(rule, ...)`: the α gradient alone, the rule's own cost;
  step      `step(...)`: that plus the α update and the weight update after it, one search iteration.
Each repeat rebuilds the supernet and optimizers from the same seed (untimed), then times every rule in
turn, so all rules start from the same state and a load spike on the machine hits them alike; the first
repeat is a warm-up and is not counted. Ratios are of medians (and of minima) over the counted repeats.
`second` unrolls with ξ = the weight learning rate (0.025), the amended rules use η = 0.1.

    OMP_NUM_THREADS=1 python bench/darts_step_cost.py --C 8 --N 1 --size 16 --batch-size 64 --repeats 10
"""

from __future__ import annotations

import argparse
import statistics
import time

from darts_common import add_problem_options, load_problem, markdown, start
from gradnas.darts import RULES, arch_gradient, step
from gradnas.darts.run import build_search


def timed(function, *args, **kwargs) -> float:
    began = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - began


def one_repeat(config, data, options) -> dict[str, tuple[float, float]]:
    """{rule: (gradient seconds, step seconds)}, every rule from the same freshly built state."""
    seconds = {}
    for rule in RULES:
        parts = build_search(config, data)
        model, optimizers = parts["model"], (parts["w_optimizer"], parts["a_optimizer"])
        gradient = timed(arch_gradient, rule, model, data.train, data.val, **options[rule])
        full = timed(
            step, model, rule, data.train, data.val, *optimizers, grad_clip=config.grad_clip, **options[rule]
        )
        seconds[rule] = (gradient, full)
    return seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_problem_options(p, C=8, N=1, size=16, batch_size=64)
    p.add_argument("--repeats", type=int, default=10, help="counted repeats after one warm-up (default: 10)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    start(args)
    config, data = load_problem(args, args.seed, samples=2 * args.batch_size)
    amended = {"eta": config.eta}
    options = {"first": {}, "second": {"xi": config.lr}, "amended": amended, "amended_fd": amended}
    runs = [one_repeat(config, data, options) for _ in range(args.repeats + 1)][1:]

    def summary(rule: str, part: int, how) -> float:
        return how([run[rule][part] for run in runs])

    rows = []
    for rule in RULES:
        row = [rule]
        for part in (0, 1):
            median = summary(rule, part, statistics.median)
            row += [
                f"{median * 1e3:.1f}",
                f"{median / summary('first', part, statistics.median):.2f}×",
                f"{summary(rule, part, min) / summary('first', part, min):.2f}×",
            ]
        rows.append(row)
    weights = sum(p.numel() for p in build_search(config, data)["model"].weights())
    print(
        f"NB201 supernet C={args.C} N={args.N} ({weights} weights), {args.dataset} {args.size}×{args.size}, "
        f"batch {args.batch_size}, {args.repeats} repeats\n"
    )
    header = ["rule", "gradient ms (median)", "× first (median)", "× first (min)"]
    print(markdown(header + ["step ms (median)", "× first (median)", "× first (min)"], rows))


if __name__ == "__main__":
    main()
