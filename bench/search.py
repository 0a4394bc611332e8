"""The search comparison of GradSign Tables 5-6 and KNAS Table 1, on NB201 table lookups.

For one dataset and one screening proxy (read from a score store that already covers the whole
space, e.g. `gradnas correlate --archs all`), runs 100 seeded runs each of:
  - RS, REA, REINFORCE, HB, BOHB and their G-variants at a 12,000 s budget with KNAS costs,
  - the same at matched numbers of evaluations (10, 25, 50, 100), and with --predictor 10 25 50
    the predictor-guided search at those,
  - selection from N (N = 10, 100, 1000) and KNAS (k = 20, 40 of M = 100, 1000) by the proxy, its
    k evaluations charged as KNAS Table 1 does (20-epoch runs, a tenth of the full cost),
then prints one markdown table. Outputs (histories, summary, curves) go under --out.

    python bench/search.py --dataset cifar10 --assist synflow \
        --scores results/nb201-cifar10-all/scores.sqlite --out results/search-cifar10-synflow
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import pandas as pd

from gradnas.benchmarks import load_benchmark
from gradnas.run.tasks import ProbeSpec
from gradnas.search import KNAS_SECONDS, StoredScores, expand, run_searches
from gradnas.spaces import get_space

SAMPLE_BASED = ["rs", "rea", "reinforce", "hb", "bohb"]


def configs(args) -> list:
    common = {"dataset": args.dataset, "runs": args.runs, "seed": args.seed}
    grid = []
    for assist in (None, args.assist):
        grid += expand(SAMPLE_BASED, budget=12000.0, cost="knas", assist=assist, **common)
        for evals in args.evals:
            grid += expand(
                SAMPLE_BASED, budget=None, max_evals=evals, cost="fixed:1", assist=assist, **common
            )
    for evals in args.predictor:  # a model refit per step: at the numbers of evaluations asked for
        grid += expand(
            ["predictor"], budget=None, max_evals=evals, cost="fixed:1", assist=args.assist, **common
        )
    grid += expand(["select"], ns=(10, 100, 1000), budget=None, max_evals=1, assist=args.assist, **common)
    # KNAS evaluates its k best-scored archs (20-epoch runs: a tenth of the KNAS cost) and stops;
    # M = 100 is the KNAS paper's, M = 1,000 this project's earlier default
    tenth = f"fixed:{KNAS_SECONDS[args.dataset] / 10:g}"
    grid += expand(
        ["knas"],
        ks=(20, 40),
        ms=(100, 1000),
        budget=None,
        max_evals=40,
        cost=tenth,
        assist=args.assist,
        **common,
    )
    return grid


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--assist", required=True, help="screening proxy or ensemble")
    p.add_argument("--scores", required=True, help="score store covering the space")
    p.add_argument("--batch-size", type=int, default=128, help="the probe batch the scores were taken with")
    p.add_argument("--per-class", type=int, default=None)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--evals", type=int, nargs="+", default=[10, 25, 50, 100])
    p.add_argument(
        "--predictor",
        type=int,
        nargs="*",
        default=[],
        metavar="EVALS",
        help="also the predictor-guided search at these numbers of evaluations (slower: a fit per step)",
    )
    p.add_argument("--out", required=True)
    args = p.parse_args()
    spec = ProbeSpec(args.dataset, args.batch_size, 0, args.per_class)
    summary = run_searches(
        get_space("nb201"),
        configs(args),
        load_benchmark("nb201"),
        lambda name: StoredScores(name, args.scores, "nb201", spec, compute=False),
        Path(args.out),
    )
    summary["protocol"] = [
        "12,000 s, KNAS costs" if b == 12000 else (f"{int(e)} evaluations" if e and e > 1 else "no training")
        for b, e in zip(summary["budget"], summary["max_evals"])
    ]
    summary.loc[summary["search"].str.startswith("KNAS"), "protocol"] = "k 20-epoch evaluations"
    table = summary[["protocol", "search", "mean", "std", "evaluations", "seconds", "runs"]]
    print(f"$ python {shlex.join(sys.argv)}\n")
    print(markdown(table))
    summary["cell"] = [f"{m:.2f} ± {s:.2f}" for m, s in zip(summary["mean"], summary["std"])]
    order = list(dict.fromkeys(summary["protocol"]))
    pivot = summary.pivot(index="search", columns="protocol", values="cell").fillna("")
    print("\n" + markdown(pivot[order].loc[list(dict.fromkeys(summary["search"]))].reset_index()))


def markdown(table: pd.DataFrame) -> str:
    cells = [
        [f"{v:.2f}" if isinstance(v, float) else str(v) for v in row] for row in table.itertuples(index=False)
    ]
    lines = [list(table.columns), ["---"] * len(table.columns), *cells]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


if __name__ == "__main__":
    main()
