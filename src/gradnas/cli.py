"""The `gradnas` command line: parses arguments, calls the public API, prints or saves results."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from . import api, correlate, search
from .benchmarks import load_benchmark
from .darts.run import DartsConfig, config_from, run_darts
from .data.paths import DataNotFound
from .errors import GradnasError
from .models import load_factory
from .proxies import PROXIES, SEED_PROXIES
from .run.tasks import ProbeSpec, make_tasks, run_task
from .spaces import get_space

DATA_DIR_HELP = "full data directory (else $GRADNAS_DATA, else ../shared/data, else the shipped copy)"


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one name")
    return names


def _probe_options(p: argparse.ArgumentParser, dataset: str) -> None:
    p.add_argument("--space", default="nb201", help="search space (default: nb201)")
    p.add_argument(
        "--dataset",
        default=dataset,
        help=f"probe data: cifar10, cifar100, digits, synthetic, synthetic-text (default: {dataset})",
    )
    p.add_argument("--batch-size", type=int, default=128, help="probe batch size (default: 128)")
    p.add_argument(
        "--per-class",
        type=int,
        default=None,
        metavar="K",
        help="class-balanced batch: K samples from each of batch-size/K classes",
    )
    p.add_argument("--seed", type=int, default=0, help="seeds the probe draw and the network init")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)


def _spec(args) -> ProbeSpec:
    return ProbeSpec(args.dataset, args.batch_size, args.seed, args.per_class, args.dtype, args.data_dir)


def _cmd_score(args) -> None:
    (task,) = make_tasks(args.space, [args.arch], _spec(args), args.proxies)
    result = run_task(task)
    if args.json:
        out = {
            "arch": task.arch,
            "space": task.space,
            "probe": vars(task.spec),
            "seconds": result.seconds,
            "scores": {n: (None if math.isnan(s.value) else s.value) for n, s in result.scores.items()},
            "reasons": {n: s.reason for n, s in result.scores.items() if s.reason},
        }
        print(json.dumps(out, indent=2))
        return
    print(
        f"{task.arch}  ({task.spec.dataset}, batch {task.spec.batch_size} {task.spec.label}, "
        f"seed {task.spec.seed}, {result.seconds:.2f} s)"
    )
    width = max(len(n) for n in result.scores)
    for name, s in result.scores.items():
        print(f"  {name:<{width}}  {s.value:.6g}" + (f"  ({s.reason})" if s.reason else ""))


def _cmd_rank(args) -> None:
    if args.models:
        candidates = {spec: load_factory(spec) for spec in args.models}
        frame = api.rank(candidates, _spec(args).batch(), args.proxies, sort_by=args.sort_by, seed=args.seed)
        what = "models"
    else:
        archs = api.sample_archs(args.space, args.archs, args.seed)
        frame = api.rank_archs(
            archs,
            args.proxies,
            _spec(args),
            space=args.space,
            sort_by=args.sort_by,
            workers=args.workers,
            progress=not args.quiet,
        )
        what = f"{args.space} archs"
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(args.out, index=False)
    shown = frame.head(args.top)[["rank", frame.columns[1], *args.proxies]]
    print(
        f"top {len(shown)} of {len(frame)} {what} by {args.sort_by or args.proxies[0]} "
        f"({args.dataset}, batch {args.batch_size}, seed {args.seed}):"
    )
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
    reasons = frame.melt(value_vars=[f"{p}_reason" for p in args.proxies], value_name="reason")["reason"]
    for reason, count in reasons.dropna().value_counts().items():
        print(f"NaN for {count} scores: {reason}")
    if args.out:
        print(f"wrote {len(frame)} rows to {args.out}")


def _archs_count(text: str) -> int | str:
    if text == "all":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'all', got {text!r}") from None


def _print_report(paths: dict[str, Path]) -> None:
    print(paths["report"].read_text())
    print("wrote " + ", ".join(str(p) for p in paths.values()))


def _cmd_correlate(args) -> None:
    study = correlate.Study(
        tuple(args.proxies),
        args.space,
        args.benchmark,
        args.target,
        args.metric,
        args.archs,
        _spec(args),
        ensembles=tuple(args.ensemble),
    )
    _print_report(
        correlate.run_study(
            study,
            args.out,
            workers=args.workers,
            ray=args.ray,
            ray_address=args.ray_address,
            progress=not args.quiet,
        )
    )


def _numbers(kind):
    def parse(text: str) -> list:
        try:
            return [kind(v) for v in _names(text)]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None

    return parse


def _budget(text: str) -> float | None:
    return None if text == "none" else _numbers(float)(text)[0]


def _cmd_search(args) -> None:
    configs = search.expand(
        args.algo,
        ks=args.k,
        ms=args.m,
        ns=args.n,
        dataset=args.dataset,
        budget=args.budget,
        max_evals=args.max_evals,
        cost=args.cost,
        assist=args.assist,
        pool=args.pool,
        charge_proxy=args.charge_proxy,
        runs=args.runs,
        seed=args.seed,
    )
    spec = ProbeSpec(args.dataset, args.batch_size, args.probe_seed, args.per_class, "float32", args.data_dir)
    out = Path(args.out)
    scores_path = Path(args.scores) if args.scores else out / "scores.sqlite"
    summary = search.run_searches(
        get_space(args.space),
        configs,
        load_benchmark(args.space, args.data_dir),
        lambda name: search.StoredScores(name, scores_path, args.space, spec, compute=not args.no_compute),
        out,
    )
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"wrote {out / 'summary.csv'}, curves and per-run histories under {out}")


def _print_epoch(entry: dict) -> None:
    """One row of the per-epoch table, below its header when it is the first epoch's."""
    if entry["epoch"] == 1:
        header = ("epoch", "train loss", "val loss", "none", "skip", "accuracy")
        print("  ".join(f"{h:>{w}}" for h, w in zip(header, (5, 10, 8, 6, 6, 8))) + "  arch")
    accuracy = "-" if entry["accuracy"] is None else f"{entry['accuracy']:.2f}"
    print(
        f"{entry['epoch']:>5}  {entry['train_loss']:>10.4f}  {entry['val_loss']:>8.4f}  "
        f"{entry['mean_none']:>6.3f}  {entry['mean_skip']:>6.3f}  {accuracy:>8}  {entry['arch']}",
        flush=True,
    )


def _cmd_darts(args) -> None:
    config = config_from(args)
    log = run_darts(config, args.out, progress=_print_epoch)
    print(f"accuracy: {log[-1]['accuracy_source']}; none, skip: mean softmax weight over the edges")
    print(f"wrote {Path(args.out) / 'log.jsonl'}, log.csv, alphas.png and checkpoint.pt")


def _cmd_report(args) -> None:
    _print_report(correlate.report(args.out_dir))


def _cmd_proxies(args) -> None:
    for info in PROXIES.values():
        direction = "higher" if info.higher_is_better else "lower"
        needs = "labels" if info.needs_labels else "no labels"
        inputs = ",".join(info.ingredients) or "model only"
        print(
            f"{info.name:<25} {direction}-is-better  batch {info.batch_size:<4} {needs:<9} "
            f"v{info.version}  [{inputs}]  {info.paper}\n    {info.summary}"
        )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="gradnas", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("score", help="score one architecture with several proxies (one pass)")
    p.add_argument("--arch", required=True, help="architecture string, e.g. NB201 '|op~0|+|op~0|op~1|+|...|'")
    p.add_argument(
        "--proxies",
        type=_names,
        default=list(SEED_PROXIES),
        help="comma-separated (default: the nine seed proxies)",
    )
    p.add_argument("--json", action="store_true", help="print JSON (NaN as null, with reasons)")
    _probe_options(p, "cifar10")
    p.set_defaults(run=_cmd_score)

    p = sub.add_parser("rank", help="sample architectures, score them all, print the best")
    p.add_argument("--archs", type=int, default=100, help="how many to sample (default: 100)")
    p.add_argument(
        "--models",
        nargs="+",
        default=None,
        metavar="FILE.py:FACTORY",
        help="rank your own models instead: factories in a Python file, each returning an nn.Module",
    )
    p.add_argument("--proxies", type=_names, default=["gradsign"], help="comma-separated (default: gradsign)")
    p.add_argument("--sort-by", default=None, help="proxy to rank by (default: the first)")
    p.add_argument("--top", type=int, default=10, help="rows to print (default: 10)")
    p.add_argument("--out", default=None, help="write every row as CSV here")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _probe_options(p, "digits")
    p.set_defaults(run=_cmd_rank)

    p = sub.add_parser("correlate", help="score many archs (resumable store) and correlate with ground truth")
    p.add_argument("--archs", type=_archs_count, default=1000, help="how many, or 'all' (default: 1000)")
    p.add_argument(
        "--proxies",
        type=_names,
        default=list(SEED_PROXIES),
        help="comma-separated (default: the seed proxies)",
    )
    p.add_argument(
        "--out", default="results", help="study directory: store, tables, plots (default: results)"
    )
    p.add_argument(
        "--benchmark",
        default="nb201",
        help="'nb201', a table (.csv, .parquet) with an arch column, an NB101 .npz or an NDS .json",
    )
    p.add_argument("--target", default=None, help="benchmark dataset column (default: the probe dataset)")
    p.add_argument(
        "--metric",
        default="test_accuracy",
        help="benchmark metric, e.g. val_accuracy (default: test_accuracy)",
    )
    p.add_argument(
        "--ensemble",
        action="append",
        default=[],
        metavar="ensemble:A+B[*W]",
        help="also rank by the mean rank percentile of these proxies (repeatable)",
    )
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    p.add_argument("--ray", action="store_true", help="run the tasks on Ray (pip install 'gradnas[ray]')")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: a local instance)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _probe_options(p, "cifar10")
    p.set_defaults(run=_cmd_correlate)

    p = sub.add_parser("search", help="run searches on a simulated clock (NB201 table lookups)")
    p.add_argument(
        "--algo", type=_names, required=True, help=f"comma-separated: {', '.join(search.ALGORITHMS)}"
    )
    p.add_argument(
        "--assist", default=None, help="screening proxy or ensemble:A+B (G-variants, knas, select)"
    )
    p.add_argument(
        "--budget", type=_budget, default=12000.0, help="simulated seconds, or 'none' (default: 12000)"
    )
    p.add_argument("--max-evals", type=int, default=None, help="also stop after this many evaluations")
    p.add_argument("--cost", default="knas", help="seconds per evaluation: knas, fixed:SECONDS, benchmark")
    p.add_argument("--runs", type=int, default=100, help="independent seeded runs (default: 100)")
    p.add_argument("--seed", type=int, default=0, help="seeds the runs (run r uses [seed, r])")
    p.add_argument("--pool", type=int, default=10, help="candidates screened per G-step (default: 10)")
    p.add_argument("--charge-proxy", action="store_true", help="charge proxy seconds to the clock too")
    p.add_argument(
        "--k", type=_numbers(int), default=[40], help="KNAS: archs kept and evaluated (e.g. 20,40)"
    )
    p.add_argument("--m", type=_numbers(int), default=[1000], help="KNAS: archs sampled (default: 1000)")
    p.add_argument("--n", type=_numbers(int), default=[100], help="select: candidates (e.g. 10,100,1000)")
    p.add_argument("--out", default="results/search", help="output directory (default: results/search)")
    p.add_argument(
        "--scores", default=None, help="score store to read and extend (default: OUT/scores.sqlite)"
    )
    p.add_argument("--no-compute", action="store_true", help="fail instead of computing missing proxy scores")
    p.add_argument("--space", default="nb201", help="search space (default: nb201)")
    p.add_argument("--dataset", default="cifar10", help="benchmark dataset and probe data (default: cifar10)")
    p.add_argument(
        "--batch-size", type=int, default=128, help="probe batch size for the proxy (default: 128)"
    )
    p.add_argument("--per-class", type=int, default=None, metavar="K", help="class-balanced probe batch")
    p.add_argument("--probe-seed", type=int, default=0, help="seeds the probe batch and network init")
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.set_defaults(run=_cmd_search)

    p = sub.add_parser("darts", help="differentiable NB201 search (resumes from --out's checkpoint)")
    d = "(default: %(default)s)"
    p.add_argument("--rule", default=DartsConfig.rule, help=f"first, second, amended, amended_fd {d}")
    p.add_argument("--eta", type=float, default=DartsConfig.eta, help=f"η of the amended rules {d}")
    p.add_argument("--epochs", type=int, default=DartsConfig.epochs, help=d)
    p.add_argument(
        "--seed", type=int, default=DartsConfig.seed, help="seeds the data draw, init and shuffling"
    )
    p.add_argument("--space", default=DartsConfig.space, help=f"search space {d}")
    p.add_argument(
        "--dataset", default=DartsConfig.dataset, help=f"cifar10, or digits (no NB201 accuracy) {d}"
    )
    p.add_argument(
        "--samples", type=int, default=DartsConfig.samples, help=f"images, half for w, half for α {d}"
    )
    p.add_argument(
        "--size", type=int, default=DartsConfig.size, help=f"average-pool larger images to SIZE² {d}"
    )
    p.add_argument("--batch-size", type=int, default=DartsConfig.batch_size, help=d)
    p.add_argument("--C", type=int, default=DartsConfig.C, help=f"supernet width {d}")
    p.add_argument("--N", type=int, default=DartsConfig.N, help=f"search cells per stage {d}")
    p.add_argument("--out", required=True, help="output directory: config, checkpoint, logs, alphas.png")
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.set_defaults(run=_cmd_darts)

    p = sub.add_parser("report", help="rebuild a study's tables and plots from its store")
    p.add_argument("out_dir", help="the study directory written by `gradnas correlate`")
    p.set_defaults(run=_cmd_report)

    p = sub.add_parser("proxies", help="list the registered proxies")
    p.set_defaults(run=_cmd_proxies)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except GradnasError as err:
        print(f"gradnas: error: {err.for_cli() if isinstance(err, DataNotFound) else err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
