"""A benchmark over one in-memory table, so any CSV/Parquet of per-architecture results is usable.

The table has an ``arch`` column, one numeric accuracy column per dataset and, optionally,
``<dataset>_cost`` or ``<dataset>_time`` columns giving the training cost. It is read once with
pandas and kept as a dict (arch -> row) plus one float64 array per column, so a query is a dict
lookup and an array index.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from gradnas.errors import GradnasError, unknown_choice

ARCH_COLUMN = "arch"
COST_SUFFIXES = ("_cost", "_time")
TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet")


def _normalize(name: str) -> str:
    """Dataset names compared without case or punctuation, so "CIFAR-10" finds "cifar10"."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """The table stored at ``path`` (.csv, .csv.gz or .parquet); GradnasError if unreadable."""
    path = Path(path)
    lower = path.name.lower()
    if not lower.endswith(TABLE_SUFFIXES):
        raise GradnasError(f"benchmark table {str(path)!r} must end in one of {', '.join(TABLE_SUFFIXES)}")
    if not path.is_file():
        raise GradnasError(f"benchmark table {str(path)!r} does not exist")
    try:
        if lower.endswith(".parquet"):
            return pd.read_parquet(path)
        header = pd.read_csv(path, header=None, nrows=1).iloc[0].astype(str).tolist()
        frame = pd.read_csv(path)
    except (OSError, ValueError, ImportError) as exc:
        raise GradnasError(f"cannot read benchmark table {str(path)!r}: {_first_line(exc)}") from exc
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:  # pandas would keep both, renaming the second to NAME.1
        raise GradnasError(f"benchmark table {str(path)!r} has duplicate columns: {', '.join(twice)}")
    return frame


def _table_name(path: Path) -> str:
    name = path.name
    for suffix in TABLE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _check_archs(frame: pd.DataFrame, name: str) -> list[str]:
    """The stripped arch strings of ``frame``; GradnasError if missing, empty or duplicated."""
    where = f"benchmark table {name!r}"
    if ARCH_COLUMN not in frame.columns:
        raise GradnasError(f"{where} has no {ARCH_COLUMN!r} column; columns: {', '.join(frame.columns)}")
    column = frame[ARCH_COLUMN]
    if len(column) == 0:
        raise GradnasError(f"{where} has no rows")
    if column.isna().any():
        raise GradnasError(f"{where} has {int(column.isna().sum())} rows without an arch")
    archs = column.astype(str).str.strip()
    dups = archs[archs.duplicated()]
    if len(dups):
        raise GradnasError(f"{where} has {len(dups)} duplicate archs, e.g. {dups.iloc[0]!r}")
    return archs.tolist()


def merge_duplicates(frame: pd.DataFrame, where: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """`frame` with the rows of one arch averaged (rows in first-seen order), and how many rows
    each merged arch had. Benchmarks list isomorphic copies of one cell with the results of
    separate training runs; merging is announced in one line (a warning), never silent."""
    counts = frame.groupby(ARCH_COLUMN, sort=False).size()
    copies = {str(a): int(n) for a, n in counts.items() if n > 1}
    if not copies:
        return frame, {}
    merged = frame.groupby(ARCH_COLUMN, sort=False, as_index=False).mean()
    warnings.warn(
        f"{where}: {sum(copies.values())} rows describe {len(copies)} archs more than once "
        f"(isomorphic copies); their values are averaged, {len(merged)} distinct archs remain",
        stacklevel=3,
    )
    return merged, copies


class TableBenchmark:
    """Lookups in a table of per-architecture accuracies (see the module docstring for the layout).

    ``metric`` names what the dataset columns hold (one table holds one metric); dataset names
    also match ignoring case and punctuation ("CIFAR-10" -> "cifar10").
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        name: str,
        description: str = "",
        metric: str = "test_accuracy",
        canonical: Callable[[object], str] | None = None,
    ) -> None:
        self.name = name
        self._canonical = canonical  # the space's spelling of an arch, tried when a lookup misses
        self.description = description
        self.metrics: tuple[str, ...] = (metric,)
        frame = frame.rename(columns=str)
        self._archs = _check_archs(frame, name)
        self._rows = {arch: i for i, arch in enumerate(self._archs)}
        values = [c for c in frame.columns if c != ARCH_COLUMN]
        bad = [
            c
            for c in values
            if pd.api.types.is_bool_dtype(frame[c]) or not pd.api.types.is_numeric_dtype(frame[c])
        ]
        if bad:
            raise GradnasError(f"benchmark table {name!r} has non-numeric columns: {', '.join(bad)}")
        cost_of = {c: c[: -len(s)] for c in values for s in COST_SUFFIXES if c.endswith(s)}
        self.datasets: tuple[str, ...] = tuple(c for c in values if c not in cost_of)
        if not self.datasets:
            raise GradnasError(f"benchmark table {name!r} has no accuracy columns besides 'arch'")
        self._values = {d: frame[d].to_numpy(np.float64) for d in self.datasets}
        self._costs: dict[str, np.ndarray] = {}
        for column, dataset in cost_of.items():
            if dataset not in self._values:
                raise GradnasError(
                    f"cost column {column!r} of benchmark table {name!r} matches no "
                    f"dataset column; datasets: {', '.join(self.datasets)}"
                )
            if dataset in self._costs:
                raise GradnasError(f"benchmark table {name!r} has two cost columns for {dataset!r}")
            self._costs[dataset] = frame[column].to_numpy(np.float64)
        self._aliases: dict[str, str] = {}
        for dataset in self.datasets:
            other = self._aliases.setdefault(_normalize(dataset), dataset)
            if other != dataset:
                raise GradnasError(
                    f"benchmark table {name!r} has dataset columns {other!r} and "
                    f"{dataset!r} that differ only in case or punctuation"
                )

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike,
        name: str | None = None,
        description: str = "",
        metric: str = "test_accuracy",
    ) -> TableBenchmark:
        """The benchmark over the table at ``path``; ``name`` defaults to the file name."""
        path = Path(path)
        table = cls(read_table(path), name or _table_name(path), description, metric)
        for dataset, values in table._values.items():
            below = np.flatnonzero(values < 0)
            if below.size:
                raise GradnasError(
                    f"benchmark table {table.name!r} has {below.size} negative {dataset} accuracies, "
                    f"e.g. {values[below[0]]} for {table._archs[below[0]]!r}"
                )
        return table

    def __len__(self) -> int:
        return len(self._archs)

    def __contains__(self, arch: object) -> bool:
        return self._find(arch) is not None

    def _find(self, arch: object) -> int | None:
        """The row of `arch` as written, else of its canonical spelling; None if in neither."""
        row = self._rows.get(str(arch).strip())
        if row is None and self._canonical is not None:
            try:
                row = self._rows.get(self._canonical(arch))
            except GradnasError:
                return None
        return row

    def __repr__(self) -> str:
        return (
            f"TableBenchmark(name={self.name!r}, archs={len(self)}, "
            f"datasets={self.datasets}, metrics={self.metrics})"
        )

    def archs(self) -> list[str]:
        """Every architecture string, in table order (a fresh list the caller may change)."""
        return list(self._archs)

    def dataset(self, dataset: str) -> str:
        """The table's own name for ``dataset``; GradnasError listing the valid ones."""
        if dataset in self._values:
            return dataset
        found = self._aliases.get(_normalize(str(dataset)))
        if found is None:
            listed = ", ".join(sorted(self.datasets))
            raise GradnasError(
                f"benchmark {self.name!r} has no ground truth for dataset {dataset!r}; it has: {listed}"
            )
        return found

    def _row(self, arch: object) -> int:
        key = str(arch).strip()
        row = self._find(arch)
        if row is None:
            raise GradnasError(
                f"architecture {key!r} is not in benchmark {self.name!r} "
                f"({len(self)} archs); expected the format {self._archs[0]!r}"
            )
        return row

    def _check_metric(self, metric: str) -> None:
        if metric not in self.metrics:
            raise unknown_choice("metric", metric, self.metrics)

    def query(self, arch: object, dataset: str, metric: str = "test_accuracy") -> float:
        """The ``metric`` of ``arch`` on ``dataset``."""
        self._check_metric(metric)
        values = self._values[self.dataset(dataset)]
        return float(values[self._row(arch)])

    def query_many(self, archs: Iterable[object], dataset: str, metric: str = "test_accuracy") -> np.ndarray:
        """``query`` for many archs at once, as a float64 array in the order given."""
        self._check_metric(metric)
        values = self._values[self.dataset(dataset)]
        keys = [str(a).strip() for a in archs]
        found = (self._find(k) for k in keys)
        rows = np.fromiter((-1 if r is None else r for r in found), dtype=np.int64, count=len(keys))
        missing = np.flatnonzero(rows < 0)
        if missing.size:
            raise GradnasError(
                f"{missing.size} of {len(keys)} architectures are not in benchmark "
                f"{self.name!r}, e.g. {keys[missing[0]]!r}; expected the format "
                f"{self._archs[0]!r}"
            )
        return values[rows]

    def cost(self, arch: object, dataset: str) -> float | None:
        """The training cost of ``arch`` on ``dataset``, or None if the table has no cost for it."""
        costs = self._costs.get(self.dataset(dataset))
        row = self._row(arch)
        if costs is None or np.isnan(costs[row]):
            return None
        return float(costs[row])


class MultiMetricBenchmark:
    """Several metrics (validation and test accuracy, ...) of one set of architectures: one
    `TableBenchmark` per metric, all with the same archs and datasets, queried by ``metric``.

    ``references`` names the metrics that are not results of training but another tool's scores
    of the same archs (e.g. NAS-Bench-Suite-Zero's own zero-cost proxies), so a report can put
    them beside gradnas's; ``copies`` counts the rows merged into each arch listed more than once;
    ``space`` names the search space of the archs where the file says it.
    """

    def __init__(
        self,
        tables: dict[str, TableBenchmark],
        name: str,
        description: str = "",
        references: tuple[str, ...] = (),
        copies: dict[str, int] | None = None,
        space: str | None = None,
    ) -> None:
        if not tables:
            raise GradnasError(f"benchmark {name!r} has no metrics")
        first = next(iter(tables.values()))
        for metric, table in tables.items():
            if table.archs() != first.archs() or table.datasets != first.datasets:
                raise GradnasError(f"metric {metric!r} of benchmark {name!r} covers other archs or datasets")
        self.name = name
        self.description = description
        self.metrics: tuple[str, ...] = tuple(tables)
        unknown = set(references) - set(tables)
        if unknown:
            listed = ", ".join(sorted(unknown))
            raise GradnasError(f"references {listed} of {name!r} are not among its metrics")
        self.references = tuple(references)
        self.copies = dict(copies or {})
        self.space = space  # the search space whose archs the table holds, where known
        self.datasets = first.datasets
        self._tables = tables
        self._first = first

    def __len__(self) -> int:
        return len(self._first)

    def __contains__(self, arch: object) -> bool:
        return arch in self._first

    def __repr__(self) -> str:
        return (
            f"MultiMetricBenchmark(name={self.name!r}, archs={len(self)}, "
            f"datasets={self.datasets}, metrics={self.metrics})"
        )

    def archs(self) -> list[str]:
        return self._first.archs()

    def _table(self, metric: str) -> TableBenchmark:
        if metric not in self._tables:
            raise unknown_choice("metric", metric, self.metrics)
        return self._tables[metric]

    def query(self, arch: object, dataset: str, metric: str = "test_accuracy") -> float:
        return self._table(metric).query(arch, dataset, metric)

    def query_many(self, archs: Iterable[object], dataset: str, metric: str = "test_accuracy") -> np.ndarray:
        return self._table(metric).query_many(archs, dataset, metric)

    def cost(self, arch: object, dataset: str) -> float | None:
        return self._first.cost(arch, dataset)
