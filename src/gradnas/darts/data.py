"""The images of a differentiable search: one seeded draw split into a train half (for the weights)
and a val half (for α), downsampled once up front so that every epoch reads from memory."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from gradnas.data.sources import ImageSet, load_cifar10, load_digits
from gradnas.errors import GradnasError
from gradnas.registry import Registry
from gradnas.training.augment import random_crop, random_flip

Batch = tuple[torch.Tensor, torch.Tensor]

# CIFAR-10: all 10,000 JPEG-decoded training images of the shared file (not only the exact prefix).
SOURCES: Registry[Callable[[str | os.PathLike | None], ImageSet]] = Registry(
    "differentiable search dataset",
    {"cifar10": lambda data_dir: load_cifar10(data_dir, split="train", exact=False), "digits": load_digits},
)


@dataclass(frozen=True)
class SearchData:
    train: Batch
    val: Batch
    num_classes: int

    @property
    def in_channels(self) -> int:
        return int(self.train[0].shape[1])

    def to(self, device: torch.device) -> SearchData:
        """Both halves on `device` (drawn on the CPU, so every device searches the same images)."""
        x_train, y_train, x_val, y_val = (t.to(device) for t in (*self.train, *self.val))
        return SearchData((x_train, y_train), (x_val, y_val), self.num_classes)


def downsample(x: torch.Tensor, size: int) -> torch.Tensor:
    """(n, C, H, W) images average-pooled to size×size; images no larger than that are kept as they are
    (pooling never upsamples). Equals plain `avg_pool2d` with window H/size when size divides H."""
    if size >= max(x.shape[-2:]):
        return x
    return F.adaptive_avg_pool2d(x, size)


def load_search_data(
    dataset: str, data_dir: str | os.PathLike | None, samples: int, size: int, seed: int
) -> SearchData:
    """`samples` images drawn without replacement (seeded by `seed`), the first half for training the
    weights and the second for α; an odd image out is left unused so the halves are equal."""
    images = SOURCES.lookup(dataset)(data_dir)
    if samples > len(images):
        raise GradnasError(f"{dataset} has {len(images)} images, fewer than the {samples} samples asked for")
    chosen = np.random.default_rng(seed).permutation(len(images))[:samples]
    half = samples // 2
    x = downsample(images.to_tensor(chosen), size)
    y = torch.from_numpy(images.y[chosen])
    return SearchData((x[:half], y[:half]), (x[half : 2 * half], y[half : 2 * half]), images.num_classes)


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """DARTS's search augmentation of a batch: a random crop out of the image padded by 1/8 of its
    side (4 pixels at 32×32, 2 at 16×16, at least 1), then a horizontal flip with probability 1/2."""
    return random_flip(random_crop(x, max(1, x.shape[-1] // 8), generator), generator)
