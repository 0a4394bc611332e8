"""NAS-Bench-101 ground truth from an ``.npz`` export (the repository ships none; see docs/spaces.md).

Arrays, one row per cell:
- ``adjacency`` (N, 7, 7) integer 0/1, upper-triangular;
- ``ops`` (N, 7) integer indices into ``op_names``; -1 marks a padding vertex (no edges) in cells
  with fewer than 7 vertices;
- ``op_names`` the 5 names ``input, output, maxpool3x3, conv1x1-bn-relu, conv3x3-bn-relu`` (any
  order: ``ops`` index into it);
- one numeric (N,) array per metric, e.g. ``val_accuracy``, ``test_accuracy`` (any names);
  ``training_time``, if present, is also each cell's training cost in seconds.

Cells are keyed by their canonical text (pruned, relabelled), so a lookup finds a cell in any
labelling; isomorphic rows (separate training runs of one cell) are averaged, with a warning.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from gradnas.benchmarks.table import MultiMetricBenchmark, TableBenchmark, merge_duplicates
from gradnas.errors import GradnasError
from gradnas.spaces.nb101 import OPS, NB101Arch, as_arch

NB101_OP_NAMES = ("input", "output", *OPS)
COST_METRIC = "training_time"


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise GradnasError(f"NB101 benchmark file {str(path)!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise GradnasError(f"cannot read NB101 benchmark {str(path)!r} as .npz: {exc}") from exc


def _check_shapes(arrays: dict[str, np.ndarray], where: str) -> int:
    missing = [k for k in ("adjacency", "ops", "op_names") if k not in arrays]
    if missing:
        raise GradnasError(f"{where} lacks the arrays {', '.join(missing)}; it has {', '.join(arrays)}")
    adjacency, ops, names = arrays["adjacency"], arrays["ops"], arrays["op_names"]
    if adjacency.ndim != 3 or names.ndim != 1:
        raise GradnasError(f"{where}: adjacency must be (N, 7, 7) and op_names a list of 5 names")
    n = len(adjacency)
    if adjacency.shape != (n, 7, 7) or not np.issubdtype(adjacency.dtype, np.integer):
        raise GradnasError(
            f"{where}: adjacency must be an integer (N, 7, 7) array, got {adjacency.dtype} {adjacency.shape}"
        )
    if ops.shape != (n, 7) or not np.issubdtype(ops.dtype, np.integer):
        raise GradnasError(
            f"{where}: ops must be an integer (N, 7) array with N = {n}, got {ops.dtype} {ops.shape}"
        )
    if sorted(map(str, names)) != sorted(NB101_OP_NAMES):
        raise GradnasError(
            f"{where}: op_names must be {', '.join(NB101_OP_NAMES)} in some order, got {list(names)}"
        )
    if n == 0:
        raise GradnasError(f"{where} has no cells")
    return n


def _arch(matrix: np.ndarray, codes: np.ndarray, names: list[str], row: int, where: str) -> str:
    """The canonical text of one row, with padding vertices (op -1) dropped."""
    if ((codes < -1) | (codes >= len(names))).any():
        raise GradnasError(
            f"{where}, row {row}: op indices must be -1 or in 0..{len(names) - 1}, got {codes.tolist()}"
        )
    used = codes >= 0
    if matrix[~used].any() or matrix[:, ~used].any():
        raise GradnasError(f"{where}, row {row}: a padding vertex (op -1) has edges")
    try:
        return str(NB101Arch.from_spec(matrix[np.ix_(used, used)], [names[c] for c in codes[used]]))
    except GradnasError as why:
        raise GradnasError(f"{where}, row {row}: {why}") from why


def load_nb101(path: str | os.PathLike, dataset: str = "cifar10") -> MultiMetricBenchmark:
    """The NB101 benchmark in the ``.npz`` at ``path`` (format in the module docstring): every
    other (N,) array is a metric, queried as ``query(arch, dataset, metric)``."""
    path = Path(path)
    where = f"NB101 benchmark {str(path)!r}"
    arrays = _load_arrays(path)
    n = _check_shapes(arrays, where)
    names = [str(x) for x in arrays["op_names"]]
    archs = [_arch(m, c, names, i, where) for i, (m, c) in enumerate(zip(arrays["adjacency"], arrays["ops"]))]
    metrics = {k: v for k, v in arrays.items() if k not in ("adjacency", "ops", "op_names")}
    bad = [
        k
        for k, v in metrics.items()
        if v.shape != (n,) or v.dtype == bool or not np.issubdtype(v.dtype, np.number)
    ]
    if bad:
        raise GradnasError(f"{where}: metric arrays must be numeric with shape ({n},): {', '.join(bad)}")
    if not metrics:
        raise GradnasError(f"{where} has no metric arrays such as val_accuracy")
    frame, copies = merge_duplicates(
        pd.DataFrame({"arch": archs, **{k: v.astype(np.float64) for k, v in metrics.items()}}), where
    )
    costs = {f"{dataset}_time": frame[COST_METRIC]} if COST_METRIC in metrics else {}
    tables = {
        metric: TableBenchmark(
            pd.DataFrame({"arch": frame["arch"], dataset: frame[metric], **costs}),
            path.stem,
            metric=metric,
            canonical=lambda arch: str(as_arch(arch)),
        )
        for metric in metrics
    }
    return MultiMetricBenchmark(
        tables,
        path.stem,
        f"NAS-Bench-101 cells from {path.name}: {', '.join(metrics)}",
        copies=copies,
        space="nb101",
    )
