"""NAS-Bench-201 ground truth: the shared ``nb201_accuracy.csv.gz`` table as a benchmark."""

from __future__ import annotations

import os

from gradnas.benchmarks.table import TableBenchmark
from gradnas.errors import GradnasError

NB201_FILE = "nb201_accuracy.csv.gz"
NB201_DATASETS = ("cifar10", "cifar100", "imagenet16_120")
NB201_DESCRIPTION = (
    "NAS-Bench-201 / NATS-Bench topology space, 15,625 cells: 200-epoch test accuracy (%), "
    "mean over seeds, for cifar10, cifar100 and imagenet16_120. Test accuracy only: the table "
    "has no validation accuracy and no training time, so cost() is always None."
)


def load_nb201(
    path: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None
) -> TableBenchmark:
    """The NB201 benchmark (metric ``test_accuracy``).

    The table holds only the 200-epoch **test accuracy (mean over seeds)** per dataset: there is
    no validation accuracy and no training time, so ``cost()`` returns None. ``path`` names the
    table file directly; otherwise ``nb201_accuracy.csv.gz`` is found with ``find_data_file``
    (``data_dir``, then ``$GRADNAS_DATA``, then ``../shared/data``).
    """
    if path is None:
        from gradnas.data.paths import find_data_file

        path = find_data_file(NB201_FILE, data_dir)
    bench = TableBenchmark.from_file(path, name="nb201", description=NB201_DESCRIPTION)
    missing = [d for d in NB201_DATASETS if d not in bench.datasets]
    if missing:
        raise GradnasError(
            f"{os.fspath(path)!r} is not the NB201 table: it lacks the columns {', '.join(missing)}"
        )
    return bench
