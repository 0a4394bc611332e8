"""Recipes: presets, overrides, checks, and the learning rate at hand-checked steps."""

import math
import re

import pytest

from gradnas.errors import GradnasError
from gradnas.training import RECIPES, get_recipe, learning_rate


def test_presets_hold_the_published_settings():
    nb201, darts = RECIPES["nb201"], RECIPES["darts"]
    assert (nb201.lr, nb201.momentum, nb201.nesterov, nb201.weight_decay, nb201.batch_size) == (
        0.1, 0.9, True, 5e-4, 256
    )  # fmt: skip
    assert (nb201.crop_padding, nb201.flip, nb201.lr_min, nb201.epochs) == (4, True, 0.0, 200)
    assert (darts.lr, darts.momentum, darts.nesterov, darts.weight_decay, darts.batch_size) == (
        0.025, 0.9, False, 3e-4, 96
    )  # fmt: skip
    assert darts.cutout == 0 and get_recipe("darts", cutout=16).cutout == 16
    assert RECIPES["quick"].epochs < 10


def test_overrides_replace_fields_and_none_keeps_them():
    recipe = get_recipe("nb201", epochs=3, lr=0.05, batch_size=None)
    assert (recipe.epochs, recipe.lr, recipe.batch_size, recipe.name) == (3, 0.05, 256, "nb201")


@pytest.mark.parametrize(
    "name, overrides, says",
    [
        ("fast", {}, "unknown recipe 'fast'; valid choices: darts, nb201, quick"),
        ("quick", {"epochs": 0}, "epochs must be an int >= 1"),
        ("quick", {"epochs": 2.5}, "epochs must be an int >= 1"),
        ("quick", {"lr": -0.1}, "lr must be a non-negative number"),
        ("quick", {"lr": math.nan}, "lr must be a non-negative number"),
        ("quick", {"lr_min": 0.5}, "lr must be positive and >= lr_min"),
        ("quick", {"warmup_epochs": 5}, "warmup_epochs (5) must be fewer than epochs (5)"),
        ("quick", {"color": 1}, "unknown recipe field 'color'"),
        ("darts", {"nesterov": True, "momentum": 0.0}, "Nesterov momentum needs momentum > 0"),
    ],
)
def test_bad_recipes_are_one_line_errors(name, overrides, says):
    with pytest.raises(GradnasError, match=re.escape(says)):
        get_recipe(name, **overrides)


def test_cosine_without_warm_up_by_hand():
    recipe = get_recipe("quick", epochs=4, lr=0.1)  # 2 steps per epoch: 8 steps
    assert learning_rate(recipe, 0, 8) == pytest.approx(0.1)
    assert learning_rate(recipe, 2, 8) == pytest.approx(0.1 * (1 + math.sqrt(0.5)) / 2)  # cos(π/4)
    assert learning_rate(recipe, 4, 8) == pytest.approx(0.05)
    assert learning_rate(recipe, 6, 8) == pytest.approx(0.1 * (1 - math.sqrt(0.5)) / 2)
    assert learning_rate(recipe, 8, 8) == pytest.approx(0.0, abs=1e-15)  # after the last step
    with_floor = get_recipe("quick", epochs=4, lr=0.1, lr_min=0.02)
    assert learning_rate(with_floor, 4, 8) == pytest.approx(0.06)


def test_cosine_with_warm_up_by_hand():
    recipe = get_recipe("quick", epochs=4, lr=0.1, warmup_epochs=1)  # 8 steps, the first 2 warm up
    assert [learning_rate(recipe, s, 8) for s in (0, 1, 2)] == pytest.approx([0.05, 0.1, 0.1])
    assert learning_rate(recipe, 5, 8) == pytest.approx(0.05)  # halfway through the 6 cosine steps
    assert learning_rate(recipe, 8, 8) == pytest.approx(0.0, abs=1e-15)
