"""Probe batches: determinism, the documented draw order, class balance, validation."""

import numpy as np
import pytest
import torch

from gradnas.data import ProbeBatch, draw_batch, load_dataset, probe_batch
from gradnas.errors import GradnasError


@pytest.fixture(scope="module")
def synth():
    return load_dataset("synthetic", n=200, shape=(3, 4, 4), num_classes=10, seed=0)


@pytest.fixture(scope="module")
def cifar100():
    return load_dataset("cifar100")


def test_uniform_draw_is_the_numpy_choice_in_order(synth):
    b = draw_batch(synth, 32, seed=7)
    expected = np.random.default_rng(7).choice(len(synth), 32, replace=False)
    assert b.indices == tuple(int(i) for i in expected)
    assert torch.equal(b.x, synth.to_tensor(expected))
    assert b.y.tolist() == synth.y[expected].tolist()
    assert b.mode == "uniform" and b.seed == 7 and b.dataset == "synthetic"
    assert b.x.dtype == torch.float32 and b.y.dtype == torch.int64
    assert len(b) == 32 and b.input_shape == (3, 4, 4) and b.num_classes == 10


def test_same_seed_same_batch_other_seed_other_batch(synth):
    a, b = draw_batch(synth, 16, 3), draw_batch(synth, 16, 3)
    assert a.indices == b.indices and torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert draw_batch(synth, 16, 4).indices != a.indices
    assert draw_batch(synth, 16, 3, per_class=4).indices == draw_batch(synth, 16, 3,
                                                                       per_class=4).indices


def test_uniform_batch_may_be_the_whole_set(synth):
    b = draw_batch(synth, len(synth), 0)
    assert sorted(b.indices) == list(range(len(synth)))


def test_batch_larger_than_data_says_what_is_available(synth):
    with pytest.raises(GradnasError, match="batch_size 201 exceeds the 200 samples"):
        draw_batch(synth, 201, 0)


def test_cifar100_balanced_16_classes_of_8(cifar100):
    b = draw_batch(cifar100, 128, seed=0, per_class=8)
    assert b.mode == "balanced" and len(b) == 128 and b.num_classes == 100
    labels = b.y.tolist()
    counts = np.bincount(labels, minlength=100)
    assert sorted(c for c in counts if c) == [8] * 16
    # grouped by class, in drawn class order
    blocks = [labels[i:i + 8] for i in range(0, 128, 8)]
    assert all(len(set(block)) == 1 for block in blocks)
    assert len({block[0] for block in blocks}) == 16
    assert len(set(b.indices)) == 128
    assert np.array_equal(cifar100.y[list(b.indices)], b.y.numpy())


def test_balanced_draw_follows_the_documented_recipe(synth):
    b = draw_batch(synth, 12, seed=5, per_class=3)
    rng = np.random.default_rng(5)
    counts = np.bincount(synth.y, minlength=10)
    classes = rng.choice(np.flatnonzero(counts >= 3), 4, replace=False)
    expected = np.concatenate([rng.choice(np.flatnonzero(synth.y == c), 3, replace=False)
                               for c in classes])
    assert b.indices == tuple(int(i) for i in expected)


def test_balanced_only_uses_classes_with_enough_samples(cifar100):
    counts = np.bincount(cifar100.y, minlength=100)
    for seed in range(5):
        b = draw_batch(cifar100, 120, seed, per_class=12)
        assert all(counts[c] >= 12 for c in set(b.y.tolist()))


def test_impossible_balance_says_what_is_available(cifar100):
    with pytest.raises(GradnasError, match="needs 22 classes with >= 12 samples; 'cifar100' "
                                           r"\(test-exact\) has 21 such classes"):
        draw_batch(cifar100, 264, 0, per_class=12)
    with pytest.raises(GradnasError, match="not a multiple of per_class 8"):
        draw_batch(cifar100, 100, 0, per_class=8)


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"batch_size": 2.5}, {"seed": -1},
                                    {"per_class": 0}, {"seed": True}])
def test_bad_arguments(synth, kwargs):
    args = {"batch_size": 8, "seed": 0, "per_class": None} | kwargs
    with pytest.raises(GradnasError):
        draw_batch(synth, **args)


def test_probe_batch_convenience_matches_draw_batch():
    a = probe_batch("cifar10", batch_size=64, seed=1)
    b = draw_batch(load_dataset("cifar10"), 64, 1)
    assert a.indices == b.indices and torch.equal(a.x, b.x)
    assert a.dataset == "cifar10" and a.variant == "train-exact"
    c = probe_batch("synthetic", batch_size=8, seed=0, n=20, shape=(1, 2, 2), num_classes=2)
    assert c.x.shape == (8, 1, 2, 2)
    d = probe_batch("digits", 100, seed=0, per_class=10)
    assert d.x.shape == (100, 1, 8, 8)
    assert np.bincount(d.y.numpy()).tolist() == [10] * 10
    with pytest.raises(GradnasError, match="unknown dataset"):
        probe_batch("nope")


def test_to_returns_a_cast_copy(synth):
    b = draw_batch(synth, 8, 0)
    d = b.to(torch.float64)
    assert d.x.dtype == torch.float64 and b.x.dtype == torch.float32
    assert torch.equal(d.x, b.x.double()) and torch.equal(d.y, b.y)
    assert d.indices == b.indices and d.seed == b.seed and d.mode == b.mode
    same = b.to(torch.float32)
    same.x.zero_()
    assert b.x.abs().sum() > 0  # a copy, not a view of the original
    with pytest.raises(GradnasError, match="floating point"):
        b.to(torch.int64)


def test_probebatch_validation():
    x = torch.zeros(4, 1, 2, 2)
    y = torch.zeros(4, dtype=torch.int64)
    ProbeBatch(x, y, 3)  # provenance fields have defaults for hand-made batches
    with pytest.raises(GradnasError, match="floating"):
        ProbeBatch(x[0], y, 3)
    with pytest.raises(GradnasError, match="int64"):
        ProbeBatch(x, y.int(), 3)
    with pytest.raises(GradnasError, match="4 samples but y has 3"):
        ProbeBatch(x, y[:3], 3)
    with pytest.raises(GradnasError, match=r"\[0, 3\)"):
        ProbeBatch(x, y + 3, 3)
    with pytest.raises(GradnasError, match=r"\[0, 3\)"):
        ProbeBatch(x, y - 1, 3)
    with pytest.raises(GradnasError, match="mode"):
        ProbeBatch(x, y, 3, mode="random")
    with pytest.raises(GradnasError, match="2 indices"):
        ProbeBatch(x, y, 3, indices=(0, 1))
    with pytest.raises(AttributeError):
        ProbeBatch(x, y, 3).seed = 1  # frozen


def test_probe_batch_repr_is_one_short_line():
    batch = probe_batch("synthetic", batch_size=64, seed=3)
    text = repr(batch)
    assert text == "ProbeBatch(x=(64, 3, 32, 32) float32, num_classes=10, synthetic/seed0, uniform, seed=3)"
