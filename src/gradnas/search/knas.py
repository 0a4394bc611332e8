"""Proxy-first selection: KNAS (sample, keep the top-k by a proxy, evaluate those) and
selection from N (the best-scored of N random archs, never evaluated)."""

from __future__ import annotations

import numpy as np

from ..errors import GradnasError
from ..validate import positive_int
from .objective import Objective
from .screen import Screen


def _scored_sample(space, rng: np.random.Generator, screen: Screen | None, n: int, algo: str):
    if screen is None:
        raise GradnasError(f"{algo} ranks candidates by a proxy: name one as assist")
    archs = [space.format(space.sample(rng)) for _ in range(n)]
    return archs, screen.score(archs)


def knas(
    space,
    objective: Objective,
    rng: np.random.Generator,
    screen: Screen | None = None,
    *,
    m: int = 100,
    k: int = 40,
) -> None:
    """KNAS Algorithm 1: draw `m` archs (100 in the paper's experiments), keep the `k` best by the
    proxy (the gradient kernel, `mgm`, in the paper), evaluate them best-scored first; the pick is
    the best evaluated (by validation accuracy when the evaluation trains)."""
    m = positive_int(m, "m")
    k = positive_int(k, "k", maximum=m)
    archs, values = _scored_sample(space, rng, screen, m, "knas")
    for i in np.argsort(-values, kind="stable")[:k]:
        objective.evaluate(archs[i], score=float(values[i]))


def select_from_n(
    space, objective: Objective, rng: np.random.Generator, screen: Screen | None = None, *, n: int = 100
) -> None:
    """GradSign Table 5: the best-scored of `n` random archs is the answer; nothing is trained."""
    n = positive_int(n, "n")
    archs, values = _scored_sample(space, rng, screen, n, "selection from N")
    i = int(np.argmax(values))
    objective.choose_unevaluated(archs[i], float(values[i]))
