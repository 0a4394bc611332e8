"""What a search optimises: benchmark accuracy, paid for on a simulated clock, recorded in full."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


class Objective:
    """Evaluates architectures by looking their accuracy up, charging `cost(arch) · fidelity`.

    `accuracy(arch, fidelity)` is what the search observes. A table of final accuracies
    observes the final value at every fidelity (see Hyperband's docstring for what that implies).
    """

    def __init__(self, accuracy: Callable[[str], float], cost: Callable[[str], float], clock: Clock):
        self.accuracy, self.cost, self.clock = accuracy, cost, clock
        self.history: list[Record] = []

    def evaluate(self, arch: str, fidelity: float = 1.0, score: float | None = None) -> float:
        """The accuracy of `arch`, after charging its cost; raises clock.Exhausted instead when
        the charge does not fit the budget."""
        self.clock.charge(self.cost(arch) * fidelity, evaluation=True)
        value = float(self.accuracy(arch))
        self.history.append(Record(len(self.history), arch, value, self.clock.seconds, fidelity, score))
        return value

    def choose_unevaluated(self, arch: str, score: float) -> None:
        """Record a pick made on proxy scores alone: its accuracy is looked up for the report,
        but the search never observed it, so nothing is charged."""
        value = float(self.accuracy(arch))
        self.history.append(Record(len(self.history), arch, value, self.clock.seconds, 1.0, score, False))

    def charge_overhead(self, seconds: float) -> None:
        """Non-evaluation time, e.g. computing proxies when it is charged."""
        self.clock.charge(seconds, evaluation=False)

    @staticmethod
    def pick_from(history: list[Record]) -> Record | None:
        """A search's answer: the best-observed arch among those at the highest fidelity reached
        (validation-style selection; on this table the observation is the test accuracy)."""
        if not history:
            return None
        top = max(r.fidelity for r in history)
        return max((r for r in history if r.fidelity == top), key=lambda r: r.accuracy)
