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
import warnings
from dataclasses import fields, replace
from pathlib import Path

import pandas as pd

from . import api, correlate, search
from .benchmarks import load_benchmark, require_space
from .cli import MAIN_PROXIES
from .darts.run import AMENDED_RULES, config_from, run_darts
from .devices import parse_device, resolve_device
from .errors import GradnasError
from .evaluate.ensemble import DEFAULT_RANKERS, is_ensemble, parse_ensemble
from .models import load_factory
from .progress import progress_bar
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
    """The probe options given; those not given keep ProbeSpec's defaults (see cli.py)."""
    return ProbeSpec(**{f.name: getattr(args, f.name) for f in fields(ProbeSpec) if hasattr(args, f.name)})


def _device(args) -> str:
    """The --device spec, checked before any work; kept as a spec, so that "auto" and "cuda" can
    spread worker processes over several GPUs."""
    resolve_device(args.device)
    return parse_device(args.device)


def _json_number(value: float) -> float | None:
    return None if isinstance(value, float) and math.isnan(value) else value


def score(args) -> None:
    use_threads(args.threads)
    proxies = args.proxies or list(FORWARD_PROXIES)
    ensembles = [p for p in proxies if is_ensemble(p)]
    if ensembles:
        raise GradnasError(
            f"score takes proxies, not ensembles ({ensembles[0]}): an ensemble ranks many architectures; "
            "use rank --sort-by or correlate --ensemble"
        )
    (task,) = make_tasks(args.space, [args.arch], _spec(args), proxies, _device(args))
    task.spec.batch()  # bad data options fail here, before any message
    if not args.quiet:
        _note(
            f"scoring {task.arch} with {len(proxies)} proxies ({task.spec.dataset}, "
            f"batch {task.spec.batch_size}, on {resolve_device(task.device)})"
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


def _rank_rows(args, spec: ProbeSpec, threads: int) -> tuple[list, str]:
    """The scored rows and what they are; Ctrl-C writes those finished to --out and says so.
    (Own models are few and scored in this process: their rows come as one ranked frame.)"""
    device = _device(args)
    if args.models:
        candidates = {factory: load_factory(factory) for factory in args.models}
        try:
            frame = api.rank(
                candidates,
                spec.batch(),
                args.proxies,
                sort_by=args.sort_by,
                seed=spec.seed,
                dtype=DTYPES[spec.dtype],
                device=device,
            )
        except KeyboardInterrupt:
            raise Interrupted("nothing kept: your models are ranked in one go; run it again") from None
        return [frame], "models"
    archs = api.sample_archs(args.space, args.archs, spec.seed)
    rows: list[dict] = []
    stream = api.score_archs(
        archs,
        args.proxies,
        spec,
        space=args.space,
        workers=args.workers,
        progress=not args.quiet,
        threads=threads,
        device=device,
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


def _rank_defaults(args) -> None:
    """Without --proxies or --sort-by, rank by the space's default ranker (NB201: ensemble:default)
    else by MAIN_PROXIES; the members of an ensemble key are always scored."""
    if args.sort_by is None and args.proxies is None and not args.models:
        args.sort_by = DEFAULT_RANKERS.get(args.space)
    fallback = [] if is_ensemble(args.sort_by) else MAIN_PROXIES
    args.proxies = api.with_members(args.proxies or fallback, args.sort_by)


def rank(args) -> None:
    _rank_defaults(args)
    threads = use_threads(args.threads)
    api.check_sort_key(args.proxies, args.sort_by)  # before any scoring
    if args.out:
        _check_writable_file(Path(args.out))
    spec = _spec(args)
    rows, what = _rank_rows(args, spec, threads)
    frame = rows[0] if args.models else api.ranked_frame(rows, args.proxies, args.sort_by)
    if args.out:
        _write_csv(frame, args.out)
    if args.json:
        records = [{k: _json_number(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
        print(json.dumps(records, indent=2))
        return
    key = args.sort_by or args.proxies[0]
    shown = frame.head(args.top)[["rank", frame.columns[1], *dict.fromkeys([key, *args.proxies])]]
    print(
        f"top {len(shown)} of {len(frame)} {what} by {key} ({spec.dataset}, batch {spec.batch_size}, "
        f"seed {spec.seed}); {_directions(args.proxies, key)}:"
    )
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
    reasons = frame.melt(value_vars=[f"{p}_reason" for p in args.proxies], value_name="reason")["reason"]
    for reason, count in reasons.dropna().value_counts().items():
        print(f"NaN for {count} scores: {reason}")
    if args.out:
        print(f"wrote {len(frame)} rows to {args.out}")
    print(f"next: {_next_command(args, spec)}")


def _directions(proxies: list[str], key: str) -> str:
    """Which way each shown column points, and which members an ensemble key counts reversed
    (its spelling says so, but the column would otherwise read as higher-is-better)."""
    infos = get_proxies(proxies)
    if all(i.higher_is_better for i in infos):
        text = "higher is better"
    else:
        text = ", ".join(f"{i.name}: {'higher' if i.higher_is_better else 'lower'} is better" for i in infos)
    if is_ensemble(key):
        reversed_members = [m for m, weight in parse_ensemble(key).items() if weight < 0]
        if reversed_members:
            text += f"; {key} counts {', '.join(reversed_members)} reversed (lower ranks higher)"
    return text


def _next_command(args, spec: ProbeSpec) -> str:
    """The command worth running after `rank`: how well these proxies predict trained accuracy."""
    if args.models or args.space != "nb201" or spec.dataset not in ("cifar10", "cifar100"):
        return "gradnas proxies   # every proxy with its measured ranking quality"
    return (
        f"gradnas correlate --space nb201 --dataset {spec.dataset} --archs {args.archs} "
        f"--batch-size {spec.batch_size} --proxies {','.join(args.proxies)} --seed {spec.seed} "
        + (f"--ensemble {args.sort_by} " if is_ensemble(args.sort_by) else "")
        + f"--out results/nb201-{spec.dataset}   # how well these scores predict trained accuracy"
    )


def _print_report(paths: dict[str, Path]) -> None:
    print(paths["report"].read_text())
    print("wrote " + ", ".join(str(p) for p in paths.values()))


def correlate_(args) -> None:
    if args.ray_address and not args.ray:
        raise GradnasError("--ray-address needs --ray")
    threads = use_threads(args.threads)
    device = parse_device(args.device) if args.ray else _device(args)  # Ray tasks resolve it where they run
    proxies = args.proxies or ([] if args.ensemble else list(FORWARD_PROXIES))
    for name in args.ensemble:  # an ensemble's members are scored with the proxies asked for
        proxies = api.with_members(proxies, name)
    study = correlate.Study(
        tuple(proxies),
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
            device=device,
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


# each algorithm's own command-line options: (algorithm, its keyword argument, or None for the
# grids `expand` takes: k and m for KNAS, n for selection)
ALGORITHM_OPTIONS = {
    "k": ("knas", None), "m": ("knas", None), "n": ("select", None), "mutation": ("rea", "mutation"),
    "reinforce_lr": ("reinforce", "lr"), "reinforce_target": ("reinforce", "target"),
}  # fmt: skip


def _algorithm_options(args) -> dict[str, dict]:
    """The algorithms' own keyword options given on the command line (those left out keep their
    defaults, and campaign labels stay as they were); one given without its algorithm in --algo,
    which would be silently ignored, is refused."""
    chosen: dict[str, dict] = {}
    for option, (algo, keyword) in ALGORITHM_OPTIONS.items():
        value = getattr(args, option)
        if value is None:
            continue
        if algo not in args.algo:
            flag = "--" + option.replace("_", "-")
            raise GradnasError(f"{flag} applies to --algo {algo}, which is not among {','.join(args.algo)}")
        if keyword is not None:
            chosen.setdefault(algo, {})[keyword] = value
    return chosen


def search_(args) -> None:
    options = _algorithm_options(args)
    use_threads(args.threads)
    spec, device = _spec(args), _device(args)
    seed = spec.seed  # seeds the runs and, unless the deprecated --probe-seed says otherwise, the probe
    if hasattr(args, "probe_seed"):
        warnings.warn(
            "--probe-seed is deprecated: --seed now seeds the probe too", FutureWarning, stacklevel=1
        )
        spec = replace(spec, seed=args.probe_seed)
    configs = search.expand(
        args.algo,
        **{grid: values for grid, values in (("ks", args.k), ("ms", args.m), ("ns", args.n)) if values},
        options=options,
        dataset=spec.dataset,
        budget=args.budget,
        max_evals=args.max_evals,
        cost=args.cost,
        assist=args.assist,
        select_by=DEFAULT_RANKERS.get(args.space),
        pool=args.pool,
        charge_proxy=args.charge_proxy,
        runs=args.runs,
        seed=seed,
        evaluate=args.evaluate,
    )
    space = get_space(args.space)
    benchmark = None
    if args.evaluate == "table":
        benchmark = require_space(load_benchmark(args.benchmark, args.data_dir), args.space)
    out = Path(args.out)
    # trainings: seeded like the probe, stored and checkpointed under OUT/train for reuse
    training = search.Training(args.space, out / "train", spec.seed, spec.dtype, spec.data_dir)
    scores_path = Path(args.scores) if args.scores else out / "scores.sqlite"
    progress = not args.quiet
    with progress_bar(progress, total=len(configs) * args.runs, desc="search runs", unit="run") as bar:
        try:
            summary = search.run_searches(
                space,
                configs,
                benchmark,
                lambda name: search.StoredScores(
                    name,
                    scores_path,
                    args.space,
                    spec,
                    compute=not args.no_compute,
                    progress=progress,
                    device=device,
                ),
                out,
                progress=lambda run: bar.update(),
                training=training,
            )
        except KeyboardInterrupt:
            raise Interrupted(
                f"finished runs and computed scores are kept under {out}; run the same command to resume"
            ) from None
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"wrote {out / 'summary.csv'}, curves and per-run histories under {out}")


def train(args) -> None:
    from . import training

    use_threads(args.threads)
    if (args.arch is None) == (args.models is None):
        raise GradnasError("give --arch (with --space) or --models FILE.py:FACTORY, one of them")
    overrides = {name: getattr(args, name) for name in training.OVERRIDABLE}
    job = training.make_job(
        args.arch,
        space=args.space,
        model=args.models,
        dataset=args.dataset,
        recipe=args.recipe,
        seed=args.seed,
        val_fraction=args.val_fraction,
        dtype=args.dtype,
        data_dir=args.data_dir,
        **overrides,
    )
    try:
        device = _device(args)
        result, reused = training.run_with_progress(job, args.out, device=device, progress=not args.quiet)
    except KeyboardInterrupt:
        raise Interrupted(
            f"every finished epoch is checkpointed under {args.out}; run the same command again to resume"
        ) from None
    if args.json:
        row = {k: _json_number(v) if isinstance(v, float) else v for k, v in vars(result).items()}
        print(json.dumps(row | {"key": vars(result.key)}, indent=2))
        return
    for entry in result.log:
        print(
            f"epoch {entry['epoch']:>3}  lr {entry['lr']:.4g}  train loss {entry['train_loss']:.4f}  "
            f"val {_percent(entry['val_accuracy'])}  test {_percent(entry['test_accuracy'])}  "
            f"{entry['seconds']:.1f} s"
        )
    if result.reason:
        print(f"stopped: {result.reason}")
    how = "reused from the store" if reused else f"{result.seconds:.1f} s of training"
    print(
        f"{job.arch}: validation accuracy {result.val_accuracy:.2f}%, test accuracy "
        f"{result.test_accuracy:.2f}% after {result.epochs} epoch{'s' * (result.epochs != 1)} ({how}; "
        f"stored in {args.out})"
    )


def _percent(accuracy: float) -> str:
    """An epoch's accuracy; NaN where only the last epoch was evaluated (a search's training)."""
    return "not evaluated" if math.isnan(accuracy) else f"{accuracy:.2f}%"


def _print_epoch(entry: dict) -> None:
    """One row of the per-epoch table, below its header when it is the first epoch's."""
    if entry["epoch"] == 1:
        header = ("epoch", "train loss", "val loss", "none", "skip", "accuracy")
        print("  ".join(f"{h:>{w}}" for h, w in zip(header, (5, 10, 8, 6, 6, 8))) + "  arch")
    accuracy = "-" if entry["accuracy"] is None else f"{entry['accuracy']:.2f}"
    notes = " (warm-up: α frozen)" if entry["warmup"] else ""
    if entry["g2_g1_ratio"] is not None:
        notes += (
            f" (|g2'|/|g1| {entry['g2_g1_ratio']:.3g}, cos {entry['g1_g2_cos']:.2f}, η {entry['eta']:.3g})"
        )
    print(
        f"{entry['epoch']:>5}  {entry['train_loss']:>10.4f}  {entry['val_loss']:>8.4f}  "
        f"{entry['mean_none']:>6.3f}  {entry['mean_skip']:>6.3f}  {accuracy:>8}  {entry['arch']}{notes}",
        flush=True,
    )


def darts(args) -> None:
    use_threads(args.threads)
    config = config_from(args)
    if hasattr(args, "eta") and config.rule not in AMENDED_RULES:
        raise GradnasError(f"--eta applies to the rules {', '.join(AMENDED_RULES)} only, not {config.rule!r}")
    try:
        log = run_darts(config, args.out, progress=None if args.quiet else _print_epoch, device=args.device)
    except KeyboardInterrupt:
        raise Interrupted(
            f"every finished epoch is checkpointed in {args.out}; run the same command again to resume"
        ) from None
    print(f"accuracy: {log[-1]['accuracy_source']}; none, skip: mean softmax weight over the edges")
    if config.space == "darts":
        print(f"train the derived cells: gradnas train --space nb301 --arch '{log[-1]['arch']}'")
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


def predict(args) -> None:
    from . import predict as predictor
    from .outdir import atomic, make_dir

    scores = args.scores or f"table:{args.space}/{args.dataset}"
    source = predictor.open_source(
        scores, benchmark=args.benchmark, target=args.target, metric=args.metric, data_dir=args.data_dir
    )
    source.check_probe(batch_size=args.batch_size, seed=args.probe_seed)
    if isinstance(args.labels, str):
        labels = predictor.read_labels(args.labels, source.space)
    else:
        labels = predictor.draw_labels(source, args.labels, args.seed)
    proxies = [] if args.no_proxies else args.proxies
    frame = predictor.fit(source, labels, proxies=proxies, encoding=not args.no_encoding, seed=args.seed)
    if args.out:
        out = make_dir(Path(args.out))
        atomic(out / "predictions.csv", lambda tmp: frame.to_csv(tmp, index=False, float_format="%.9g"))
        atomic(out / "predictions.parquet", lambda tmp: frame.to_parquet(tmp, index=False))
    rest = frame[~frame["labelled"]]
    print(f"{source.name}: {len(labels)} labelled of {len(frame)} {source.space} archs; best predicted first")
    shown = rest.head(args.top)
    columns = ["rank", "predicted", *(["accuracy"] if "accuracy" in frame else []), "arch"]
    print(shown[columns].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    result = predictor.evaluate(frame)
    if result is not None:
        why = f" ({result.reason})" if result.reason else ""
        print(
            f"on the {result.n_used} unlabelled archs with ground truth: Spearman ρ {result.spearman:.3f}, "
            f"Kendall τ {result.kendall:.3f}{why}"
        )
    if args.out:
        print(f"wrote {Path(args.out) / 'predictions.csv'} and predictions.parquet")
