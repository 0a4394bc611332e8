"""Predictor-guided search: every evaluated architecture becomes a label of the few-shot predictor
(`gradnas.predict`), which picks the next one to evaluate from a pool of candidates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import GradnasError
from ..predict.model import MIN_LABELS, one_hot, predict_ranks, proxy_features
from ..spaces.base import categorical
from .clock import Exhausted
from .objective import Objective
from .screen import Screen

MAX_DRAWS = 100  # draws per candidate before the space is taken to have no unseen arch left


def predictor_guided(
    space,
    objective: Objective,
    rng: np.random.Generator,
    screen: Screen | None = None,
    *,
    warm_up: int = MIN_LABELS,
) -> None:
    """Each step draws a pool of `screen.pool` unseen candidates (half mutants of the best arch
    evaluated so far, half uniform draws), scores it with the proxy, and evaluates the candidate
    the predictor ranks first, refitted on every evaluation so far (proxy score and one-hot
    encoding, see `predict.predict_ranks`). Until `warm_up` archs are evaluated (and while their
    accuracies are all equal, so there is nothing to learn), the best-scored candidate is
    evaluated instead.
    The proxy must be a single one: an ensemble's scores are ranks within one pool."""
    if screen is None:
        raise GradnasError("the predictor-guided search reads a proxy: name one as assist")
    space = categorical(space, "the predictor-guided search")
    proxy: dict[str, float] = {}  # every candidate's score, higher is better
    seen: dict[str, float] = {}  # evaluated arch -> accuracy
    while True:
        best = max(seen, key=seen.get) if seen else None
        pool = _pool(space, rng, screen.pool, best, seen)
        for arch, value in zip(pool, screen.score(pool)):
            proxy[arch] = float(value)
        labels = np.array(list(seen.values()))
        if len(seen) < warm_up or np.all(labels == labels[0]):
            pick = pool[int(np.argmax([proxy[a] for a in pool]))]
        else:
            archs = [*seen, *pool]
            scores = pd.DataFrame({"proxy": [proxy[a] for a in archs]}, index=archs)
            values, _ = proxy_features(scores, np.arange(len(archs)) < len(seen), announce=False)
            x = np.hstack([values.to_numpy(), one_hot(space, archs)])
            rows = np.arange(len(seen))
            predicted = predict_ranks(x, values[["proxy"]].to_numpy(), rows, labels, int(rng.integers(2**32)))
            pick = pool[int(np.argmax(predicted[len(seen) :]))]
        seen[pick] = objective.evaluate(pick, score=proxy[pick])


def _pool(space, rng: np.random.Generator, size: int, best: str | None, seen: dict) -> list[str]:
    """Up to `size` distinct unseen candidates: half mutants of `best` (when there is one), the
    rest uniform draws. With every arch evaluated the search is over (`Exhausted`)."""
    pool: list[str] = []
    for i in range(size):
        for _ in range(MAX_DRAWS):
            drawn = space.mutate(space.parse(best), rng) if best and i < size // 2 else space.sample(rng)
            arch = space.format(drawn)
            if arch not in seen and arch not in pool:
                pool.append(arch)
                break
    if not pool:
        raise Exhausted(f"no unseen arch found in {MAX_DRAWS} draws")
    return pool
