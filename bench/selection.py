"""Selection from N (GradSign Table 5) for proxies scored on a study's architectures only.

Full-space scores are needed to draw N candidates from all of NB201; where a proxy is scored only on
a study's uniform random sample (e.g. 1,000 archs), N candidates are drawn from that sample instead,
1,000 times. An ensemble is ranked within each draw, as it would be in use.

    python bench/selection.py results/nb201-cifar10 --proxies gradsign,gradalign_1_sign_raw \
        --ensembles ensemble:gradalign_1_sign_raw+gradalign_2_sign_diverse+jacob_cov --n 10,100
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from gradnas.evaluate.ensemble import ensemble_scores, is_ensemble, parse_ensemble
from gradnas.proxies import PROXIES


def picks(frame: pd.DataFrame, name: str, n: int, draws: int, seed: int) -> np.ndarray:
    """Accuracy of the best-scored of `n` distinct archs, for each of `draws` seeded draws."""
    rng = np.random.default_rng(seed)
    out = np.empty(draws)
    for d in range(draws):
        subset = frame.iloc[rng.choice(len(frame), n, replace=False)]
        if is_ensemble(name):
            members = parse_ensemble(name)
            score = ensemble_scores(subset, members, {m: PROXIES[m].higher_is_better for m in members})
        else:
            score = subset[name].to_numpy() * (1 if PROXIES[name].higher_is_better else -1)
        score = np.where(np.isfinite(score), score, -np.inf)
        out[d] = subset["accuracy"].to_numpy()[int(np.argmax(score))]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("studies", nargs="+", help="study directories (gradnas correlate --out)")
    p.add_argument("--proxies", default="gradsign,gradalign_1_sign_raw")
    p.add_argument("--ensembles", default="", help="comma-separated ensemble:A+B names")
    p.add_argument("--n", default="10,100")
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    names = [x for x in (args.proxies + "," + args.ensembles).split(",") if x]
    sizes = [int(v) for v in args.n.split(",")]
    print(f"$ python {shlex.join(sys.argv)}\n")
    print("| study | selector | " + " | ".join(f"N = {n}" for n in sizes) + " |")
    print("| --- | --- | " + " | ".join("---:" for _ in sizes) + " |")
    for study in args.studies:
        frame = pd.read_csv(Path(study) / "scores.csv")
        for name in names:
            cells = [picks(frame, name, n, args.draws, args.seed) for n in sizes]
            row = " | ".join(f"{c.mean():.2f} ± {c.std():.2f}" for c in cells)
            print(f"| {Path(study).name} | `{name}` | {row} |")


if __name__ == "__main__":
    main()
