"""The registry checks a proxy's ingredients when it is registered, and while it runs."""

import dataclasses

import pytest
from torch import nn

from gradnas import probe_batch
from gradnas.proxies import PROXIES, Probe, evaluate, proxy
from gradnas.proxies.observed import OBSERVERS
from gradnas.proxies.probe import DIRECT, SWEEPS, UndeclaredIngredient
from gradnas.proxies.registry import INGREDIENTS


def test_the_registry_knows_exactly_the_ingredients_a_probe_computes():
    assert INGREDIENTS == set(SWEEPS) | set(DIRECT) | set(OBSERVERS)


def test_an_unknown_ingredient_is_refused_at_registration():
    with pytest.raises(ValueError, match=r"proxy 'typo' names unknown ingredients \['sign_summ'\]; known: "):

        @proxy("typo", ingredients=["sign_summ"])
        def typo(probe):
            return 0.0

    assert "typo" not in PROXIES


def test_reading_an_undeclared_ingredient_is_a_bug_not_a_nan():
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    probe = Probe(net, probe_batch("digits", batch_size=8, seed=0))
    sneaky = dataclasses.replace(PROXIES["gradsign"], ingredients=("relu_kernel",))
    with pytest.raises(UndeclaredIngredient, match="a proxy read 'sign_sum' without declaring it"):
        evaluate(sneaky, probe)
    assert evaluate(PROXIES["gradsign"], probe).ok  # the declared reading works on the same probe


def test_the_default_proxies_are_the_seed_readings_that_rank_forwards():
    from gradnas.proxies import FORWARD_PROXIES, SEED_PROXIES, score
    from gradnas.proxies.measured import NB201_RHO

    forward = {n for n, (c10, c100, _) in NB201_RHO.items() if c10 > 0 and (c100 or 0) > 0}
    assert set(FORWARD_PROXIES) <= forward
    backwards = {n for n in SEED_PROXIES if n not in forward}
    assert backwards == {"knas", "gt_correlation", "gradalign_1", "gradalign_2"}
    assert not backwards & set(FORWARD_PROXIES)
    assert {"gradalign_2_diverse", "gradalign_2_sign_diverse"} <= set(FORWARD_PROXIES)  # forward readings
    assert score.__defaults__[0] == FORWARD_PROXIES
