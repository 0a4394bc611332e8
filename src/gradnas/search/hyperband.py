"""Hyperband (Li et al. 2018) and BOHB (Falkner et al. 2018) on the simulated clock.

A run at fidelity f (a fraction of full training) is charged f times the full cost. What it
observes is the objective's accuracy: on a table of final accuracies (NB201 here) that is the
final accuracy at every fidelity, a perfectly informative low fidelity. Hyperband's savings on
such a table are therefore an upper bound on what partial training would give.
"""

from __future__ import annotations

import math

import numpy as np

from ..spaces.base import categorical
from .objective import Objective
from .screen import Screen, propose


def hyperband(
    space,
    objective: Objective,
    rng: np.random.Generator,
    screen: Screen | None = None,
    *,
    eta: int = 3,
    min_fidelity: float = 1 / 27,
    model: CategoricalTPE | None = None,
) -> None:
    """Brackets of successive halving, from the most aggressive (many archs at `min_fidelity`)
    to plain full-fidelity evaluation, repeated until the clock runs out. New archs come from
    `model` (BOHB) or uniform draws (Hyperband); with a `screen`, each is the best-scored of a pool."""
    s_max = round(math.log(1 / min_fidelity, eta))
    while True:
        for s in range(s_max, -1, -1):
            n = math.ceil((s_max + 1) / (s + 1) * eta**s)
            draw = (lambda: space.sample(rng)) if model is None else (lambda: model.draw(objective.history))
            configs = [propose(space, draw, screen) for _ in range(n)]
            for i in range(s + 1):
                fidelity = float(eta ** (i - s))
                observed = [
                    ((arch, value), objective.evaluate(space.format(arch), fidelity, score=value))
                    for arch, value in configs
                ]
                keep = max(1, math.floor(n * eta ** -(i + 1)))
                observed.sort(key=lambda pair: -pair[1])
                configs = [config for config, _ in observed[:keep]]


class CategoricalTPE:
    """BOHB's model for categorical decisions: good and bad densities per decision, fitted on the
    highest fidelity with enough observations; draws the candidate with the largest l/g among
    `candidates` samples from l, or a uniform arch with probability `random_fraction`."""

    def __init__(
        self,
        space,
        rng: np.random.Generator,
        *,
        top: float = 0.15,
        candidates: int = 64,
        random_fraction: float = 1 / 3,
        prior: float = 1.0,
    ):
        self.space, self.rng = space, rng
        self.top, self.candidates, self.random_fraction, self.prior = top, candidates, random_fraction, prior
        self.min_points = len(space.decisions) + 2

    def _densities(self, archs: list) -> list[np.ndarray]:
        codes = np.array([self.space.encode(a) for a in archs])
        out = []
        for d, k in enumerate(self.space.decisions):
            counts = np.bincount(codes[:, d], minlength=k) + self.prior
            out.append(counts / counts.sum())
        return out

    def draw(self, history) -> object:
        fidelities = sorted({r.fidelity for r in history}, reverse=True)
        usable = [f for f in fidelities if sum(r.fidelity == f for r in history) >= self.min_points]
        if not usable or self.rng.random() < self.random_fraction:
            return self.space.sample(self.rng)
        records = sorted((r for r in history if r.fidelity == usable[0]), key=lambda r: -r.accuracy)
        n_good = max(len(self.space.decisions) + 1, math.ceil(self.top * len(records)))
        n_good = min(n_good, len(records) - 1)
        good = self._densities([self.space.parse(r.arch) for r in records[:n_good]])
        bad = self._densities([self.space.parse(r.arch) for r in records[n_good:]])
        samples = np.stack([self.rng.choice(len(p), size=self.candidates, p=p) for p in good], 1)
        ratio = sum(np.log(good[d][samples[:, d]]) - np.log(bad[d][samples[:, d]]) for d in range(len(good)))
        for best in np.argsort(-ratio, kind="stable"):  # the best candidate that spells a valid arch
            arch = self.space.decode(samples[best])
            if arch is not None:
                return arch
        return self.space.sample(self.rng)


def bohb(
    space, objective: Objective, rng: np.random.Generator, screen: Screen | None = None, **options
) -> None:
    """Hyperband whose new archs come from a categorical TPE model of what was observed."""
    model = CategoricalTPE(categorical(space, "BOHB"), rng)
    hyperband(space, objective, rng, screen, model=model, **options)
