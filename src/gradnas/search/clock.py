"""Simulated search time: every evaluation is charged, and none may overflow the budget."""

from __future__ import annotations

import math
from collections.abc import Callable

from ..errors import GradnasError
from ..validate import positive_int, positive_real

# KNAS Table 1's protocol: one V100, one worker, training plus evaluation of one architecture.
KNAS_SECONDS = {"cifar10": 2160.0, "cifar100": 4600.0, "imagenet16_120": 10000.0}


class Exhausted(Exception):
    """The next charge would overflow the budget; the search stops without making it."""


class Clock:
    """Seconds and evaluations spent against an optional budget of each (at least one is set)."""

    def __init__(self, seconds: float | None = None, evaluations: int | None = None):
        if seconds is None and evaluations is None:
            raise GradnasError("a search needs a budget: seconds, evaluations, or both")
        self.budget_seconds = (
            math.inf if seconds is None else positive_real(seconds, "the time budget (seconds)")
        )
        self.budget_evaluations = (
            math.inf if evaluations is None else positive_int(evaluations, "the evaluation budget")
        )
        self.seconds = 0.0
        self.evaluations = 0

    def charge(self, seconds: float, *, evaluation: bool) -> None:
        """Spend `seconds` (an evaluation if `evaluation`), or raise Exhausted and spend nothing."""
        if seconds < 0 or not math.isfinite(seconds):
            raise GradnasError(f"a charge must be a finite, non-negative number of seconds, got {seconds}")
        if self.seconds + seconds > self.budget_seconds:
            raise Exhausted(f"{seconds:.0f} s more would pass the {self.budget_seconds:.0f} s budget")
        if evaluation and self.evaluations + 1 > self.budget_evaluations:
            raise Exhausted(f"the budget of {self.budget_evaluations} evaluations is spent")
        self.seconds += seconds
        self.evaluations += int(evaluation)


def parse_cost(spec: str, dataset: str, benchmark=None) -> Callable[[str], float]:
    """Seconds one full evaluation of an architecture costs: `knas` (KNAS Table 1's fixed cost
    per dataset), `fixed:SECONDS`, or `benchmark` (the table's own training cost)."""
    spec = str(spec).strip()
    if spec == "knas":
        if dataset not in KNAS_SECONDS:
            raise GradnasError(f"cost 'knas' has costs for {', '.join(KNAS_SECONDS)}, not {dataset!r}")
        seconds = KNAS_SECONDS[dataset]
        return lambda arch: seconds
    if spec.startswith("fixed:"):
        try:
            seconds = float(spec.removeprefix("fixed:"))
        except ValueError:
            seconds = math.nan
        if not (math.isfinite(seconds) and seconds > 0):
            raise GradnasError(f"cost fixed:SECONDS needs a positive number of seconds, got {spec!r}")
        return lambda arch: seconds
    if spec == "benchmark":
        if benchmark is None:
            raise GradnasError("cost 'benchmark' needs a benchmark")

        def from_table(arch: str) -> float:
            seconds = benchmark.cost(arch, dataset)
            if seconds is None:
                raise GradnasError(
                    f"benchmark {benchmark.name!r} has no training cost for {dataset}; "
                    "use cost 'knas' or 'fixed:SECONDS'"
                )
            return seconds

        return from_table
    raise GradnasError(f"unknown cost {spec!r}: use knas, fixed:SECONDS or benchmark")
