"""Token datasets for the text search spaces (papers 000 §7, 001 §8).

The papers probe on GLUE's MRPC and RTE, which are not shipped here; `synthetic-text` is a seeded,
file-free stand-in with the same shape of problem: fixed-length token sequences, a label that is a
learnable function of the tokens.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from gradnas.data.sources import DATASETS, checked_indices
from gradnas.errors import GradnasError
from gradnas.validate import positive_int

KEYWORDS_PER_CLASS = 2  # class c owns token ids c*2 and c*2 + 1
PLANTED = 3  # keyword occurrences of the true class; every other class gets fewer


@dataclass(frozen=True, eq=False)
class TokenSet:
    """Labelled token sequences: ``x`` int64 (N, L) ids in [0, vocab_size), ``y`` int64 (N,)."""

    name: str
    x: np.ndarray
    y: np.ndarray
    num_classes: int
    vocab_size: int
    variant: str = ""

    def __post_init__(self) -> None:
        x, y = self.x, self.y
        if not isinstance(x, np.ndarray) or x.ndim != 2 or x.dtype != np.int64 or x.shape[1] < 1:
            raise GradnasError(
                f"{self.name}: x must be an int64 (N, L) array of token ids, got "
                f"{getattr(x, 'dtype', type(x).__name__)} {getattr(x, 'shape', '')}"
            )
        if not isinstance(y, np.ndarray) or y.dtype != np.int64 or y.shape != (x.shape[0],):
            raise GradnasError(f"{self.name}: y must be int64 of shape ({x.shape[0]},)")
        if y.size and (y.min() < 0 or y.max() >= self.num_classes):
            raise GradnasError(f"{self.name}: labels must lie in [0, {self.num_classes})")
        if x.size and (x.min() < 0 or x.max() >= self.vocab_size):
            raise GradnasError(f"{self.name}: token ids must lie in [0, {self.vocab_size})")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def input_shape(self) -> tuple[int]:
        """(L,), the sequence length a network sees per sample."""
        return (int(self.x.shape[1]),)

    def to_tensor(self, indices: Sequence[int] | np.ndarray | None = None) -> torch.Tensor:
        """int64 (n, L) token ids of the given samples (all when ``None``)."""
        rows = self.x if indices is None else self.x[checked_indices(self.name, len(self), indices)]
        return torch.from_numpy(np.ascontiguousarray(rows))


def load_synthetic_text(
    data_dir: str | os.PathLike | None = None,
    *,
    n: int = 512,
    length: int = 32,
    vocab_size: int = 100,
    num_classes: int = 2,
    seed: int = 0,
) -> TokenSet:
    """Seeded sequences labelled by the keyword class that occurs most often (a bag-of-words rule).

    Ids below ``num_classes * 2`` are keywords (two per class), the rest background. A sample of
    class c gets 3 keywords of c and 0-2 (uniform) of each other class at random positions, the
    rest uniform background, so ``y = argmax_c count_c`` with a strict maximum. Labels are
    balanced and shuffled. ``data_dir`` is ignored.
    """
    n, seed = positive_int(n, "synthetic-text n"), positive_int(seed, "synthetic-text seed", 0)
    num_classes = positive_int(num_classes, "synthetic-text num_classes", 2)
    keywords = num_classes * KEYWORDS_PER_CLASS
    vocab_size = positive_int(
        vocab_size, f"synthetic-text vocab_size ({keywords} keyword ids + background)", keywords + 1
    )
    room = PLANTED + (num_classes - 1) * (PLANTED - 1)
    length = positive_int(length, f"synthetic-text length (room for {num_classes} classes' keywords)", room)
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n, dtype=np.int64) % num_classes)
    x = rng.integers(keywords, vocab_size, size=(n, length), dtype=np.int64)
    counts = rng.integers(0, PLANTED, size=(n, num_classes))
    counts[np.arange(n), y] = PLANTED
    for i in range(n):
        classes = np.repeat(np.arange(num_classes), counts[i])
        ids = classes * KEYWORDS_PER_CLASS + rng.integers(KEYWORDS_PER_CLASS, size=len(classes))
        x[i, rng.choice(length, len(ids), replace=False)] = ids
    return TokenSet("synthetic-text", x, y, num_classes, vocab_size, variant=f"seed{seed}")


DATASETS.add("synthetic-text", load_synthetic_text)
