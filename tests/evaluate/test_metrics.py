"""Correlation and selection metrics against scipy and hand-computed answers."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from gradnas.errors import GradnasError
from gradnas.evaluate import correlation, top_fraction_overlap, top_k_selection


def test_correlation_equals_scipy():
    rng = np.random.default_rng(1)
    acc = rng.normal(size=500)
    scores = acc + rng.normal(size=500)
    result = correlation(scores, acc)
    assert result.spearman == stats.spearmanr(scores, acc).statistic
    assert result.kendall == stats.kendalltau(scores, acc, variant="b").statistic
    assert (result.n_used, result.n_nan, result.reason) == (500, 0, None)


def test_correlation_with_ties_uses_tau_b():
    acc = [1.0, 2.0, 2.0, 3.0, 4.0, 4.0]
    scores = [1, 1, 2, 3, 3, 5]
    assert correlation(scores, acc).kendall == stats.kendalltau(scores, acc).statistic


def test_correlation_is_signed():
    acc = np.arange(20.0)
    result = correlation(-acc, acc)
    assert result.spearman == -1.0 and result.kendall == -1.0


def test_non_finite_scores_are_counted_and_excluded():
    rng = np.random.default_rng(2)
    acc = rng.normal(size=100)
    scores = acc + rng.normal(size=100)
    scores[[3, 50, 77]] = [np.nan, np.inf, -np.inf]
    keep = np.isfinite(scores)
    result = correlation(scores, acc)
    assert (result.n_used, result.n_nan) == (97, 3)
    assert result.spearman == stats.spearmanr(scores[keep], acc[keep]).statistic


@pytest.mark.parametrize(
    ("scores", "acc", "reason"),
    [
        ([1.0, np.nan, np.nan, 2.0], [1, 2, 3, 4], "only 2 finite scores; need at least 3"),
        ([5.0, 5.0, 5.0], [1, 2, 3], "all finite scores are equal"),
        ([1.0, 2.0, 3.0], [7, 7, 7], "all accuracies are equal"),
    ],
)
def test_degenerate_correlation_is_nan_with_reason(scores, acc, reason):
    result = correlation(scores, acc)
    assert math.isnan(result.spearman) and math.isnan(result.kendall)
    assert result.reason == reason


@pytest.mark.parametrize(
    ("scores", "acc", "match"),
    [
        ([1, 2, 3], [1, 2], "differ in length: 3 vs 2"),
        ([[1, 2], [3, 4]], [[1, 2], [3, 4]], "one-dimensional"),
        (["a", "b", "c"], [1, 2, 3], "scores must be numbers"),
        ([1, 2, 3], [1, np.nan, 3], "accuracies contain 1 non-finite"),
    ],
)
def test_bad_inputs(scores, acc, match):
    with pytest.raises(GradnasError, match=match):
        correlation(scores, acc)
    with pytest.raises(GradnasError, match=match):
        top_k_selection(scores, acc, 1, 1, 0)


def test_top_k_all_candidates_by_hand():
    # N equals the number of archs, so every draw sees all four: the best score (3.0) picks 10.
    result = top_k_selection([3.0, 1.0, 2.0, np.nan], [10.0, 20.0, 30.0, 40.0], 4, 50, seed=0)
    assert (result.selected_mean, result.selected_std) == (10.0, 0.0)
    assert (result.oracle_mean, result.oracle_std) == (40.0, 0.0)
    assert result.n_failed == 0 and result.n_draws == 50 and result.n_candidates == 4
    assert 10.0 <= result.random_mean <= 40.0


def test_top_k_pairs_match_enumeration():
    scores = [0.0, 2.0, 1.0]
    acc = [30.0, 10.0, 20.0]
    # Pairs {0,1}->10, {0,2}->20, {1,2}->10: selected mean 40/3; oracle (30+30+20)/3.
    assert [acc[max(p, key=lambda i: scores[i])] for p in combinations(range(3), 2)] == [10, 20, 10]
    result = top_k_selection(scores, acc, 2, 30_000, seed=1)
    assert result.selected_mean == pytest.approx(40 / 3, abs=0.15)
    assert result.oracle_mean == pytest.approx(80 / 3, abs=0.15)
    assert result.random_mean == pytest.approx(20.0, abs=0.15)


def test_top_k_nan_never_wins_and_all_nan_draws_fail():
    result = top_k_selection([np.nan, 0.0], [99.0, 1.0], 2, 10, seed=0)
    assert result.selected_mean == 1.0 and result.n_failed == 0
    all_nan = top_k_selection([np.nan, np.nan, np.nan], [1.0, 2.0, 3.0], 2, 10, seed=0)
    assert all_nan.n_failed == 10 and math.isnan(all_nan.selected_mean)
    partly = top_k_selection([np.nan, np.nan, 5.0], [1.0, 2.0, 3.0], 1, 300, seed=0)
    assert 0 < partly.n_failed < 300 and partly.selected_mean == 3.0


def test_top_k_is_reproducible_and_validates():
    rng = np.random.default_rng(3)
    scores, acc = rng.normal(size=200), rng.normal(size=200)
    assert top_k_selection(scores, acc, 10, 100, 7) == top_k_selection(scores, acc, 10, 100, 7)
    with pytest.raises(GradnasError, match="n_candidates=201 exceeds"):
        top_k_selection(scores, acc, 201, 10, 0)
    for bad in (0, 2.5, True):
        with pytest.raises(GradnasError, match="n_draws must be an int >= 1"):
            top_k_selection(scores, acc, 5, bad, 0)
    with pytest.raises(GradnasError, match="seed must be an int >= 0"):
        top_k_selection(scores, acc, 5, 10, -1)


finite = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(st.tuples(st.one_of(finite, st.just(math.nan)), finite), min_size=1, max_size=30),
    n=st.integers(1, 30),
    seed=st.integers(0, 2**32),
)
def test_top_k_ordering_properties(data, n, seed):
    scores, acc = (np.array(c, dtype=float) for c in zip(*data))
    n = min(n, len(acc))
    result = top_k_selection(scores, acc, n, 20, seed)
    if result.n_failed == 20:
        return
    assert result.oracle_mean >= result.selected_mean - 1e-9 * (1 + abs(result.oracle_mean))
    assert result.oracle_mean >= result.random_mean - 1e-9 * (1 + abs(result.oracle_mean))
    assert acc.min() <= result.selected_mean + 1e-9 * (1 + abs(acc.min()))
    perfect = top_k_selection(acc, acc, n, 20, seed)
    assert perfect.selected_mean == perfect.oracle_mean


def test_top_fraction_overlap():
    acc = np.arange(100.0)
    assert top_fraction_overlap(acc, acc, 0.1) == 1.0
    assert top_fraction_overlap(-acc, acc, 0.1) == 0.0
    scores = acc.copy()
    scores[95:] = np.nan  # half of the true top-10 lose their scores and rank last
    assert top_fraction_overlap(scores, acc, 0.1) == 0.5
    assert top_fraction_overlap([1.0, 2.0, 3.0], [3.0, 2.0, 1.0], 1.0) == 1.0
    for bad in (0.0, 1.5, "0.1"):
        with pytest.raises(GradnasError, match=r"fraction must be a number in \(0, 1\]"):
            top_fraction_overlap(acc, acc, bad)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(finite, min_size=1, max_size=40), fraction=st.floats(0.01, 1.0))
def test_top_fraction_overlap_is_a_share(values, fraction):
    acc = np.array(values)
    rng = np.random.default_rng(len(values))
    share = top_fraction_overlap(rng.permutation(acc), acc, fraction)
    assert 0.0 <= share <= 1.0
    assert top_fraction_overlap(acc, acc, fraction) == 1.0
