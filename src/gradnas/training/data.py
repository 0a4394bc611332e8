"""The data a network is trained on: a seeded train/validation split and a fixed test set.

CIFAR-10 trains on the 10,000 images of the shared training file and tests on the 10,000 of its
test file. Datasets without a test file of their own (CIFAR-100's 916 surviving test images,
digits, the synthetic sets) keep a fixed fifth of their samples (drawn with seed 0, the same for
every run) as the test set and split the rest.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..data import ProbeBatch, load_cifar10, load_cifar100, load_digits, load_synthetic, load_synthetic_text
from ..errors import GradnasError
from ..registry import Registry

Pair = tuple[torch.Tensor, torch.Tensor]
TEST_FRACTION = 0.2  # of a dataset without a test file
SYNTHETIC_SAMPLES = 2000


def _cifar10(data_dir):
    train, test = (load_cifar10(data_dir, split=split, exact=False) for split in ("train", "test"))
    return train, test


# name -> data_dir -> (training source, test source or None when a fifth is held out)
SOURCES: Registry[Callable] = Registry(
    "training dataset",
    {
        "cifar10": _cifar10,
        "cifar100": lambda data_dir: (load_cifar100(data_dir), None),
        "digits": lambda data_dir: (load_digits(data_dir), None),
        "synthetic": lambda data_dir: (load_synthetic(data_dir, n=SYNTHETIC_SAMPLES), None),
        "synthetic-text": lambda data_dir: (load_synthetic_text(data_dir, n=SYNTHETIC_SAMPLES), None),
    },
)


@dataclass(frozen=True, eq=False)
class TrainData:
    """Normalized inputs (images, or token ids) and int64 labels of the three parts."""

    dataset: str
    train: Pair
    val: Pair
    test: Pair
    num_classes: int
    vocab_size: int | None = None

    @property
    def is_images(self) -> bool:
        return self.train[0].dim() == 4

    def example(self) -> ProbeBatch:
        """Two training samples: what a space's builder reads the input shape and classes from."""
        x, y = self.train
        return ProbeBatch(x[:2], y[:2], self.num_classes, self.dataset, vocab_size=self.vocab_size)


def check_fraction(val_fraction: object) -> float:
    number = isinstance(val_fraction, (int, float)) and not isinstance(val_fraction, bool)
    if not number or not 0 < val_fraction < 1:
        raise GradnasError(f"val_fraction must be a number between 0 and 1 (exclusive), got {val_fraction!r}")
    return float(val_fraction)


def load_train_data(
    dataset: str, val_fraction: float, seed: int, data_dir: str | os.PathLike | None = None
) -> TrainData:
    """`dataset`'s samples split by a permutation seeded by `seed`: the first `val_fraction` of it
    for validation, the rest for training."""
    val_fraction = check_fraction(val_fraction)
    source, test = SOURCES.lookup(dataset)(data_dir)
    pool = np.arange(len(source))
    if test is None:
        held = np.random.default_rng(0).permutation(len(source))
        cut = round(TEST_FRACTION * len(source))
        test_indices, pool = np.sort(held[:cut]), np.sort(held[cut:])
        test_pair = (source.to_tensor(test_indices), torch.from_numpy(source.y[test_indices]))
    else:
        test_pair = (test.to_tensor(), torch.from_numpy(test.y))
    order = pool[np.random.default_rng(seed).permutation(len(pool))]
    cut = round(val_fraction * len(order))
    if cut == 0 or cut == len(order):
        empty = "validation" if cut == 0 else "training"
        raise GradnasError(f"val_fraction {val_fraction} leaves no {empty} samples of {dataset}")
    val_indices, train_indices = order[:cut], order[cut:]
    return TrainData(
        dataset,
        (source.to_tensor(train_indices), torch.from_numpy(source.y[train_indices])),
        (source.to_tensor(val_indices), torch.from_numpy(source.y[val_indices])),
        test_pair,
        source.num_classes,
        getattr(source, "vocab_size", None),
    )
