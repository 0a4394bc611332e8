"""Search for the best training-free ensemble without selecting on the test set.

Reads two finished correlation studies over the same architectures (`gradnas correlate` output
directories, e.g. CIFAR-10 and CIFAR-100). The architectures are split in two halves with a
seed. Every equal-weight ensemble of 1..k proxies of the first study is scored by Spearman ρ on
the *selection* half. The best one is reported on the other (*held-out*) half and on the second
study (both its held-out half and all of it), with no re-tuning. Ensemble ranks are computed within
each evaluated set, as they would be in use.

    python bench/ensemble_search.py results/nb201-cifar10 results/nb201-cifar100 --max-members 3
"""

from __future__ import annotations

import argparse
import itertools
import shlex
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

from gradnas.correlate import Study
from gradnas.evaluate.ensemble import ensemble_scores
from gradnas.proxies import PROXIES


def load(study_dir: str) -> tuple[pd.DataFrame, list[str]]:
    study = Study.load(Path(study_dir))
    return pd.read_csv(Path(study_dir) / "scores.csv"), list(study.proxies)


def rho_tau(frame: pd.DataFrame, members: tuple[str, ...]) -> tuple[float, float]:
    directions = {m: PROXIES[m].higher_is_better for m in members}
    score = ensemble_scores(frame, dict.fromkeys(members, 1.0), directions)
    return spearmanr(score, frame["accuracy"])[0], kendalltau(score, frame["accuracy"])[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("select_study", help="study whose first half selects the ensemble")
    parser.add_argument("confirm_study", help="a second study over the same archs (another dataset)")
    parser.add_argument("--max-members", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=5, help="show this many best ensembles")
    args = parser.parse_args()
    print("$ python " + shlex.join(sys.argv))
    first, proxies = load(args.select_study)
    second, _ = load(args.confirm_study)
    if sorted(first["arch"]) != sorted(second["arch"]):
        raise SystemExit("the two studies must cover the same architectures")
    second = second.set_index("arch").loc[first["arch"]].reset_index()
    half = np.random.default_rng(args.seed).permutation(len(first)) < len(first) // 2
    select, held = first[half].reset_index(drop=True), first[~half].reset_index(drop=True)
    combos = [c for k in range(1, args.max_members + 1) for c in itertools.combinations(proxies, k)]
    ranked = sorted(combos, key=lambda c: rho_tau(select, c)[0], reverse=True)
    print(f"{len(combos)} ensembles of 1..{args.max_members} of {len(proxies)} proxies; "
          f"selection half {len(select)} archs, held-out half {len(held)}")
    header = "ensemble", "select ρ", "held-out ρ", "τ", "2nd held-out ρ", "2nd all ρ", "τ"
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for combo in ranked[: args.top] + [c for c in combos if len(c) == 1 and c[0] == "gradsign"]:
        cells = [rho_tau(select, combo)[0], *rho_tau(held, combo),
                 rho_tau(second[~half].reset_index(drop=True), combo)[0], *rho_tau(second, combo)]
        print(f"| ensemble:{'+'.join(combo)} | " + " | ".join(f"{v:.3f}" for v in cells) + " |")


if __name__ == "__main__":
    main()
