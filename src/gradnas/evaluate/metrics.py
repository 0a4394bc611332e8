"""How well proxy scores rank architectures: rank correlations and best-of-N selection.

Scores are oriented so that higher is better. Scores that could not be computed (NaN or ±inf)
are excluded and counted, never dropped silently; accuracies (the ground truth) must be finite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from gradnas.errors import GradnasError
from gradnas.validate import positive_int

MIN_PAIRS = 3


@dataclass(frozen=True)
class CorrelationResult:
    """Signed Spearman rho and Kendall tau-b over the ``n_used`` finite-score pairs.

    ``n_nan`` counts the excluded non-finite (NaN or ±inf) scores; ``reason`` says why the
    correlations are NaN when they are.
    """

    spearman: float
    kendall: float
    n_used: int
    n_nan: int
    reason: str | None = None


@dataclass(frozen=True)
class SelectionResult:
    """Accuracy of the best-scored of ``n_candidates`` random archs, over the successful draws.

    ``oracle_*`` is the best accuracy among the same candidates and ``random_*`` the accuracy of
    one of them chosen uniformly. A draw whose candidates all have non-finite scores fails; it is
    counted in ``n_failed`` and left out of all three statistics, so they stay paired.
    Standard deviations are over draws (ddof=0).
    """

    n_candidates: int
    n_draws: int
    n_failed: int
    selected_mean: float
    selected_std: float
    oracle_mean: float
    oracle_std: float
    random_mean: float
    random_std: float


def _pair(scores: object, accuracies: object) -> tuple[np.ndarray, np.ndarray]:
    """Both inputs as 1-D float64 arrays of equal length; GradnasError otherwise."""
    arrays = []
    for what, values in (("scores", scores), ("accuracies", accuracies)):
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise GradnasError(f"{what} must be numbers: {exc}") from None
        if array.ndim != 1:
            raise GradnasError(f"{what} must be one-dimensional, got shape {array.shape}")
        arrays.append(array)
    s, a = arrays
    if s.shape != a.shape:
        raise GradnasError(f"scores and accuracies differ in length: {s.size} vs {a.size}")
    bad = int(np.count_nonzero(~np.isfinite(a)))
    if bad:
        raise GradnasError(f"accuracies contain {bad} non-finite values; ground truth must be finite")
    return s, a


def correlation(scores: object, accuracies: object) -> CorrelationResult:
    """Signed Spearman and Kendall (tau-b) correlation between scores and accuracies."""
    s, a = _pair(scores, accuracies)
    finite = np.isfinite(s)
    n_nan = int(s.size - np.count_nonzero(finite))
    s, a = s[finite], a[finite]
    reason = None
    if s.size < MIN_PAIRS:
        reason = f"only {s.size} finite scores; need at least {MIN_PAIRS}"
    elif np.all(s == s[0]):
        reason = "all finite scores are equal"
    elif np.all(a == a[0]):
        reason = "all accuracies are equal"
    if reason is not None:
        return CorrelationResult(math.nan, math.nan, int(s.size), n_nan, reason)
    rho = float(stats.spearmanr(s, a).statistic)
    tau = float(stats.kendalltau(s, a).statistic)
    return CorrelationResult(rho, tau, int(s.size), n_nan)


def spearman_interval(
    scores: object, accuracies: object, *, level: float = 0.95, n_boot: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """A percentile bootstrap interval of Spearman ρ over the finite-score pairs: `n_boot`
    seeded resamples of the architectures, the central `level` of their ρ (resamples whose
    scores or accuracies are all equal are left out). (nan, nan) when ρ itself is undefined."""
    s, a = _pair(scores, accuracies)
    if not 0 < level < 1:
        raise GradnasError(f"level must lie strictly between 0 and 1, got {level!r}")
    finite = np.isfinite(s)
    s, a = s[finite], a[finite]
    if math.isnan(correlation(s, a).spearman):
        return math.nan, math.nan
    idx = np.random.default_rng(seed).integers(0, s.size, size=(positive_int(n_boot, "n_boot", 1), s.size))
    rs, ra = stats.rankdata(s[idx], axis=1), stats.rankdata(a[idx], axis=1)
    rs -= rs.mean(axis=1, keepdims=True)
    ra -= ra.mean(axis=1, keepdims=True)
    norm = np.sqrt((rs * rs).sum(axis=1) * (ra * ra).sum(axis=1))
    ok = norm > 0
    rho = (rs * ra).sum(axis=1)[ok] / norm[ok]
    low, high = np.quantile(rho, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def _mean_std(values: np.ndarray) -> tuple[float, float]:
    if values.size == 0:
        return math.nan, math.nan
    return float(values.mean()), float(values.std())


def top_k_selection(
    scores: object, accuracies: object, n_candidates: int, n_draws: int, seed: int
) -> SelectionResult:
    """Best-of-N selection as in GradSign Table 5, with oracle and random baselines.

    Each of ``n_draws`` draws picks ``n_candidates`` distinct archs at random (``seed`` fixes
    the draws). The selected arch is the highest-scored one; non-finite scores never win and
    ties go to the first-drawn candidate, which is a random one.
    """
    s, a = _pair(scores, accuracies)
    n = positive_int(n_candidates, "n_candidates", 1)
    draws = positive_int(n_draws, "n_draws", 1)
    if n > s.size:
        raise GradnasError(f"n_candidates={n} exceeds the number of architectures ({s.size})")
    rng = np.random.default_rng(positive_int(seed, "seed", 0))
    picks = np.stack([rng.choice(s.size, size=n, replace=False) for _ in range(draws)])
    drawn_scores = np.where(np.isfinite(s), s, -np.inf)[picks]
    drawn_acc = a[picks]
    ok = np.isfinite(s)[picks].any(axis=1)
    rows = np.arange(draws)
    selected = drawn_acc[rows, drawn_scores.argmax(axis=1)]
    uniform = drawn_acc[rows, rng.integers(n, size=draws)]
    oracle = drawn_acc.max(axis=1)
    return SelectionResult(
        n,
        draws,
        int(draws - np.count_nonzero(ok)),
        *_mean_std(selected[ok]),
        *_mean_std(oracle[ok]),
        *_mean_std(uniform[ok]),
    )


def top_fraction_overlap(scores: object, accuracies: object, fraction: float) -> float:
    """The share of the truly best ``fraction`` of archs that the scores also put in their top.

    Both top sets hold ``k = max(1, round(fraction * n))`` archs; non-finite scores rank last and
    ties are broken by position.
    """
    s, a = _pair(scores, accuracies)
    if not isinstance(fraction, (int, float, np.number)) or not 0.0 < fraction <= 1.0:
        raise GradnasError(f"fraction must be a number in (0, 1], got {fraction!r}")
    if s.size == 0:
        raise GradnasError("top_fraction_overlap needs at least one architecture")
    k = max(1, round(fraction * s.size))
    ranked = np.where(np.isfinite(s), s, -np.inf)
    true_top = np.argsort(-a, kind="stable")[:k]
    scored_top = np.argsort(-ranked, kind="stable")[:k]
    return len(np.intersect1d(true_top, scored_top)) / k
