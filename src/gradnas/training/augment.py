"""Image augmentation on normalized (n, C, H, W) batches, every draw from one seeded generator.

The standard CIFAR recipe pads with zeros before normalizing; padding the normalized batch with
zeros instead fills the border with the mean colour, which is what these do.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Each image cut at a uniform offset (0..2·padding on each axis) out of its zero-padded copy."""
    if padding == 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator).tolist()
    crops = [padded[i, :, top : top + h, left : left + w] for i, (top, left) in enumerate(offsets)]
    return torch.stack(crops)


def random_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image mirrored left-right with probability 1/2."""
    flip = torch.rand(x.shape[0], generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def cutout(x: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Each image with a size×size square of zeros centred on a uniform pixel (clipped at the
    border), as in "Improved Regularization of CNNs with Cutout" (DeVries & Taylor, arXiv 1708.04552)."""
    if size == 0:
        return x
    n, _, h, w = x.shape
    rows = torch.randint(0, h, (n,), generator=generator)
    cols = torch.randint(0, w, (n,), generator=generator)
    r, c = torch.arange(h)[None, :], torch.arange(w)[None, :]
    top, left = rows[:, None] - size // 2, cols[:, None] - size // 2
    inside_rows = (r >= top) & (r < top + size)
    inside_cols = (c >= left) & (c < left + size)
    hole = inside_rows[:, :, None] & inside_cols[:, None, :]
    return x.masked_fill(hole[:, None], 0.0)
