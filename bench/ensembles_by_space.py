"""Per-proxy ranking quality on a benchmark, and an ensemble chosen on one half, reported on the other.

Reads `gradnas correlate` studies of one benchmark (any number of output directories, e.g. cheap
and expensive proxies scored separately; finished or still running) and joins their stored scores
on the archs they all scored.
Prints, per proxy: signed Spearman ρ and Kendall τ with the ground truth, NaN count and, where
the benchmark carries its own scores (NAS-Bench-Suite-Zero), that score's ρ and its agreement with
ours. Then the architectures are split in two halves (seeded); every ensemble of 1..k members is
scored on the *selection* half, each member oriented by the sign of its own Spearman ρ there
(a reversed member is spelled `-name`), and the best is reported on the *held-out* half beside
`params`. With several spaces (`--study SPACE=DIR`), it also finds the one rule (same members,
same orientations) whose worst selection-half ρ over the spaces is highest, and reports it held
out on each.

    python bench/ensembles_by_space.py --study nb101=results/nb101-cheap --study nb101=results/nb101-grad \\
        --study nb301=results/nb301-cheap --max-members 3 [--save docs/data]

A study directory may also hold just `study.json` and `scores.csv.gz` (what `--save` writes), so
the figures can be rebuilt without recomputing any score.
"""

from __future__ import annotations

import argparse
import itertools
import shlex
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

from gradnas.benchmarks import load_benchmark
from gradnas.benchmarks.suite_zero import gradnas_name
from gradnas.correlate import COPY_FILE, STUDY_FILE, Study, study_scores
from gradnas.evaluate.ensemble import LogRankRule, ensemble_scores
from gradnas.proxies import PROXIES


def save_copy(directory: str, into: Path) -> None:
    """Keep a study's configuration and scores compactly (study.json, scores.csv.gz) in `into`."""
    into.mkdir(parents=True, exist_ok=True)
    (into / STUDY_FILE).write_text((Path(directory) / STUDY_FILE).read_text())
    study_scores(directory).reset_index().to_csv(into / COPY_FILE, index=False, float_format="%.9g")


def joined(dirs: list[str]) -> tuple[pd.DataFrame, Study]:
    """The studies' scores joined on the archs they all scored (their ground truth must agree)."""
    frames = [study_scores(d) for d in dirs]
    common = sorted(set.intersection(*(set(f.index) for f in frames)))
    base = frames[0].loc[common]
    for other in frames[1:]:
        other = other.loc[common]
        if not np.allclose(other["accuracy"], base["accuracy"]):
            raise SystemExit(f"studies {dirs} disagree on the ground truth")
        base = base.join(other.drop(columns="accuracy"), how="left")
    return base.reset_index(), Study.load(Path(dirs[0]))


def signed(frame: pd.DataFrame, name: str) -> np.ndarray:
    """Scores oriented by the proxy's registered direction (higher is better)."""
    values = frame[name].to_numpy(np.float64)
    return values if PROXIES[name].higher_is_better else -values


def proxy_table(frame: pd.DataFrame, proxies: list[str], study: Study) -> str:
    bench = load_benchmark(study.benchmark, study.probe.data_dir)
    refs = {gradnas_name(f): f for f in getattr(bench, "references", ())}
    lines = [
        "| proxy | ρ | τ | NaN | NASLib's ρ | agreement |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    acc = frame["accuracy"].to_numpy()
    rows = []
    for name in proxies:
        s = signed(frame, name)
        ok = np.isfinite(s)
        rho, tau = spearmanr(s[ok], acc[ok])[0], kendalltau(s[ok], acc[ok])[0]
        naslib = agreement = ""
        if name in refs:
            theirs = bench.query_many(frame["arch"].tolist(), study.target_dataset, refs[name])
            if not PROXIES[name].higher_is_better:
                theirs = -theirs
            naslib = f"{spearmanr(theirs, acc)[0]:.3f}"
            agreement = f"{spearmanr(s[ok], theirs[ok])[0]:.3f}"
        rows.append(
            (rho, f"| `{name}` | {rho:.3f} | {tau:.3f} | {int((~ok).sum())} | {naslib} | {agreement} |")
        )
    return "\n".join(lines + [r for _, r in sorted(rows, key=lambda r: -np.nan_to_num(r[0], nan=-9))])


def ensemble_name(members: tuple[str, ...], signs: dict[str, float]) -> str:
    parts = [("-" if signs[m] < 0 else "+") + m for m in members]
    body = "".join(parts)
    return "ensemble:" + (body[1:] if body[0] == "+" else body)


def rho(frame: pd.DataFrame, members: tuple[str, ...], signs: dict[str, float]) -> float:
    return weighted_rho(frame, Counter(members), signs, "mean")


def weighted_rho(frame: pd.DataFrame, weights: Counter, signs: dict[str, float], aggregate: str) -> float:
    """ρ of the weighted ensemble: mean rank percentile (`mean`, members oriented by `signs`) or
    AZ-NAS's sum of log rank fractions (`logrank`, forward members only), as gradnas computes them."""
    directions = {m: PROXIES[m].higher_is_better for m in weights}
    if aggregate == "mean":
        values = ensemble_scores(frame, {m: w * signs[m] for m, w in weights.items()}, directions)
    else:
        terms = tuple((m,) for m, w in weights.items() for _ in range(w))
        values = LogRankRule(terms).scores(frame, directions)
    return spearmanr(values, frame["accuracy"])[0]


def greedy(select: pd.DataFrame, proxies: list[str], signs: dict[str, float], aggregate: str, steps: int):
    """Forward selection on the selection half: each step adds one unit of weight to the member
    that raises ρ most (a new member or one already in), until a step gains less than 0.001."""
    pool = [m for m in proxies if aggregate == "mean" or signs[m] > 0]
    weights: Counter = Counter()
    best = -np.inf
    for _ in range(steps):
        value, member = max((weighted_rho(select, weights + Counter([m]), signs, aggregate), m) for m in pool)
        if value < best + 0.001:
            break
        weights[member] += 1
        best = value
    return weights


def halves(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    first = np.random.default_rng(seed).permutation(len(frame)) < len(frame) // 2
    return frame[first].reset_index(drop=True), frame[~first].reset_index(drop=True)


def orientation(select: pd.DataFrame, proxies: list[str]) -> dict[str, float]:
    """+1 where a proxy ranks forwards (registered orientation) on the selection half, else -1."""
    out = {}
    for name in proxies:
        s = signed(select, name)
        ok = np.isfinite(s)
        out[name] = 1.0 if spearmanr(s[ok], select["accuracy"][ok])[0] >= 0 else -1.0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", action="append", required=True, metavar="SPACE=DIR")
    parser.add_argument("--max-members", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument(
        "--greedy", type=int, default=0, metavar="STEPS", help="also forward selection of weighted members"
    )
    parser.add_argument("--save", type=Path, help="also keep each study compactly under SAVE/<its name>")
    args = parser.parse_args()
    print("$ python " + shlex.join(sys.argv))
    groups: dict[str, list[str]] = defaultdict(list)
    for item in args.study:
        space, _, directory = item.partition("=")
        groups[space].append(directory)
        if args.save:
            save_copy(directory, args.save / Path(directory).name)
    data = {}
    for space, dirs in groups.items():
        frame, study = joined(dirs)
        proxies = [c for c in frame.columns if c in PROXIES]
        print(f"\n## {space}: {len(frame)} archs, {len(proxies)} proxies\n")
        print(proxy_table(frame, proxies, study))
        select, held = halves(frame, args.seed)
        data[space] = (select, held, proxies, orientation(select, proxies))
    common = sorted(set.intersection(*(set(d[2]) for d in data.values())))
    for space, (select, held, proxies, signs) in data.items():
        combos = [c for k in range(1, args.max_members + 1) for c in itertools.combinations(proxies, k)]
        ranked = sorted(combos, key=lambda c: rho(select, c, signs), reverse=True)
        print(
            f"\n### {space}: {len(combos)} ensembles; selection {len(select)} archs, held out {len(held)}\n"
        )
        print("| ensemble | selection ρ | held-out ρ |\n| --- | ---: | ---: |")
        for combo in ranked[: args.top] + [("params",)]:
            chosen, held_out = rho(select, combo, signs), rho(held, combo, signs)
            print(f"| `{ensemble_name(combo, signs)}` | {chosen:.3f} | {held_out:.3f} |")
        for aggregate in ("mean", "logrank") if args.greedy else ():
            weights = greedy(select, proxies, signs, aggregate, args.greedy)
            chosen = weighted_rho(select, weights, signs, aggregate)
            held_out = weighted_rho(held, weights, signs, aggregate)
            print(f"| greedy {aggregate}: {dict(weights)} | {chosen:.3f} | {held_out:.3f} |")
    if len(data) > 1:
        agreed = [m for m in common if len({d[3][m] for d in data.values()}) == 1]
        combos = [c for k in range(1, args.max_members + 1) for c in itertools.combinations(agreed, k)]

        def worst(combo):
            return min(rho(select, combo, signs) for select, _, _, signs in data.values())

        best = max(combos, key=worst)
        print(f"\n### one rule for {', '.join(data)} (members oriented alike in every space)\n")
        for space, (select, held, _, signs) in data.items():
            print(
                f"- {space}: `{ensemble_name(best, signs)}` selection {rho(select, best, signs):.3f}, "
                f"held out {rho(held, best, signs):.3f}"
            )


if __name__ == "__main__":
    main()
