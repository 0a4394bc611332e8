"""What a search optimises: an accuracy observed per architecture (looked up in a benchmark table,
or measured by training), paid for on a simulated clock, recorded in full."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from .clock import Clock


@dataclass(frozen=True)
class Record:
    """One evaluation: `clock` is the simulated time when it finished; `fidelity` the fraction of
    a full training run it was charged for (1 except inside Hyperband/BOHB)."""

    step: int
    arch: str
    accuracy: float
    clock: float
    fidelity: float = 1.0
    score: float | None = None
    evaluated: bool = True  # False for a pick made from scores alone, never trained or charged
    test_accuracy: float | None = None  # reported for a pick when `accuracy` is a validation accuracy
    reason: str | None = None  # why `accuracy` is NaN (a training whose loss diverged)

    @property
    def reported(self) -> float:
        """The accuracy a search's answer is reported by: the test accuracy when there is one."""
        return self.accuracy if self.test_accuracy is None else self.test_accuracy


@dataclass(frozen=True)
class Observation:
    """What evaluating one architecture gives: the accuracy the search sees, the seconds charged for
    it, and for a trained network its test accuracy (the pick's report) or why it failed."""

    accuracy: float
    seconds: float
    test_accuracy: float | None = None
    reason: str | None = None


# observe(arch, fidelity): the evaluation of `arch` at a fraction `fidelity` of full training
Observe = Callable[[str, float], Observation]


def lookup(accuracy: Callable[[str], float], cost: Callable[[str], float]) -> Observe:
    """A table's accuracy of the arch, charged `cost(arch) · fidelity`. A table of final accuracies
    observes the final value at every fidelity (see Hyperband's docstring for what that implies)."""
    return lambda arch, fidelity: Observation(float(accuracy(arch)), cost(arch) * fidelity)


class Objective:
    """Evaluates architectures by `observe`, charging each the seconds it reports."""

    def __init__(self, observe: Observe, clock: Clock):
        self.observe, self.clock = observe, clock
        self.history: list[Record] = []

    def evaluate(self, arch: str, fidelity: float = 1.0, score: float | None = None) -> float:
        """The accuracy of `arch`, after charging its cost; raises clock.Exhausted instead when the
        charge does not fit the budget (a training done by then stays stored for reuse). A failed
        evaluation (NaN) is recorded as such and seen by the search as the worst possible."""
        seen = self.observe(arch, fidelity)
        self.clock.charge(seen.seconds, evaluation=True)
        self._record(arch, seen, fidelity, score, True)
        return seen.accuracy if math.isfinite(seen.accuracy) else -math.inf

    def choose_unevaluated(self, arch: str, score: float) -> None:
        """Record a pick made on proxy scores alone: its accuracy is observed for the report,
        but the search never saw it, so nothing is charged."""
        self._record(arch, self.observe(arch, 1.0), 1.0, score, False)

    def _record(self, arch: str, seen: Observation, fidelity: float, score, evaluated: bool) -> None:
        step, clock = len(self.history), self.clock.seconds
        record = Record(step, arch, seen.accuracy, clock, fidelity, score, evaluated)
        self.history.append(replace(record, test_accuracy=seen.test_accuracy, reason=seen.reason))

    def charge_overhead(self, seconds: float) -> None:
        """Non-evaluation time, e.g. computing proxies when it is charged."""
        self.clock.charge(seconds, evaluation=False)

    @staticmethod
    def pick_from(history: list[Record]) -> Record | None:
        """A search's answer: the best-observed arch among those at the highest fidelity reached
        (selection by what the search saw: the validation accuracy when it trains, the table's test
        accuracy otherwise); failed evaluations are never picked."""
        history = [r for r in history if math.isfinite(r.accuracy)]
        if not history:
            return None
        top = max(r.fidelity for r in history)
        return max((r for r in history if r.fidelity == top), key=lambda r: r.accuracy)
