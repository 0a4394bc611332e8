"""What each `gradnas` command does once its arguments are parsed (see cli.py for the options).

Imported only when a command runs, so `gradnas --help` never loads torch. A command that is
interrupted saves what it finished and raises `Interrupted` with one line saying what was kept and
how to resume.
"""

from __future__ import annotations

import json
import math
import os
import sys
import textwrap
from pathlib import Path

import pandas as pd

from . import api, correlate, search
from .benchmarks import load_benchmark
from .darts.run import config_from, run_darts
from .errors import GradnasError
from .models import load_factory
from .proxies import FORWARD_PROXIES, PROXIES, get_proxies
from .proxies.measured import WHERE, other_samples, rho_text
from .run.tasks import DTYPES, ProbeSpec, make_tasks, run_task
from .run.threads import use_threads
from .spaces import get_space


class Interrupted(Exception):
    """Ctrl-C, after the command kept what it had finished; the message says what and how to resume."""


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _spec(args) -> ProbeSpec:
    return ProbeSpec(args.dataset, args.batch_size, args.seed, args.per_class, args.dtype, args.data_dir)


def _json_number(value: float) -> float | None:
    return None if isinstance(value, float) and math.isnan(value) else value


def score(args) -> None:
    use_threads(args.threads)
    proxies = args.proxies or list(FORWARD_PROXIES)
    (task,) = make_tasks(args.space, [args.arch], _spec(args), proxies)
    task.spec.batch()  # bad data options fail here, before any message
    if not args.quiet:
        _note(
            f"scoring {task.arch} with {len(proxies)} proxies ({task.spec.dataset}, batch {args.batch_size})"
        )
    try:
        result = run_task(task)
    except KeyboardInterrupt:
        raise Interrupted("nothing to keep: one architecture is scored in one pass; run it again") from None
    if args.json:
        out = {
            "arch": task.arch,
            "space": task.space,
            "probe": vars(task.spec),
            "seconds": result.seconds,
            "scores": {n: _json_number(s.value) for n, s in result.scores.items()},
            "reasons": {n: s.reason for n, s in result.scores.items() if s.reason},
        }
        print(json.dumps(out, indent=2))
        return
    print(
        f"{task.arch}  ({task.spec.dataset}, batch {task.spec.batch_size} {task.spec.label}, "
        f"seed {task.spec.seed}, {result.seconds:.2f} s; higher is better)"
    )
    width = max(len(n) for n in result.scores)
    for name, s in result.scores.items():
        print(f"  {name:<{width}}  {s.value:.6g}" + (f"  ({s.reason})" if s.reason else ""))


def _rank_rows(args, threads: int) -> tuple[list, str]:
    """The scored rows and what they are; Ctrl-C writes those finished to --out and says so.
    (Own models are few and scored in this process: their rows come as one ranked frame.)"""
    if args.models:
        candidates = {spec: load_factory(spec) for spec in args.models}
        batch = _spec(args).batch()
        try:
            frame = api.rank(
                candidates,
                batch,
                args.proxies,
                sort_by=args.sort_by,
                seed=args.seed,
                dtype=DTYPES[args.dtype],
            )
        except KeyboardInterrupt:
            raise Interrupted("nothing kept: your models are ranked in one go; run it again") from None
        return [frame], "models"
    archs = api.sample_archs(args.space, args.archs, args.seed)
    rows: list[dict] = []
    stream = api.score_archs(
        archs,
        args.proxies,
        _spec(args),
        space=args.space,
        workers=args.workers,
        progress=not args.quiet,
        threads=threads,
    )
    try:
        rows.extend(stream)
    except KeyboardInterrupt:
        kept = api.ranked_frame(rows, args.proxies, args.sort_by) if rows else None
        if args.out and kept is not None:
            _write_csv(kept, args.out)
            where = f"wrote the {len(rows)} finished rows to {args.out}"
        else:
            where = "use --out FILE to keep finished rows"
        raise Interrupted(
            f"stopped after {len(rows)}/{len(archs)} architectures; {where}; for a run that resumes "
            f"where it stopped, use `gradnas correlate --out DIR` (it stores every score)"
        ) from None
    return rows, f"{args.space} archs"


def _check_writable_file(path: Path) -> None:
    """Refuse, before any scoring, an output file that could not be written."""
    if path.is_dir():
        raise GradnasError(f"--out {path} is a directory; give a file name, e.g. {path / 'ranked.csv'}")
    folder = next((p for p in path.absolute().parents if p.exists()), Path("/"))
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise GradnasError(f"--out {path}: cannot write into {folder}")


def _write_csv(frame: pd.DataFrame, path: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def rank(args) -> None:
    threads = use_threads(args.threads)
    api.check_sort_key(args.proxies, args.sort_by)  # before any scoring
    if args.out:
        _check_writable_file(Path(args.out))
    rows, what = _rank_rows(args, threads)
    frame = rows[0] if args.models else api.ranked_frame(rows, args.proxies, args.sort_by)
    if args.out:
        _write_csv(frame, args.out)
    if args.json:
        records = [{k: _json_number(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
        print(json.dumps(records, indent=2))
        return
    key = args.sort_by or args.proxies[0]
    shown = frame.head(args.top)[["rank", frame.columns[1], *args.proxies]]
    print(
        f"top {len(shown)} of {len(frame)} {what} by {key} ({args.dataset}, batch {args.batch_size}, "
        f"seed {args.seed}); {_directions(args.proxies)}:"
    )
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
    reasons = frame.melt(value_vars=[f"{p}_reason" for p in args.proxies], value_name="reason")["reason"]
    for reason, count in reasons.dropna().value_counts().items():
        print(f"NaN for {count} scores: {reason}")
    if args.out:
        print(f"wrote {len(frame)} rows to {args.out}")
    print(f"next: {_next_command(args)}")


def _directions(proxies: list[str]) -> str:
    infos = get_proxies(proxies)
    if all(i.higher_is_better for i in infos):
        return "higher is better"
    return ", ".join(f"{i.name}: {'higher' if i.higher_is_better else 'lower'} is better" for i in infos)


def _next_command(args) -> str:
    """The command worth running after `rank`: how well these proxies predict trained accuracy."""
    if args.models or args.space != "nb201":
        return "gradnas proxies   # every proxy with its measured ranking quality"
    return (
        f"gradnas correlate --space nb201 --dataset {args.dataset} --archs {args.archs} "
        f"--batch-size {args.batch_size} --proxies {','.join(args.proxies)} --seed {args.seed} "
        f"--out results/nb201-{args.dataset}   # how well these scores predict trained accuracy"
    )


def _print_report(paths: dict[str, Path]) -> None:
    print(paths["report"].read_text())
    print("wrote " + ", ".join(str(p) for p in paths.values()))


def correlate_(args) -> None:
    threads = use_threads(args.threads)
    study = correlate.Study(
        tuple(args.proxies or FORWARD_PROXIES),
        args.space,
        args.benchmark,
        args.target,
        args.metric,
        args.archs,
        _spec(args),
        ensembles=tuple(args.ensemble),
        draw=args.arch_draw,
    )
    try:
        paths = correlate.run_study(
            study,
            args.out,
            workers=args.workers,
            ray=args.ray,
            ray_address=args.ray_address,
            progress=not args.quiet,
            threads=threads,
            log=_note,
        )
    except KeyboardInterrupt:
        try:
            done, total = correlate.stored_count(args.out)
            kept = f"{done}/{total} architectures stored in {Path(args.out) / correlate.STORE_FILE}"
        except Exception:  # noqa: BLE001  interrupted before the study was written: nothing stored yet
            kept = "nothing stored yet"
        raise Interrupted(f"{kept}; run the same command again to resume") from None
    _print_report(paths)


def report(args) -> None:
    _print_report(correlate.report(args.out_dir))


def search_(args) -> None:
    from tqdm import tqdm

    use_threads(args.threads)
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
    spec = ProbeSpec(
        args.dataset, args.batch_size, args.probe_seed, args.per_class, args.dtype, args.data_dir
    )
    benchmark = load_benchmark(args.benchmark, args.data_dir)
    holds = getattr(benchmark, "space", "nb201" if benchmark.name == "nb201" else None)
    if holds not in (None, args.space):
        raise GradnasError(
            f"benchmark {benchmark.name!r} holds {holds} architectures, not {args.space}: give --benchmark"
        )
    out = Path(args.out)
    scores_path = Path(args.scores) if args.scores else out / "scores.sqlite"
    progress = not args.quiet
    with tqdm(total=len(configs) * args.runs, desc="search runs", unit="run", disable=not progress) as bar:
        try:
            summary = search.run_searches(
                get_space(args.space),
                configs,
                benchmark,
                lambda name: search.StoredScores(
                    name, scores_path, args.space, spec, compute=not args.no_compute, progress=progress
                ),
                out,
                progress=lambda run: bar.update(),
            )
        except KeyboardInterrupt:
            raise Interrupted(
                f"finished runs and computed scores are kept under {out}; run the same command to resume"
            ) from None
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


def darts(args) -> None:
    use_threads(args.threads)
    config = config_from(args)
    try:
        log = run_darts(config, args.out, progress=None if args.quiet else _print_epoch)
    except KeyboardInterrupt:
        raise Interrupted(
            f"every finished epoch is checkpointed in {args.out}; run the same command again to resume"
        ) from None
    print(f"accuracy: {log[-1]['accuracy_source']}; none, skip: mean softmax weight over the edges")
    print(f"wrote {Path(args.out) / 'log.jsonl'}, log.csv, alphas.png and checkpoint.pt")


def proxies(args) -> None:
    for info in PROXIES.values():
        direction = "higher" if info.higher_is_better else "lower"
        needs = "labels" if info.needs_labels else "no labels"
        inputs = ",".join(info.ingredients) or "model only"
        print(
            f"{info.name:<25} {direction} is better  {rho_text(info.name):<27} batch {info.batch_size:<4} "
            f"{needs:<9} v{info.version}  [{inputs}]  {info.paper}"
        )
        print(textwrap.fill(info.summary, width=100, initial_indent="    ", subsequent_indent="    "))
    print(
        f"\nρ: signed Spearman correlation with NAS-Bench-201 test accuracy on CIFAR-10 (C10) and "
        f"CIFAR-100 (C100), measured on {WHERE} ({other_samples()}); a negative ρ ranks "
        "backwards. Tables and commands: docs/results-ranking.md."
    )
