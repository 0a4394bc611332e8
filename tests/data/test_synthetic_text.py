"""The synthetic token dataset and token probe batches."""

import numpy as np
import pytest
import torch

from gradnas.data import ProbeBatch, TokenSet, draw_batch, load_dataset, probe_batch
from gradnas.errors import GradnasError


def keyword_counts(x: np.ndarray, num_classes: int) -> np.ndarray:
    """(N, classes): occurrences of each class's two keyword ids (class c owns 2c and 2c + 1)."""
    return np.stack([((x == 2 * c) | (x == 2 * c + 1)).sum(1) for c in range(num_classes)], 1)


@pytest.mark.parametrize("num_classes", [2, 5])
def test_labels_are_the_class_with_the_most_keywords(num_classes):
    s = load_dataset("synthetic-text", n=300, length=20, vocab_size=50, num_classes=num_classes)
    assert isinstance(s, TokenSet) and s.x.shape == (300, 20) and s.x.dtype == np.int64
    assert s.input_shape == (20,) and s.vocab_size == 50 and s.num_classes == num_classes
    assert s.x.min() >= 0 and s.x.max() < 50
    counts = keyword_counts(s.x, num_classes)
    top = np.sort(counts, 1)
    assert np.array_equal(counts.argmax(1), s.y) and bool((top[:, -1] == 3).all() and (top[:, -2] < 3).all())
    assert np.bincount(s.y).tolist() == [300 // num_classes] * num_classes
    background = s.x[s.x >= 2 * num_classes]
    assert len(np.unique(background)) == 50 - 2 * num_classes  # every background id is used


def test_synthetic_text_is_seeded():
    a, b = load_dataset("synthetic-text", seed=3), load_dataset("synthetic-text", seed=3)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y) and a.variant == "seed3"
    assert not np.array_equal(a.x, load_dataset("synthetic-text", seed=4).x)
    assert a.x.shape == (512, 32) and a.vocab_size == 100 and a.num_classes == 2


@pytest.mark.parametrize(
    "options, message",
    [
        ({"num_classes": 1}, "num_classes must be an int >= 2"),
        ({"vocab_size": 4}, r"vocab_size \(4 keyword ids \+ background\) must be an int >= 5, got 4"),
        ({"num_classes": 4, "length": 8}, r"length \(room for 4 classes' keywords\) must be an int >= 9"),
        ({"n": 0}, "n must be an int >= 1"),
        ({"shape": (3, 8, 8)}, "has no option 'shape'"),
    ],
)
def test_synthetic_text_rejects_bad_options(options, message):
    with pytest.raises(GradnasError, match=message):
        load_dataset("synthetic-text", **options)


def test_token_probe_batch():
    b = probe_batch("synthetic-text", batch_size=12, seed=1, per_class=6)
    source = load_dataset("synthetic-text")
    assert b.x.dtype == torch.int64 and b.x.shape == (12, 32) and b.is_tokens
    assert b.vocab_size == 100 and b.input_shape == (32,) and b.dataset == "synthetic-text"
    assert torch.equal(b.x, torch.from_numpy(source.x[list(b.indices)]))
    assert b.y.tolist().count(0) == b.y.tolist().count(1) == 6
    same = b.to(torch.float64)  # token ids stay ids
    assert same.x.dtype == torch.int64 and torch.equal(same.x, b.x) and same.vocab_size == 100
    assert same.x.data_ptr() != b.x.data_ptr()
    assert torch.equal(draw_batch(source, 12, 1, per_class=6).x, b.x)


def test_probebatch_token_validation():
    x, y = torch.tensor([[0, 4, 2], [1, 1, 3]]), torch.tensor([0, 1])
    assert ProbeBatch(x, y, 2, vocab_size=5).input_shape == (3,)
    assert not ProbeBatch(torch.zeros(2, 1, 2, 2), y, 2).is_tokens
    with pytest.raises(GradnasError, match="a token batch's vocab_size must be an int >= 1, got None"):
        ProbeBatch(x, y, 2)
    with pytest.raises(GradnasError, match=r"token ids must lie in \[0, 4\), got \[0, 4\]"):
        ProbeBatch(x, y, 2, vocab_size=4)
    with pytest.raises(GradnasError, match="vocab_size is for token batches"):
        ProbeBatch(torch.zeros(2, 1, 2, 2), y, 2, vocab_size=5)
    with pytest.raises(GradnasError, match=r"int64 \(n,L\) token tensor, got torch.int32"):
        ProbeBatch(x.int(), y, 2, vocab_size=5)
    with pytest.raises(GradnasError, match="floating"):
        ProbeBatch(x.double(), y, 2)
    with pytest.raises(GradnasError, match="at least one token"):
        ProbeBatch(x[:, :0], y, 2, vocab_size=5)
