"""Correlation studies: score many architectures, store every score, compare with ground truth.

A study's configuration is saved beside its SQLite store (`study.json`, `scores.sqlite`), so
re-running it skips every stored score (a killed run resumes where it stopped) and
`report(out_dir)` rebuilds the tables and plots from the store alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .benchmarks import load_benchmark, require_space
from .benchmarks.suite_zero import gradnas_name
from .devices import DEFAULT_DEVICE
from .errors import GradnasError, unknown_choice
from .evaluate.ensemble import ensemble_values, parse_ensemble
from .evaluate.published import published_for
from .evaluate.report import write_report
from .outdir import claim, make_dir, read_config, refuse
from .proxies import get_proxies
from .run.executor import execute
from .run.store import ScoreKey, Store
from .run.tables import fill_store
from .run.tasks import ProbeSpec, ScoreTask, make_tasks, score_keys, stored_rows

STUDY_FILE, STORE_FILE = "study.json", "scores.sqlite"
COPY_FILE = "scores.csv.gz"  # a compact copy of a study's scores, kept beside its study.json
DRAWS = ("nested", "choice")


@dataclass(frozen=True)
class Study:
    """What to score and what to compare with. `archs`: a count to sample with `seed`, or "all"."""

    proxies: tuple[str, ...]
    space: str = "nb201"
    benchmark: str = "nb201"
    target: str | None = None  # the benchmark's dataset column; default: the probe dataset
    metric: str = "test_accuracy"  # which of the benchmark's metrics to compare with
    archs: int | str = 1000
    probe: ProbeSpec = ProbeSpec()
    ensembles: tuple[str, ...] = ()  # rank-aggregation names, e.g. "ensemble:gradsign+naswot"
    draw: str = "nested"  # how `archs` are drawn: "nested" (prefix-stable) or "choice" (older studies)

    def __post_init__(self) -> None:
        if self.draw not in DRAWS:
            raise unknown_choice("draw", self.draw, DRAWS)
        if self.archs == "all":  # every architecture, in the benchmark's order: no draw at all
            object.__setattr__(self, "draw", "nested")
        for name in self.ensembles:
            unknown = set(parse_ensemble(name)) - set(self.proxies)
            if unknown:
                raise GradnasError(f"{name}: {', '.join(sorted(unknown))} must also be among the proxies")

    @property
    def target_dataset(self) -> str:
        return self.target or self.probe.dataset

    def to_json(self) -> dict:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_json(cls, raw: dict, where: Path) -> Study:
        """A study from its JSON form; a study saved before `draw` existed drew with "choice"."""
        try:
            raw = {"draw": "choice", **raw}
            tuples = {"proxies": tuple(raw["proxies"]), "ensembles": tuple(raw.get("ensembles", ()))}
            return cls(**{**raw, **tuples, "probe": ProbeSpec(**raw["probe"])})
        except (KeyError, TypeError) as err:
            raise GradnasError(f"{where} is not a study: {err}") from err

    def claim(self, out_dir: Path) -> Study:
        """Make `out_dir` this study's folder: the same probe, space, benchmark and metric resume;
        proxies, ensembles and architectures are added to what is there (a run with more extends
        it, concurrent runs with different proxies share it); anything else is an error. Returns
        the folder's study, which covers this one."""
        path = out_dir / STUDY_FILE

        def merge(found: dict, wanted: dict) -> dict:
            there = Study.from_json(found, path)
            if _identity(there) != _identity(self):
                raise refuse(path, _identity(there), _identity(self))
            return replace(
                self,
                proxies=tuple(dict.fromkeys(there.proxies + self.proxies)),
                ensembles=tuple(dict.fromkeys(there.ensembles + self.ensembles)),
                archs=_more(there.archs, self.archs),
            ).to_json()

        return Study.from_json(claim(path, self.to_json(), merge=merge), path)

    @classmethod
    def load(cls, out_dir: Path) -> Study:
        path = out_dir / STUDY_FILE
        if not path.is_file():
            raise GradnasError(f"{out_dir} holds no study ({STUDY_FILE} is missing): run `gradnas correlate`")
        return cls.from_json(read_config(path), path)


def _identity(study: Study) -> dict:
    """What two runs must share to write into one study folder (the data folder may move)."""
    fields = study.to_json()
    for name in ("proxies", "ensembles", "archs"):
        del fields[name]
    fields.update({f"probe.{k}": v for k, v in fields.pop("probe").items() if k != "data_dir"})
    return fields


def _more(a: int | str, b: int | str) -> int | str:
    return "all" if "all" in (a, b) else max(int(a), int(b))


def _benchmark(study: Study):
    """The study's ground truth; a table's columns are taken to hold the study's metric."""
    benchmark = load_benchmark(study.benchmark, study.probe.data_dir, table_metric=study.metric)
    return require_space(benchmark, study.space)


def study_archs(study: Study, benchmark) -> list[str]:
    """Every architecture of the benchmark, or `archs` of them drawn without replacement."""
    pool = benchmark.archs()
    if study.archs == "all":
        return pool
    n = int(study.archs)
    if not 1 <= n <= len(pool):
        raise GradnasError(f"archs must be between 1 and {len(pool)} (or 'all'), got {n}")
    rng = np.random.default_rng(study.probe.seed)
    if study.draw == "choice":
        chosen = rng.choice(len(pool), n, replace=False)
    else:  # the first n of one seeded permutation: a larger count extends a smaller one
        chosen = rng.permutation(len(pool))[:n]
    return [pool[i] for i in chosen]


def _missing(tasks: list[ScoreTask], done: set[ScoreKey]) -> list[ScoreTask]:
    """The tasks still to run, each asking only for its proxies without a stored score."""
    todo = []
    for task in tasks:
        names = tuple(n for n, k in zip(task.proxies, score_keys(task)) if k not in done)
        if names:
            todo.append(replace(task, proxies=names))
    return todo


def run_study(
    study: Study,
    out_dir: str | Path,
    *,
    workers: int | str | None = None,
    ray: bool = False,
    ray_address: str | None = None,
    progress: bool = True,
    threads: int = 1,
    log: Callable[[str], None] | None = None,
    device: str = DEFAULT_DEVICE,
) -> dict[str, Path]:
    """Score what the store lacks (each architecture committed as it finishes) on `device` (a spec
    of gradnas.devices; not part of a score's key), then report. `log` receives one line saying how
    much was already stored when the run resumes a study."""
    out = make_dir(Path(out_dir))
    benchmark = _benchmark(study)
    benchmark.query(benchmark.archs()[0], study.target_dataset, study.metric)  # unknown names fail now
    archs = study_archs(study, benchmark)
    _check_truth(benchmark, archs, study)
    tasks = make_tasks(study.space, archs, study.probe, list(study.proxies), device)
    beyond = _beyond(study.claim(out), study)
    if log is not None and beyond:
        log(f"{out / STUDY_FILE} also covers {beyond} of other runs; `gradnas report {out}` shows all")
    with Store(out / STORE_FILE) as store:
        shipped = fill_store(store, study.space, study.probe, study.proxies, [t.arch for t in tasks])
        if log is not None and shipped:
            log(f"{shipped} scores taken from the shipped {study.space}/{study.probe.dataset} score table")
        todo = _missing(tasks, store.existing(k for t in tasks for k in score_keys(t)))
        if log is not None and len(todo) < len(tasks):
            log(f"resuming: {len(tasks) - len(todo)}/{len(tasks)} architectures stored in {out / STORE_FILE}")
        for result in execute(
            todo,
            workers=workers,
            ray=ray,
            ray_address=ray_address,
            progress=progress,
            description=f"scoring {study.probe.dataset}",
            threads=threads,
        ):
            store.put_many(stored_rows(result))
    return report(out, study)


def _check_truth(benchmark, archs: list[str], study: Study) -> None:
    """Every architecture must have a ground-truth value: found before scoring, not after."""
    truth = np.asarray(benchmark.query_many(archs, study.target_dataset, study.metric), dtype=float)
    missing = [a for a, value in zip(archs, truth) if not np.isfinite(value)]
    if missing:
        shown = ", ".join(repr(a) for a in missing[:3]) + (", ..." if len(missing) > 3 else "")
        raise GradnasError(
            f"benchmark {benchmark.name!r} has no {study.target_dataset} {study.metric} (NaN) for "
            f"{len(missing)} of the {len(archs)} architectures: {shown}"
        )


def stored_count(out_dir: str | Path) -> tuple[int, int]:
    """(architectures with every score stored, architectures in the study) of a study folder."""
    out = Path(out_dir)
    study = Study.load(out)
    benchmark = _benchmark(study)
    tasks = make_tasks(study.space, study_archs(study, benchmark), study.probe, list(study.proxies))
    with Store(out / STORE_FILE) as store:
        todo = _missing(tasks, store.existing(k for t in tasks for k in score_keys(t)))
    return len(tasks) - len(todo), len(tasks)


def scores_frame(study: Study, store: Store, benchmark, *, scored_only: bool = False) -> pd.DataFrame:
    """One row per architecture of the study: its proxy scores and its ground-truth accuracy.
    A study still running has archs without every score: an error, or with `scored_only` the
    rows of the archs whose scores are all stored (to look at a long run before it ends)."""
    archs = make_tasks(study.space, study_archs(study, benchmark), study.probe, list(study.proxies))
    wanted = {k: (k.arch, k.proxy) for t in archs for k in score_keys(t)}
    spec = study.probe
    stored = store.to_frame(
        space=study.space, dataset=spec.dataset, batch_size=spec.batch_size, seed=spec.seed, probe=spec.label
    )
    values = {}
    for row in stored.itertuples(index=False):
        key = ScoreKey(
            row.space, row.arch, row.dataset, row.proxy, row.batch_size, row.seed, row.probe, row.version
        )
        if key in wanted:
            values[wanted[key]] = (row.value, row.reason)
    frame = pd.DataFrame({"arch": [t.arch for t in archs]})
    for name in study.proxies:
        frame[name] = [values.get((a, name), (np.nan, None))[0] for a in frame["arch"]]
    done = [all((a, p) in values for p in study.proxies) for a in frame["arch"]]
    if scored_only:
        frame = frame[done].reset_index(drop=True)
    missing = sum((a, p) not in values for a in frame["arch"] for p in study.proxies)
    if missing:
        raise GradnasError(f"{missing} scores of this study are not stored yet; re-run `gradnas correlate`")
    frame["accuracy"] = benchmark.query_many(frame["arch"].tolist(), study.target_dataset, study.metric)
    for name in study.proxies:  # why a score is NaN, kept beside the numbers
        frame[f"{name}_reason"] = [values[(a, name)][1] for a in frame["arch"]]
    return frame


def study_scores(out_dir: str | Path) -> pd.DataFrame:
    """A study's scores and accuracy indexed by arch, one row per arch with every score stored (so
    a study still running contributes the archs it has finished); from its store, or else from
    the compact copy (`COPY_FILE`) kept beside its `study.json`."""
    out = Path(out_dir)
    study = Study.load(out)
    if not (out / STORE_FILE).is_file():
        if not (out / COPY_FILE).is_file():
            raise GradnasError(f"{out} holds a study but neither {STORE_FILE} nor {COPY_FILE}")
        return pd.read_csv(out / COPY_FILE).set_index("arch")
    with Store(out / STORE_FILE) as store:
        frame = scores_frame(study, store, _benchmark(study), scored_only=True)
    return frame[["arch", *study.proxies, "accuracy"]].set_index("arch")


def _beyond(folder: Study, study: Study) -> str:
    more = [p for p in (*folder.proxies, *folder.ensembles) if p not in (*study.proxies, *study.ensembles)]
    return ", ".join([*more, *([f"{folder.archs} archs"] if folder.archs != study.archs else [])])


def report(out_dir: str | Path, study: Study | None = None) -> dict[str, Path]:
    """Rebuild the scores table, summary, markdown report and plots from the study's store (of
    `study`, by default the folder's whole study)."""
    out = Path(out_dir)
    study = study or Study.load(out)
    benchmark = _benchmark(study)
    with Store(out / STORE_FILE) as store:
        frame = scores_frame(study, store, benchmark)
    infos = get_proxies(study.proxies)
    directions = {i.name: i.higher_is_better for i in infos}
    for name in study.ensembles:  # ranks within this study's set of architectures
        frame[name] = ensemble_values(frame, name, directions)
    references = pd.DataFrame(
        {
            field: benchmark.query_many(frame["arch"].tolist(), study.target_dataset, field)
            for field in getattr(benchmark, "references", ())
        }
    )
    spec = study.probe
    title = (
        f"{study.space}: {len(frame)} archs, probe {spec.dataset} batch {spec.batch_size} {spec.label} "
        f"seed {spec.seed}, vs {study.benchmark} {study.target_dataset} {study.metric}"
    )
    return write_report(
        frame,
        [*study.proxies, *study.ensembles],
        out,
        dataset=study.target_dataset,
        title=title,
        higher_is_better={**directions, **dict.fromkeys(study.ensembles, True)},
        published=published_for(study.benchmark, study.target_dataset),
        seed=spec.seed,
        references=references,
        reference_names={field: gradnas_name(field) for field in references.columns},
        reference_source="NAS-Bench-Suite-Zero",
        accuracy_label=f"{study.target_dataset} {study.metric.replace('_', ' ')}"
        + (" (%)" if frame["accuracy"].max() > 1 else ""),
    )
