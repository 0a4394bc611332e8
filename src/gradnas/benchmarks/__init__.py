"""Tabular benchmarks: ground-truth accuracies looked up by architecture string."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from gradnas.benchmarks.base import Benchmark
from gradnas.benchmarks.nb101 import load_nb101
from gradnas.benchmarks.nb201 import load_nb201
from gradnas.benchmarks.nds import load_nds
from gradnas.benchmarks.suite_zero import load_suite_zero, read_json, read_suite_zero
from gradnas.benchmarks.table import TableBenchmark
from gradnas.errors import GradnasError, unknown_choice


def require_space(benchmark: Benchmark, space: str) -> Benchmark:
    """`benchmark` itself, unless it is known to hold another space's architectures (NB201's table,
    or a table that says which space it holds): then a one-line error instead of failing to parse
    its architecture strings as `space`'s."""
    holds = getattr(benchmark, "space", "nb201" if getattr(benchmark, "name", None) == "nb201" else None)
    if holds not in (None, space):
        raise GradnasError(
            f"benchmark {benchmark.name!r} holds {holds} architectures, not {space}'s: "
            f"give space {holds}, or another benchmark"
        )
    return benchmark


def load_json(path: str | os.PathLike) -> Benchmark:
    """A ``.json`` benchmark: NAS-Bench-Suite-Zero's layout (a mapping from its space names), or
    else NDS's records."""
    raw = read_json(path, "JSON benchmark")
    nds_layout = isinstance(raw, list) or (isinstance(raw, dict) and {"top", "mid"} <= raw.keys())
    return load_nds(path) if nds_layout else read_suite_zero(raw, Path(path).stem)


BENCHMARKS = {"nb201": load_nb201}
# Files in a benchmark's own format, by suffix; any other existing file is read as a table.
FILE_LOADERS: dict[str, Callable[[str], Benchmark]] = {".npz": load_nb101, ".json": load_json}

__all__ = [
    "BENCHMARKS",
    "FILE_LOADERS",
    "Benchmark",
    "TableBenchmark",
    "load_benchmark",
    "load_nb101",
    "load_nb201",
    "load_nds",
    "load_suite_zero",
]


# What the accuracy columns of a table (.csv, .parquet) may be said to hold.
TABLE_METRICS = ("test_accuracy", "val_accuracy")


def load_benchmark(
    name_or_path: str | os.PathLike = "nb201",
    data_dir: str | os.PathLike | None = None,
    *,
    table_metric: str = "test_accuracy",
) -> Benchmark:
    """A benchmark by name ("nb201", found in ``data_dir``) or from an existing file: one in a
    format of ``FILE_LOADERS`` (by suffix), or else a table, whose columns hold ``table_metric``
    (one of ``TABLE_METRICS``)."""
    key = os.fspath(name_or_path)
    loader = BENCHMARKS.get(key.lower())
    if loader is not None:
        return loader(data_dir=data_dir)
    if Path(key).is_file():
        loader = FILE_LOADERS.get(Path(key).suffix.lower())
        if loader:
            return loader(key)
        if table_metric not in TABLE_METRICS:
            raise unknown_choice("metric of a table", table_metric, TABLE_METRICS)
        return TableBenchmark.from_file(key, metric=table_metric)
    raise GradnasError(
        f"unknown benchmark {key!r}: valid names are {', '.join(sorted(BENCHMARKS))}, "
        "or give the path of an existing .csv, .csv.gz or .parquet table"
        + "".join(f" or {suffix} file" for suffix in sorted(FILE_LOADERS))
    )
