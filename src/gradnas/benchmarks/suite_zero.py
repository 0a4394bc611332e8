"""Ground truth in NAS-Bench-Suite-Zero's JSON format (Krishnakumar et al., "NAS-Bench-Suite-Zero:
Accelerating Research on Zero Cost Proxies", NeurIPS 2022 Datasets and Benchmarks, arXiv:2210.03230).

A file reads ``{"<space>": {"<dataset>": {KEY: {field: number, ...}, ...}}}`` with the space one of
``nasbench101``, ``nasbench201``, ``nasbench301`` and KEY the suite's text of an architecture,
decoded by that gradnas space's `parse` (NB101: 56 integers; NB201: NASLib's 6 op indices; NB301:
NASLib's compact genotype). ``val_accuracy`` (and ``test_accuracy`` where present) are the
results of training; every other numeric field (``params``, ``flops``, ``synflow``, ``jacov``, ...)
is the suite's own zero-cost score, kept as a *reference* metric so a report can compare
gradnas's score of the same name with it (`REFERENCE_NAMES` maps the suite's names to ours).

Isomorphic copies of one cell (the NB101 file repeats cells, with separate training runs) are
merged: values averaged, the count kept in ``copies``, announced in one warning line.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd

from gradnas.benchmarks.table import MultiMetricBenchmark, TableBenchmark, merge_duplicates
from gradnas.errors import GradnasError
from gradnas.spaces import get_space

SPACES = {"nasbench101": "nb101", "nasbench201": "nb201", "nasbench301": "nb301"}
ACCURACY_FIELDS = ("val_accuracy", "test_accuracy")
# the suite's proxy names where gradnas's differ
REFERENCE_NAMES = {"jacov": "jacob_cov", "nwot": "naswot"}


def is_suite_zero(raw: object) -> bool:
    """Whether parsed JSON has the suite's layout (a mapping from its space names)."""
    return isinstance(raw, dict) and bool(raw) and all(key in SPACES for key in raw)


def gradnas_name(field: str) -> str:
    """gradnas's name for one of the suite's reference fields."""
    return REFERENCE_NAMES.get(field, field)


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise GradnasError(f"{where} must be a number, got {value!r}")
    return float(value)


def _rows(space: str, dataset: str, entries: object, where: str) -> pd.DataFrame:
    """One row per entry: the canonical arch and every numeric field."""
    if not isinstance(entries, dict) or not entries:
        raise GradnasError(f"{where}: {space}/{dataset} must map architecture keys to records")
    parse = get_space(SPACES[space]).parse
    rows = []
    for key, record in entries.items():
        entry = f"{where}, {space}/{dataset} entry {key[:90]!r}"
        if not isinstance(record, dict):
            raise GradnasError(f"{entry}: the record must be a JSON object, got {type(record).__name__}")
        if "val_accuracy" not in record:
            raise GradnasError(f"{entry} has no 'val_accuracy'; it has {', '.join(record) or 'no fields'}")
        try:
            arch = str(parse(key))
        except GradnasError as why:
            raise GradnasError(f"{entry}: {why}") from why
        fields = {name: _number(value, f"{entry}: {name!r}") for name, value in record.items()}
        for name in ACCURACY_FIELDS:
            if name in fields and not 0 <= fields[name] <= 100:
                raise GradnasError(f"{entry}: {name!r} must be a percentage in [0, 100], got {fields[name]}")
        rows.append({"arch": arch, **fields})
    return pd.DataFrame(rows)


def read_suite_zero(raw: object, name: str) -> MultiMetricBenchmark:
    """The benchmark of parsed Suite-Zero JSON (see the module docstring); ``name`` names it in
    messages. One space per file; several datasets share the archs (NaN where one lacks an arch)."""
    where = f"Suite-Zero benchmark {name!r}"
    if not is_suite_zero(raw):
        found = ", ".join(map(repr, raw)) if isinstance(raw, dict) else type(raw).__name__
        raise GradnasError(
            f"{where} must map one of {', '.join(SPACES)} to datasets (or be NDS's list of records); "
            f"found {found}"
        )
    if len(raw) != 1:
        raise GradnasError(f"{where} holds several spaces ({', '.join(raw)}); give one file per space")
    space, datasets = next(iter(raw.items()))
    if not isinstance(datasets, dict) or not datasets:
        raise GradnasError(f"{where}: {space} must map dataset names to entries")
    merged, copies, fields = {}, {}, {}
    for dataset, entries in datasets.items():
        frame, found = merge_duplicates(_rows(space, dataset, entries, where), f"{where}, {dataset}")
        merged[dataset], copies = frame.set_index("arch"), {**copies, **found}
        fields.update(dict.fromkeys(c for c in frame.columns if c != "arch"))
    archs = list(dict.fromkeys(a for frame in merged.values() for a in frame.index))
    parse = get_space(SPACES[space]).parse
    tables = {
        field: TableBenchmark(
            pd.DataFrame(
                {
                    "arch": archs,
                    **{d: f[field].reindex(archs) if field in f else math.nan for d, f in merged.items()},
                }
            ),
            name,
            metric=field,
            canonical=lambda arch: str(parse(str(arch))),
        )
        for field in fields
    }
    references = tuple(f for f in fields if f not in ACCURACY_FIELDS)
    description = (
        f"NAS-Bench-Suite-Zero {space} ({SPACES[space]}) from {name}: {len(archs)} distinct archs, "
        f"datasets {', '.join(datasets)}; accuracies {', '.join(f for f in fields if f in ACCURACY_FIELDS)}; "
        f"the suite's own scores {', '.join(references) or 'none'}"
    )
    return MultiMetricBenchmark(
        tables, name, description, references=references, copies=copies, space=SPACES[space]
    )


def read_json(path: str | os.PathLike, what: str) -> object:
    """The parsed JSON at ``path``; GradnasError naming ``what`` if it is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise GradnasError(f"{what} {str(path)!r} does not exist")
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise GradnasError(f"cannot read {what} {str(path)!r} as JSON: {exc}") from exc


def load_suite_zero(path: str | os.PathLike) -> MultiMetricBenchmark:
    """The Suite-Zero benchmark in the ``.json`` at ``path``."""
    return read_suite_zero(read_json(path, "Suite-Zero benchmark"), Path(path).stem)
