"""Training-free ensembles: rank aggregation of several proxies over an evaluated set.

An ensemble score is the (weighted) mean of each member's rank percentile *within the evaluated
set of architectures*: it is not a property of one architecture alone, so it exists only for a
set (a correlation study, or the candidates of one search step). An architecture on which a
member is undefined (NaN) ranks last for that member: undefined never wins.

Names read `ensemble:gradsign+naswot+synflow`, with optional weights `ensemble:gradsign*2+naswot`;
a member written with `-` instead of `+` (`ensemble:params+jacob_cov-fisher`) is *reversed*: its
lower scores rank higher, against its registered orientation. Reversal is always spelled out in
the name, never applied silently. `NAMED` holds the recommended ensemble of each search space,
chosen on one half of its architectures and reported on the other (see the README's results);
`ensemble:default`, chosen on NAS-Bench-201 CIFAR-10, is what `rank` and `select` rank NB201 by
unless told otherwise (`DEFAULT_RANKERS`).

`RULES` holds the published non-linear aggregations, which sum log rank fractions instead:
`ensemble:az_nas` (AZ-NAS), `ensemble:vkdnw_single` and `ensemble:vkdnw_agg` (VKDNW).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from ..errors import GradnasError
from ..registry import Registry

PREFIX = "ensemble:"
NAMED: Registry[str] = Registry(
    "named ensemble",
    {
        "ensemble:default": "ensemble:meco+meco_opt-gradalign_2_sign_raw",
        "ensemble:nb201": "ensemble:gradalign_1_sign_raw+gradalign_2_sign_diverse+jacob_cov",
        "ensemble:nb101": "ensemble:params-jacob_cov-mgm",
        "ensemble:nb301": "ensemble:params+naswot-grad_norm",
    },
)

# the ranker `rank` and the `select` search use on a space when none is named
DEFAULT_RANKERS = {"nb201": "ensemble:default"}


@dataclass(frozen=True)
class LogRankRule:
    """Σ over terms of log(rank / N) within the evaluated set, every member oriented so higher is
    better and an undefined score ranked lowest (the −inf of the authors' code). A term of one
    proxy takes its average rank; a term of several ranks them lexicographically (dense ranks),
    as VKDNW_single ranks by (parameter tensors, vkdnw)."""

    terms: tuple[tuple[str, ...], ...]

    @property
    def members(self) -> dict[str, float]:
        return {m: 1.0 for term in self.terms for m in term}

    def scores(self, frame: pd.DataFrame, higher_is_better: Mapping[str, bool]) -> np.ndarray:
        total = np.zeros(len(frame))
        for term in self.terms:
            columns = []
            for m in term:
                values = np.asarray(frame[m], dtype=np.float64) * (1 if higher_is_better.get(m, True) else -1)
                columns.append(np.where(np.isfinite(values), values, -np.inf))
            if len(term) == 1:
                ranks = rankdata(columns[0])
            else:
                ranks = pd.Series(list(zip(*columns))).rank(method="dense").to_numpy()
            total += np.log(ranks / len(frame))
        return total


AZ_NAS = ("az_expressivity",), ("az_progressivity",), ("az_trainability",), ("az_complexity",)
VKDNW_SINGLE = (("vkdnw_dim", "vkdnw"),)
RULES: Registry[LogRankRule] = Registry(
    "log-rank rule",
    {
        "ensemble:az_nas": LogRankRule(AZ_NAS),
        "ensemble:vkdnw_single": LogRankRule(VKDNW_SINGLE),
        "ensemble:vkdnw_agg": LogRankRule(
            (*VKDNW_SINGLE, ("az_expressivity",), ("az_trainability",), ("az_complexity",), ("jacob_cov",))
        ),
    },
)


def is_ensemble(name: str | None) -> bool:
    """Whether `name` names an ensemble (`ensemble:...`) rather than a single proxy."""
    return bool(name) and name.startswith(PREFIX)


_MEMBER = re.compile(r"([+-]?)([^+-]*)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_ensemble(name: str) -> dict[str, float]:
    """`ensemble:a*2+b-c` -> {"a": 2.0, "b": 1.0, "c": -1.0} (a negative weight: a reversed
    member); a name of `NAMED` or `RULES` gives its members. A clear error for anything else."""
    if not isinstance(name, str):
        raise GradnasError(f"an ensemble name must be a string, got {type(name).__name__}")
    if name in RULES:
        return RULES[name].members
    spelled = NAMED.get(name, name)
    body = spelled[len(PREFIX) :]
    if not spelled.startswith(PREFIX) or not body or body[0] in "+-":
        raise GradnasError(
            f"an ensemble reads 'ensemble:proxy+proxy[*weight]-reversed...' or is one of "
            f"{', '.join([*NAMED, *RULES])}, got {name!r}"
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


def ensemble_values(
    frame: pd.DataFrame, name: str, higher_is_better: Mapping[str, bool] | None = None
) -> np.ndarray:
    """The scores of ensemble `name` over the rows of `frame`: a rule of `RULES`, or the weighted
    mean rank percentile of its members."""
    members = parse_ensemble(name)
    missing = [m for m in members if m not in frame.columns]
    if missing:
        raise GradnasError(f"ensemble members without scores: {', '.join(missing)}")
    if name in RULES:
        return RULES[name].scores(frame, higher_is_better or {})
    return ensemble_scores(frame, members, higher_is_better)
