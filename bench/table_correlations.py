"""Every proxy of a shipped score table against NAS-Bench-201 ground truth: Spearman ρ, Kendall τ,
NaN count, top-10 % overlap and best-of-100 selection, for the table's architectures (all 15,625
once it is complete; a random sample of the space while it is partial).

    python bench/table_correlations.py --dataset cifar10 --ensemble ensemble:az_nas
"""

from __future__ import annotations

import argparse
import shlex
import sys

from gradnas import load_benchmark, load_scores
from gradnas.evaluate.ensemble import ensemble_values
from gradnas.evaluate.report import summarize
from gradnas.proxies import PROXIES

COLUMNS = {
    "spearman": "ρ",
    "kendall": "τ",
    "n_nan": "NaN",
    "top10_overlap": "top-10 % overlap",
    "topk_selected": "best of 100",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="nb201")
    parser.add_argument("--dataset", default="cifar10", help="the table's probe dataset")
    parser.add_argument("--target", default=None, help="ground-truth dataset (default: the probe's)")
    parser.add_argument("--ensemble", action="append", default=[], help="also rank by this (repeatable)")
    args = parser.parse_args()
    print("$ python " + shlex.join(sys.argv))
    frame = load_scores(args.space, args.dataset)
    provenance = frame.attrs["provenance"]
    proxies = [c for c in frame.columns if c != "arch"]
    directions = {p: PROXIES[p].higher_is_better for p in proxies}
    for name in args.ensemble:
        frame[name] = ensemble_values(frame, name, directions)
    target = args.target or args.dataset
    frame["accuracy"] = load_benchmark("nb201").query_many(frame["arch"].tolist(), target)
    summary = summarize(frame, [*proxies, *args.ensemble], higher_is_better=directions)
    summary = summary.sort_values("spearman", ascending=False, key=abs)
    probe = provenance["probe"]
    print(
        f"\n{len(frame)} of {provenance['space_size']} {args.space} archs, probe {probe['dataset']} batch "
        f"{probe['batch_size']} seed {probe['seed']}, against {target} test accuracy\n"
    )
    print("| proxy | " + " | ".join(COLUMNS.values()) + " |")
    print("| --- |" + " ---: |" * len(COLUMNS))
    for row in summary.itertuples(index=False):
        cells = [f"{getattr(row, c):.3f}" if c != "n_nan" else str(row.n_nan) for c in COLUMNS]
        print(f"| `{row.proxy}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
