"""Training-free ensembles: rank aggregation of several proxies over an evaluated set.

An ensemble score is the (weighted) mean of each member's rank percentile *within the evaluated
set of architectures*: it is not a property of one architecture alone, so it exists only for a
set (a correlation study, or the candidates of one search step). An architecture on which a
member is undefined (NaN) ranks last for that member: undefined never wins.

Names read `ensemble:gradsign+naswot+synflow`, with optional weights `ensemble:gradsign*2+naswot`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from ..errors import GradnasError

PREFIX = "ensemble:"


def parse_ensemble(name: str) -> dict[str, float]:
    """`ensemble:a*2+b` -> {"a": 2.0, "b": 1.0}; a clear error for anything else."""
    if not name.startswith(PREFIX) or name == PREFIX:
        raise GradnasError(f"an ensemble reads 'ensemble:proxy+proxy[*weight]...', got {name!r}")
    members: dict[str, float] = {}
    for part in name[len(PREFIX) :].split("+"):
        proxy, _, weight = part.partition("*")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise GradnasError(f"{name!r}: weight {weight!r} of {proxy!r} is not a number") from None
        if not proxy or proxy in members or not value > 0:
            raise GradnasError(f"{name!r}: each member once, by name, with a positive weight")
        members[proxy] = value
    return members


def rank_percentiles(scores: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """Each score's rank in (0, 1] among the finite ones (ties share the mean rank); a non-finite
    score gets 0, below every defined one."""
    scores = np.asarray(scores, dtype=np.float64)
    finite = np.isfinite(scores)
    out = np.zeros(len(scores))
    if finite.any():
        ranks = rankdata(scores[finite] if higher_is_better else -scores[finite])
        out[finite] = ranks / finite.sum()
    return out


def ensemble_scores(
    frame: pd.DataFrame, members: Mapping[str, float], higher_is_better: Mapping[str, bool] | None = None
) -> np.ndarray:
    """Weighted mean of the members' rank percentiles over the rows of `frame`."""
    missing = [m for m in members if m not in frame.columns]
    if missing:
        raise GradnasError(f"ensemble members without scores: {', '.join(missing)}")
    directions = higher_is_better or {}
    total = sum(members.values())
    return sum(w * rank_percentiles(frame[m], directions.get(m, True)) for m, w in members.items()) / total
