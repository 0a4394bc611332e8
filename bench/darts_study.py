"""The NB201 differentiable-search study: every variant × seed, resumable, one JSONL row per finished run.

A variant is a rule with optional DartsConfig settings, written RULE or RULE:KEY=VALUE[,KEY=VALUE]
(for instance `amended:eta_ratio=1` or `first:beta_decay=50`). The runs go seed by seed and, within
a seed, variant by variant, each into OUT/<variant>-s<seed>/ (`run_darts` resumes from its last
checkpoint); each finished run appends to the --ledger JSONL (kept in the repository, so the study
continues on any machine) its settings, final α, derived cell, NB201 test accuracy, collapse flag,
per-epoch accuracy of the derived cell, η ratio and cosine, its α steps and its seconds (in all, and
in the epochs that step α, which the table's "s per α step" divides: a whole search iteration, α
step and weight step). A re-run skips the runs already in the ledger with the same settings, so the
study can be stopped and continued at any time; the table counts only the rows with this run's
settings. `--part K/N` runs only every N-th (seed, variant) job from the K-th, so N processes share
the study and its ledger (each finished run is one short append; the ledger is re-read before every
run); a run without `--part` then prints the table, and `--table` prints it at once from the runs
the ledger holds.

Collapse (fixed before the study): the derived cell (argmax over all five ops) has at least 4 of its
6 edges parameter-free (`none`, `skip_connect` or `avg_pool_3x3`). The table gives, per variant,
the runs, the collapse rate, the mean number of `skip_connect` and of `none` edges in the derived
cells (which kind of collapse), and the mean NB201 accuracy of the derived cell, and of the cell
derived without `none`, each with a percentile-bootstrap 95 % interval (10,000 resamples of the
runs, seeded), and for the amended rules the median over all search epochs of ‖g2'‖/‖g1‖.

    OMP_NUM_THREADS=1 python bench/darts_study.py --variants first second amended first:beta_decay=50 \
        amended:eta_ratio=1 amended:eta=0.01 --seeds 0,1,2,3,4 --warmup-epochs 10 --epochs 139 \
        --samples 10000 --C 8 --N 1 --size 16 --augment --out results/darts-study
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np

from darts_common import add_problem_options, markdown, start
from gradnas.darts.run import DartsConfig, config_from, run_darts
from gradnas.spaces import get_space
from gradnas.spaces.nb201 import OPS
from parts import part

PARAMETER_FREE = ("none", "skip_connect", "avg_pool_3x3")
COLLAPSE_EDGES = 4  # of 6
LEDGER = Path("docs/data/darts-study.jsonl")
ACCURACIES = ("accuracy", "accuracy_exclude_none")  # of the derived cell, and of the one without none


def parse_variant(text: str) -> dict[str, Any]:
    """`RULE[:KEY=VALUE,...]` as DartsConfig overrides, values typed like the field's default."""
    rule, _, settings = text.partition(":")
    overrides: dict[str, Any] = {"rule": rule}
    types = {f.name: type(f.default) for f in fields(DartsConfig)}
    for item in filter(None, settings.split(",")):
        key, _, value = item.partition("=")
        if key not in types:
            raise SystemExit(f"unknown setting {key!r} in variant {text!r}")
        if types[key] is bool:
            overrides[key] = value.lower() in ("1", "true", "yes")
        else:
            overrides[key] = float(value) if types[key] in (float, type(None)) else types[key](value)
    return overrides


def cell_ops(arch: str) -> list[str]:
    """The op on each of the cell's 6 edges."""
    return [OPS[i] for i in get_space("nb201").parse(arch).ops]


def collapsed(arch: str) -> bool:
    return sum(op in PARAMETER_FREE for op in cell_ops(arch)) >= COLLAPSE_EDGES


def mean_interval(values: list[float]) -> str:
    """`mean [low, high]` with the bootstrap interval, or — without values."""
    if not values:
        return "—"
    low, high = bootstrap_interval(values)
    return f"{sum(values) / len(values):.2f} [{low:.2f}, {high:.2f}]"


def bootstrap_interval(values: list[float], seed: int = 0, resamples: int = 10_000) -> tuple[float, float]:
    """The 2.5 and 97.5 percentiles of the mean over `resamples` resamples with replacement."""
    data = np.asarray(values, dtype=float)
    draws = np.random.default_rng(seed).integers(0, len(data), (resamples, len(data)))
    low, high = np.percentile(data[draws].mean(axis=1), [2.5, 97.5])
    return float(low), float(high)


def settings(config: DartsConfig) -> dict[str, Any]:
    """What makes runs of one study comparable: every setting but the seed and where the data is,
    as it reads back from JSON."""
    chosen = {k: v for k, v in asdict(config).items() if k not in ("seed", "data_dir")}
    return json.loads(json.dumps(chosen))


def key(variant: str, seed: int, chosen: dict[str, Any]) -> str:
    return json.dumps([variant, seed, chosen], sort_keys=True)


def job(args: argparse.Namespace, seed: int, variant: str) -> tuple[DartsConfig, str]:
    """One run's config and its ledger key."""
    config = config_from(args, seed=seed, **parse_variant(variant))
    return config, key(variant, seed, settings(config))


def finished(ledger: Path) -> dict[str, dict[str, Any]]:
    """The ledger's runs by key, read afresh: other processes may be appending to it."""
    lines = ledger.read_text().splitlines() if ledger.exists() else []
    return {key(r["variant"], r["seed"], r["settings"]): r for r in map(json.loads, lines)}


def row(variant: str, seed: int, config: DartsConfig, log: list[dict[str, Any]]) -> dict[str, Any]:
    last = log[-1]
    steps_per_epoch = (config.samples // 2) // config.batch_size
    return {
        "variant": variant,
        "seed": seed,
        "settings": settings(config),
        "alpha_steps": steps_per_epoch * (config.epochs - config.warmup_epochs),
        "seconds": sum(entry["seconds"] for entry in log),
        "search_seconds": sum(entry["seconds"] for entry in log if not entry["warmup"]),
        "arch": last["arch"],
        "accuracy": last["accuracy"],
        "collapsed": collapsed(last["arch"]),
        "arch_exclude_none": last["arch_exclude_none"],
        "accuracy_exclude_none": last["accuracy_exclude_none"],
        "mean_skip": last["mean_skip"],
        "mean_none": last["mean_none"],
        "alpha": last["alpha"],
        "accuracy_by_epoch": [entry["accuracy"] for entry in log],
        "ratio": [entry["g2_g1_ratio"] for entry in log],
        "cos": [entry["g1_g2_cos"] for entry in log],
    }


def table(rows: list[dict[str, Any]], variants: list[str]) -> str:
    lines = []
    for variant in variants:
        runs = [r for r in rows if r["variant"] == variant]
        if not runs:
            continue
        rate = sum(r["collapsed"] for r in runs) / len(runs)
        seconds = sum(r["search_seconds"] for r in runs) / sum(r["alpha_steps"] for r in runs)
        ops = [cell_ops(r["arch"]) for r in runs]
        skips, nones = (np.mean([cell.count(op) for cell in ops]) for op in ("skip_connect", "none"))
        accuracies = ([r[key] for r in runs if r.get(key) is not None] for key in ACCURACIES)
        ratios = [x for r in runs for x in r["ratio"] if x is not None]
        lines.append(
            [f"`{variant}`", len(runs), f"{rate:.0%}", f"{skips:.1f} / {nones:.1f}"]
            + [mean_interval(values) for values in accuracies]
            + [f"{np.median(ratios):.2f}" if ratios else "—", f"{seconds:.3f}"]
        )
    header = ["variant", "runs", "collapse rate", "skip / none edges (mean)"]
    header += ["mean accuracy [95 % bootstrap]", "excluding none", "median ‖g2'‖/‖g1‖", "s per α step"]
    return markdown(header, lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_problem_options(p, DartsConfig.C, DartsConfig.N, DartsConfig.size, DartsConfig.batch_size)
    p.add_argument("--variants", nargs="+", default=["first", "second", "amended"], help="RULE[:K=V,...]")
    p.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=DartsConfig.epochs, help="default: %(default)s")
    p.add_argument("--warmup-epochs", type=int, default=0, help="weights-only epochs first (default: 0)")
    p.add_argument("--samples", type=int, default=DartsConfig.samples, help="default: %(default)s")
    p.add_argument("--augment", action="store_true", help="DARTS's crop and flip of the search batches")
    p.add_argument("--out", default="results/darts-study", help="runs and checkpoints (default: %(default)s)")
    p.add_argument("--ledger", type=Path, default=LEDGER, help="finished runs (default: %(default)s)")
    p.add_argument(
        "--part", default=None, metavar="K/N", help="run only jobs K, K+N, ... of seed × variant; no table"
    )
    p.add_argument("--table", action="store_true", help="only print the table of the runs in the ledger")
    args = p.parse_args()
    start(args)
    jobs = [(seed, variant) for seed in (int(s) for s in args.seeds.split(",")) for variant in args.variants]
    for seed, variant in [] if args.table else part(jobs, args.part):
        config, run_key = job(args, seed, variant)
        if run_key in finished(args.ledger):
            continue
        log = run_darts(config, Path(args.out) / f"{variant.replace(':', '-')}-s{seed}")
        done = row(variant, seed, config, log)
        args.ledger.parent.mkdir(parents=True, exist_ok=True)
        with args.ledger.open("a") as f:  # one short append: safe beside other processes
            f.write(json.dumps(done) + "\n")
        print(f"{variant} seed {seed}: {done['accuracy']} ({done['seconds']:.1f} s)", flush=True)
    if args.part:
        print(f"part {args.part} done; run without --part for the table")
        return
    ledger = finished(args.ledger)
    keys = [job(args, seed, variant)[1] for seed, variant in jobs]
    rows = [ledger[k] for k in keys if k in ledger]
    print(f"\n{table(rows, args.variants)}")


if __name__ == "__main__":
    main()
