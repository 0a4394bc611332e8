"""Training-free ensembles: rank aggregation of several proxies over an evaluated set.

An ensemble score is the (weighted) mean of each member's rank percentile *within the evaluated
set of architectures*: it is not a property of one architecture alone, so it exists only for a
set (a correlation study, or the candidates of one search step). An architecture on which a
member is undefined (NaN) ranks last for that member: undefined never wins.

Names read `ensemble:gradsign+naswot+synflow`, with optional weights `ensemble:gradsign*2+naswot`;
a member written with `-` instead of `+` (`ensemble:params+jacob_cov-fisher`) is *reversed*: its
lower scores rank higher, against its registered orientation. Reversal is always spelled out in
the name, never applied silently. `NAMED` holds the recommended ensemble of each search space,
chosen on one half of its architectures and reported on the other (see the README's results).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from ..errors import GradnasError
from ..registry import Registry

PREFIX = "ensemble:"
NAMED: Registry[str] = Registry(
    "named ensemble",
    {
        "ensemble:nb201": "ensemble:gradalign_1_sign_raw+gradalign_2_sign_diverse+jacob_cov",
        "ensemble:nb101": "ensemble:params-jacob_cov-mgm",
        "ensemble:nb301": "ensemble:params+naswot-grad_norm",
    },
)
_MEMBER = re.compile(r"([+-]?)([^+-]*)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_ensemble(name: str) -> dict[str, float]:
    """`ensemble:a*2+b-c` -> {"a": 2.0, "b": 1.0, "c": -1.0} (a negative weight: a reversed
    member); a name of `NAMED` gives its members. A clear error for anything else."""
    if not isinstance(name, str):
        raise GradnasError(f"an ensemble name must be a string, got {type(name).__name__}")
    spelled = NAMED.get(name, name)
    body = spelled[len(PREFIX) :]
    if not spelled.startswith(PREFIX) or not body or body[0] in "+-":
        raise GradnasError(
            f"an ensemble reads 'ensemble:proxy+proxy[*weight]-reversed...' or is one of "
            f"{', '.join(NAMED)}, got {name!r}"
        )
    members: dict[str, float] = {}
    for sign, part in _MEMBER.findall("+" + body)[:-1]:
        proxy, star, weight = part.partition("*")
        if not _NAME.fullmatch(proxy) or (star and not weight):
            raise GradnasError(f"{name!r}: {part!r} is not a proxy name with an optional *weight")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise GradnasError(f"{name!r}: weight {weight!r} of {proxy!r} is not a number") from None
        if not proxy or proxy in members or not value > 0:
            raise GradnasError(f"{name!r}: each member once, by name, with a positive weight")
        members[proxy] = -value if sign == "-" else value
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
    """Weighted mean of the members' rank percentiles over the rows of `frame`; a member with a
    negative weight counts |weight| with its orientation reversed."""
    missing = [m for m in members if m not in frame.columns]
    if missing:
        raise GradnasError(f"ensemble members without scores: {', '.join(missing)}")
    directions = higher_is_better or {}
    total = sum(abs(w) for w in members.values())
    return (
        sum(
            abs(w) * rank_percentiles(frame[m], directions.get(m, True) == (w > 0))
            for m, w in members.items()
        )
        / total
    )
