"""KNAS Algorithm 1 with real training, on a space with no lookup table (NB301, the NDS DARTS space):
sample M cells, keep the top k by a proxy, train each for a few epochs, pick by validation accuracy,
report the pick's test accuracy and the wall-clock split between scoring and training.

The setting of the KNAS paper ("KNAS: Green Neural Architecture Search", Xu et al., ICML 2021,
arXiv 2111.13293, §6.3) is M = 100; k = 5 and a short training keep it to a CPU budget. Scores and
trainings are stored under --out, so a re-run resumes. A smoke run on digits checks the machinery:

    python bench/knas_train.py --space nb301 --epochs 3 --out results/knas-train-nb301
    python bench/knas_train.py --space nb301 --m 4 --k 2 --epochs 1 --dataset digits --probe-batch 16 \
        --out /tmp/knas-smoke
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from gradnas.run.tasks import ProbeSpec
from gradnas.run.threads import use_threads
from gradnas.search import Objective, SearchConfig, StoredScores, Training, search_once, trained
from gradnas.spaces import get_space


class Timed:
    """A callable that adds the wall-clock seconds of each call to `seconds`."""

    def __init__(self, function):
        self.function, self.seconds = function, 0.0

    def __call__(self, *args):
        started = time.perf_counter()
        try:
            return self.function(*args)
        finally:
            self.seconds += time.perf_counter() - started


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--space", default="nb301", help="nb301 or nds_darts")
    p.add_argument("--m", type=int, default=100, help="cells sampled (KNAS: 100)")
    p.add_argument("--k", type=int, default=5, help="cells kept and trained")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--recipe", default="darts")
    p.add_argument("--proxy", default="ensemble:nb301", help="the ranking proxy (KNAS's own: mgm)")
    p.add_argument("--dataset", default="cifar10", help="cifar10 for the study; digits for a smoke run")
    p.add_argument("--probe-batch", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/knas-train")
    p.add_argument("--data-dir", default=None)
    args = p.parse_args()
    use_threads(1)
    out = Path(args.out)
    evaluate = f"train:{args.epochs}:{args.recipe}"
    config = SearchConfig(
        "knas", args.dataset, budget=None, max_evals=args.k, assist=args.proxy, runs=1, seed=args.seed,
        options={"m": args.m, "k": args.k}, evaluate=evaluate,
    )  # fmt: skip
    spec = ProbeSpec(args.dataset, args.probe_batch, args.seed, data_dir=args.data_dir)
    scores = Timed(StoredScores(args.proxy, out / "scores.sqlite", args.space, spec, progress=True))
    training = Training(args.space, out / "train", args.seed, data_dir=args.data_dir)
    observe = Timed(trained(training, args.dataset, args.epochs, args.recipe))
    history, _ = search_once(get_space(args.space), config, observe, scores, run=0)
    pick = Objective.pick_from(history)
    print(f"$ python {shlex.join(sys.argv)}\n")
    chosen = f"M = {args.m}, top k = {args.k} by `{args.proxy}`, {evaluate} on {args.dataset}"
    print(f"KNAS on {args.space}: {chosen}\n")
    print("| proxy rank | validation % | test % | training s | cell |")
    print("| ---: | ---: | ---: | ---: | --- |")
    start = 0.0
    for rank, record in enumerate(history, 1):
        test = "NaN" if record.test_accuracy is None else f"{record.test_accuracy:.2f}"
        print(f"| {rank} | {record.accuracy:.2f} | {test} | {record.clock - start:,.0f} | `{record.arch}` |")
        start = record.clock
    print(f"\npick: `{pick.arch}`: validation {pick.accuracy:.2f}%, test {pick.test_accuracy:.2f}%")
    print(f"wall clock: scoring {scores.seconds:,.0f} s, training {observe.seconds:,.0f} s (this run;")
    print("stored scores and trainings are reused, so a resumed run shows only what it computed)")


if __name__ == "__main__":
    main()
