"""Rank aggregation arithmetic for training-free ensembles."""

import math

import numpy as np
import pandas as pd
import pytest

from gradnas.errors import GradnasError
from gradnas.evaluate.ensemble import (
    NAMED,
    ensemble_scores,
    ensemble_values,
    parse_ensemble,
    rank_percentiles,
)


def test_rank_percentiles_with_ties_nan_and_direction():
    assert rank_percentiles(np.array([10.0, 30.0, 20.0, math.nan])).tolist() == [1 / 3, 1.0, 2 / 3, 0.0]
    assert rank_percentiles(np.array([5.0, 5.0, 1.0, 9.0])).tolist() == [0.625, 0.625, 0.25, 1.0]
    assert rank_percentiles(np.array([1.0, 2.0]), higher_is_better=False).tolist() == [1.0, 0.5]


def test_weighted_mean_of_percentiles():
    frame = pd.DataFrame({"a": [10.0, 20.0, 30.0, math.nan], "b": [3.0, 1.0, 2.0, 5.0]})
    # a: 1/3, 2/3, 1, 0 (NaN ranks last)   b: 3/4, 1/4, 2/4, 1   ensemble a + 3b over weight 4
    expected = [(1 / 3 + 9 / 4) / 4, (2 / 3 + 3 / 4) / 4, (1 + 6 / 4) / 4, (0 + 3) / 4]
    assert ensemble_scores(frame, parse_ensemble("ensemble:a+b*3")) == pytest.approx(expected)
    # a lower-is-better member is turned around before its ranks are averaged
    flipped = ensemble_scores(frame, {"b": 1.0}, {"b": False})
    assert flipped.tolist() == [0.5, 1.0, 0.75, 0.25]


def test_reversed_members_and_named_ensembles():
    frame = pd.DataFrame({"a": [10.0, 20.0, 30.0], "b": [3.0, 1.0, 2.0]})
    assert parse_ensemble("ensemble:a*2-b") == {"a": 2.0, "b": -1.0}
    # -b ranks b's lowest highest: b's reversed percentiles are 1/3, 1, 2/3
    expected = [(2 * 1 / 3 + 1 / 3) / 3, (2 * 2 / 3 + 1) / 3, (2 * 1 + 2 / 3) / 3]
    assert ensemble_scores(frame, parse_ensemble("ensemble:a*2-b")) == pytest.approx(expected)
    # reversing a lower-is-better member makes it higher-is-better again
    assert ensemble_scores(frame, {"b": -1.0}, {"b": False}).tolist() == [1.0, 1 / 3, 2 / 3]
    for name, spelled in NAMED.items():
        assert parse_ensemble(name) == parse_ensemble(spelled) and len(parse_ensemble(name)) >= 2


BAD_NAMES = [
    "gradsign+naswot",
    "ensemble:",
    "ensemble:a+a",
    "ensemble:a-a",
    "ensemble:a*x",
    "ensemble:a*-1",
    "ensemble:a*",
    "ensemble:-a",
    "ensemble:a+",
]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_malformed_ensemble_names_are_clear_errors(bad):
    with pytest.raises(GradnasError):
        parse_ensemble(bad)


def test_members_must_have_scores():
    with pytest.raises(GradnasError, match="without scores: c"):
        ensemble_scores(pd.DataFrame({"a": [1.0]}), {"a": 1.0, "c": 1.0})


def test_az_nas_sums_log_rank_fractions_and_ranks_undefined_lowest():
    frame = pd.DataFrame(
        {
            "az_expressivity": [3.0, 1.0, 2.0, 4.0],
            "az_progressivity": [0.1, 0.3, 0.2, math.nan],
            "az_trainability": [-1.0, -2.0, -1.0, -3.0],
            "az_complexity": [10.0, 40.0, 30.0, 20.0],
        }
    )
    # ranks of 4 (average ties, NaN lowest): e 3 1 2 4, p 2 4 3 1, t 3.5 2 3.5 1, c 1 4 3 2
    ranks = np.array([[3, 2, 3.5, 1], [1, 4, 2, 4], [2, 3, 3.5, 3], [4, 1, 1, 2]])
    expected = np.log(ranks / 4).sum(1)
    assert ensemble_values(frame, "ensemble:az_nas") == pytest.approx(expected)
    assert set(parse_ensemble("ensemble:az_nas")) == set(frame.columns)


def test_vkdnw_single_ranks_parameter_tensors_first_then_vkdnw_densely():
    frame = pd.DataFrame({"vkdnw_dim": [5.0, 7.0, 5.0, 7.0, 5.0], "vkdnw": [0.2, 0.1, 0.3, 0.1, 0.2]})
    # lexicographic (dim, vkdnw): (5, .2) (7, .1) (5, .3) (7, .1) (5, .2) -> dense ranks 1 3 2 3 1
    expected = np.log(np.array([1, 3, 2, 3, 1]) / 5)
    assert ensemble_values(frame, "ensemble:vkdnw_single") == pytest.approx(expected)
    agg = set(parse_ensemble("ensemble:vkdnw_agg"))
    assert agg == {"vkdnw_dim", "vkdnw", "az_expressivity", "az_trainability", "az_complexity", "jacob_cov"}
    with pytest.raises(GradnasError, match="without scores: az_expressivity"):
        ensemble_values(frame, "ensemble:vkdnw_agg")
