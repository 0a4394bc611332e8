"""Vectors in parameter space as lists of tensors, one per parameter, so products never flatten a model."""

from __future__ import annotations

from collections.abc import Sequence

import torch

Vector = list[torch.Tensor]


def dot(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> torch.Tensor:
    """⟨a, b⟩ summed over all parameters."""
    return torch.stack([(x * y).sum() for x, y in zip(a, b, strict=True)]).sum()


def norm(a: Sequence[torch.Tensor]) -> torch.Tensor:
    return dot(a, a).sqrt()


def cosine(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> float:
    """cos∠(a, b); 0 when either is the zero vector (no direction to agree with)."""
    denominator = float(norm(a) * norm(b))
    return float(dot(a, b)) / denominator if denominator > 0 else 0.0


def flatten(a: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.cat([x.reshape(-1) for x in a])


def unflatten(flat: torch.Tensor, like: Sequence[torch.Tensor]) -> Vector:
    """Split `flat` into tensors shaped, typed and placed like `like`."""
    out, start = [], 0
    for p in like:
        out.append(flat[start : start + p.numel()].reshape(p.shape).to(p))
        start += p.numel()
    return out
