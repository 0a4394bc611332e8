"""Where a predictor's proxy scores come from: one small loader per kind of source, all giving a
`Source` (scores by architecture, ground truth where known, and the probe that computed them)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..benchmarks import load_benchmark
from ..benchmarks.suite_zero import gradnas_name
from ..correlate import STUDY_FILE, Study, study_scores
from ..errors import GradnasError, unknown_choice
from ..run.tables import load_scores

TABLE_PREFIX = "table:"
PROBE_FIELDS = ("dataset", "batch_size", "seed", "label")


@dataclass(frozen=True)
class Source:
    """Proxy scores of a set of architectures of `space`: `scores` is indexed by canonical arch
    string with one column per proxy (NaN where undefined); `truth` the trained accuracy by arch
    where the source knows it (else None); `probe` the gradnas probe configuration that computed
    the scores (dataset, batch_size, seed, label), or None for scores from another tool."""

    name: str
    space: str
    scores: pd.DataFrame
    truth: pd.Series | None
    probe: dict | None

    def check_probe(self, **asked: object) -> None:
        """Refuse scores of another probe configuration than `asked` (fields left None are free)."""
        asked = {k: v for k, v in asked.items() if v is not None}
        unknown = set(asked) - set(PROBE_FIELDS)
        if unknown:
            raise unknown_choice("probe field", sorted(unknown)[0], PROBE_FIELDS)
        if asked and self.probe is None:
            raise GradnasError(
                f"{self.name} holds scores computed by another tool, not a gradnas probe: "
                f"it has no {', '.join(asked)} to match"
            )
        differ = [f"{k} {self.probe[k]} there, {v} asked" for k, v in asked.items() if self.probe[k] != v]
        if differ:
            raise GradnasError(f"{self.name} was probed with another configuration: {'; '.join(differ)}")


def from_table(
    space: str,
    dataset: str,
    *,
    benchmark: str | None = None,
    target: str | None = None,
    metric: str = "test_accuracy",
    data_dir: str | None = None,
) -> Source:
    """A shipped score table (`gradnas.load_scores`), with ground truth from `benchmark` (its
    `target` dataset, by default the probe's, and `metric`) when one is named."""
    wide = load_scores(space, dataset)
    probe = wide.attrs["provenance"]["probe"]
    scores = wide.set_index(wide["arch"].astype(str)).drop(columns="arch")  # plain strings, not categories
    truth = None
    if benchmark is not None:
        table = load_benchmark(benchmark, data_dir, table_metric=metric)
        values = table.query_many(scores.index.tolist(), target or probe["dataset"], metric)
        truth = pd.Series(values, index=scores.index, name="accuracy")
    return Source(f"the shipped {space}/{dataset} score table", space, scores, truth, _probe(probe))


def from_study(directory: str | os.PathLike) -> Source:
    """A `gradnas correlate` study folder (the archs with every score stored, so a study still
    running can be read), or its compact copy (`study.json` beside `scores.csv.gz`)."""
    study = Study.load(Path(directory))
    frame = study_scores(directory)
    spec = study.probe
    probe = {"dataset": spec.dataset, "batch_size": spec.batch_size, "seed": spec.seed, "label": spec.label}
    return Source(f"study {directory}", study.space, frame[list(study.proxies)], frame["accuracy"], probe)


def from_suite_zero(
    path: str | os.PathLike, *, target: str | None = None, metric: str = "val_accuracy"
) -> Source:
    """A NAS-Bench-Suite-Zero JSON file: its reference columns (NASLib's own zero-cost scores,
    under gradnas's names) as the scores, `metric` of its `target` dataset as the truth."""
    bench = load_benchmark(path)
    references = getattr(bench, "references", ())
    if not references:
        raise GradnasError(f"{path} holds no zero-cost scores (reference columns) to predict from")
    if target is None and len(bench.datasets) > 1:
        raise GradnasError(f"{path} holds datasets {', '.join(bench.datasets)}: name one as the target")
    dataset = target or bench.datasets[0]
    archs = bench.archs()
    scores = pd.DataFrame(
        {gradnas_name(f): bench.query_many(archs, dataset, f) for f in references},
        index=pd.Index(archs, name="arch"),
    )
    truth = pd.Series(bench.query_many(archs, dataset, metric), index=scores.index, name="accuracy")
    return Source(f"NAS-Bench-Suite-Zero file {path}", bench.space, scores, truth, None)


def open_source(
    text: str,
    *,
    benchmark: str | None = None,
    target: str | None = None,
    metric: str | None = None,
    data_dir: str | None = None,
) -> Source:
    """The source `text` names: ``table:SPACE/DATASET`` (a shipped table), a study folder (or its
    compact copy), or a NAS-Bench-Suite-Zero ``.json`` file. `metric` defaults to the source's
    own: test accuracy for tables, validation accuracy for Suite-Zero files (a study names its own)."""
    if text.startswith(TABLE_PREFIX):
        space, _, dataset = text.removeprefix(TABLE_PREFIX).partition("/")
        if not space or not dataset:
            raise GradnasError(f"a table source is written table:SPACE/DATASET, got {text!r}")
        if benchmark is None and space == "nb201":
            benchmark = "nb201"
        return from_table(
            space,
            dataset,
            benchmark=benchmark,
            target=target,
            metric=metric or "test_accuracy",
            data_dir=data_dir,
        )
    path = Path(text)
    if path.is_dir() and (path / STUDY_FILE).is_file():
        return from_study(path)
    if path.is_file() and path.suffix.lower() == ".json":
        return from_suite_zero(path, target=target, metric=metric or "val_accuracy")
    raise GradnasError(
        f"no score source at {text!r}: give table:SPACE/DATASET (a shipped score table), a `gradnas "
        f"correlate` folder (or its copy: {STUDY_FILE} and scores.csv.gz) or a NAS-Bench-Suite-Zero .json"
    )


def _probe(provenance_probe: dict) -> dict:
    return {field: provenance_probe[field] for field in PROBE_FIELDS}


def finite_truth(source: Source) -> pd.Series:
    """The source's known accuracies (finite values only); an error where it has none."""
    if source.truth is None:
        raise GradnasError(f"{source.name} has no ground truth to draw labels from: give the labels as a CSV")
    return source.truth[np.isfinite(source.truth.to_numpy(dtype=float))]
