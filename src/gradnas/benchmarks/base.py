"""The interface every tabular benchmark offers, so searches and evaluation need not know the table."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Benchmark(Protocol):
    """Ground-truth lookups for the architectures of one search space.

    ``arch`` arguments are canonical architecture strings or any object whose ``str()`` is one
    (e.g. a space's architecture object), so callers never convert by hand.
    """

    name: str
    datasets: tuple[str, ...]
    metrics: tuple[str, ...]

    def query(self, arch: object, dataset: str, metric: str = "test_accuracy") -> float:
        """The value of ``metric`` for ``arch`` on ``dataset``; GradnasError for unknown names."""
        ...

    def archs(self) -> list[str]:
        """Every architecture in the table, as canonical strings, in table order."""
        ...

    def query_many(self, archs: Iterable[object], dataset: str, metric: str = "test_accuracy") -> np.ndarray:
        """``query`` for many archs at once, as a float64 array in the order given."""
        ...

    def cost(self, arch: object, dataset: str) -> float | None:
        """The training cost of ``arch`` on ``dataset`` (seconds), or None where the table has none."""
        ...
