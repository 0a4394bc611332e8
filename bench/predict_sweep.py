"""How well the few-shot predictor ranks the unlabelled architectures, by number of labels.

For each source and each k, `--draws` labelled sets are drawn (seeds 0, 1, ...); on the rest of
the architectures it reports Spearman ρ and Kendall τ (mean ± std over the draws) of the predictor
(proxy scores + one-hot encoding), of the predictor without proxy features (encoding only), and of
the best single proxy (the one with the highest |ρ| over the whole source, oriented by that sign:
chosen in hindsight, so the strongest single-proxy baseline there is) and, where the source holds
its members, the space's recommended ensemble (`ensemble:nb101`, ... of `evaluate.ensemble.NAMED`;
its members were chosen on half of these very archs, so it too is a favourable baseline). Only
gradient-boosting fits.

    python bench/predict_sweep.py --source nb101-naslib=../shared/data/nb101_zc_250.json \\
        --source nb101-ours=docs/data/nb101-cheap+docs/data/nb101-batched+docs/data/nb101-persample \\
        [--ks 10,20,50,100,500] [--draws 20] [--snapshot STUDY_DIR=COPY_DIR]

A source is anything `gradnas predict --scores` reads; several study folders joined with `+` are
one source (their proxies side by side on the archs they all scored). `--snapshot` first copies a
study that is still running (read-only, through SQLite's backup) into a compact copy, so the
figures are made from, and can be remade from, one fixed set of archs.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sqlite3
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

from gradnas.correlate import COPY_FILE, STORE_FILE, STUDY_FILE, study_scores
from gradnas.evaluate.ensemble import NAMED, ensemble_scores, parse_ensemble
from gradnas.predict import Source, draw_labels, evaluate, fit, open_source
from gradnas.proxies import PROXIES


def snapshot(study: Path, into: Path) -> int:
    """A compact copy (study.json, scores.csv.gz) of `study` as it is now; the archs copied."""
    with tempfile.TemporaryDirectory() as scratch:
        shutil.copy(study / STUDY_FILE, scratch)
        source = sqlite3.connect(f"file:{study / STORE_FILE}?mode=ro", uri=True)
        with sqlite3.connect(Path(scratch) / STORE_FILE) as copy:
            source.backup(copy)
        source.close()
        frame = study_scores(scratch)
    into.mkdir(parents=True, exist_ok=True)
    shutil.copy(study / STUDY_FILE, into)
    frame.reset_index().to_csv(into / COPY_FILE, index=False, float_format="%.9g")
    return len(frame)


def joined(text: str, target: str | None = None) -> Source:
    """The source `text` names; with `+`, studies joined on the archs they all scored."""
    parts = [open_source(p, target=target) for p in text.split("+")]
    scores = pd.concat([p.scores for p in parts], axis=1, join="inner")
    first = parts[0]
    truth = None if first.truth is None else first.truth.loc[scores.index]
    return Source(" + ".join(p.name for p in parts), first.space, scores, truth, first.probe)


def best_proxy(source: Source) -> tuple[str, float]:
    """The proxy with the highest |ρ| over the whole source, and its sign."""
    truth = source.truth.to_numpy()
    rhos = {}
    for name in source.scores.columns:
        values = source.scores[name].to_numpy(np.float64)
        ok = np.isfinite(values) & np.isfinite(truth)
        rhos[name] = spearmanr(values[ok], truth[ok])[0]
    name = max(rhos, key=lambda n: abs(np.nan_to_num(rhos[n])))
    return name, float(np.sign(rhos[name]))


def proxy_on_rest(source: Source, labels: pd.Series, name: str, sign: float) -> tuple[float, float]:
    rest = ~source.scores.index.isin(labels.index)
    values = sign * source.scores[name].to_numpy(np.float64)[rest]
    truth = source.truth.to_numpy()[rest]
    ok = np.isfinite(values) & np.isfinite(truth)
    return spearmanr(values[ok], truth[ok])[0], kendalltau(values[ok], truth[ok])[0]


def ensemble_on_rest(source: Source, labels: pd.Series, name: str) -> tuple[float, float]:
    """The named ensemble's ρ and τ on the unlabelled archs (ranks within that set)."""
    rest = source.scores.loc[~source.scores.index.isin(labels.index)]
    members = parse_ensemble(name)
    values = ensemble_scores(rest, members, {m: PROXIES[m].higher_is_better for m in members})
    truth = source.truth.loc[rest.index].to_numpy()
    return spearmanr(values, truth)[0], kendalltau(values, truth)[0]


def cell(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def sweep(label: str, source: Source, ks: list[int], draws: int) -> None:
    known = int(np.isfinite(source.truth.to_numpy(dtype=float)).sum())
    name, sign = best_proxy(source)
    ensemble = f"ensemble:{source.space}"
    if ensemble not in NAMED or not set(parse_ensemble(ensemble)) <= set(source.scores.columns):
        ensemble = None
    proxies = ", ".join(source.scores.columns)
    print(
        f"\n## {label}: {known} archs with ground truth, {len(source.scores.columns)} proxies ({proxies})\n"
    )
    print(f"best single proxy: {'-' if sign < 0 else ''}{name}; ensemble: {NAMED.get(ensemble, 'none')}\n")
    head = ["predictor", "encoding only", "best proxy", *(["ensemble"] if ensemble else [])]
    print("| k | " + " | ".join(f"{h} {c}" for h in head for c in "ρτ") + " |")
    print("| ---: |" + " ---: |" * 2 * len(head))
    for k in ks:
        if k >= known - 10:  # too few left to rank
            continue
        rows = []
        for draw in range(draws):
            labels = draw_labels(source, k, seed=draw)
            full = evaluate(fit(source, labels, seed=draw))
            blind = evaluate(fit(source, labels, proxies=[], seed=draw))
            rows.append(
                (
                    full.spearman,
                    full.kendall,
                    blind.spearman,
                    blind.kendall,
                    *proxy_on_rest(source, labels, name, sign),
                    *(ensemble_on_rest(source, labels, ensemble) if ensemble else ()),
                )
            )
        columns = list(zip(*rows))
        print(f"| {k} | " + " | ".join(cell(list(c)) for c in columns) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", action="append", required=True, metavar="LABEL=SOURCE")
    parser.add_argument("--ks", default="10,20,50,100,500")
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--target", default=None, help="ground-truth dataset (default: the source's)")
    parser.add_argument("--snapshot", action="append", default=[], metavar="STUDY_DIR=COPY_DIR")
    args = parser.parse_args()
    print("$ python " + shlex.join(sys.argv))
    for item in args.snapshot:
        study, _, copy = item.partition("=")
        print(f"snapshot of {study}: {snapshot(Path(study), Path(copy))} archs with every score, in {copy}")
    warnings.simplefilter("ignore")  # NaN imputation notices, once per fit
    for item in args.source:
        label, _, text = item.partition("=")
        sweep(label, joined(text, args.target), [int(k) for k in args.ks.split(",")], args.draws)


if __name__ == "__main__":
    main()
