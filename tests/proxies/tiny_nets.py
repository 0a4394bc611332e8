"""Tiny float64 networks and batches with hand-chosen values, shared by the proxy tests."""

import torch
from torch import nn

from gradnas.data import ProbeBatch


def fixed_linear(*weights) -> nn.Sequential:
    layers = [nn.Flatten()]
    for w in weights:
        w = torch.as_tensor(w, dtype=torch.float64)
        layer = nn.Linear(w.shape[1], w.shape[0], bias=False).double()
        layer.weight.data.copy_(w)
        layers.append(layer)
    return nn.Sequential(*layers)


def batch(x, y, classes=2) -> ProbeBatch:
    x = torch.as_tensor(x, dtype=torch.float64)
    return ProbeBatch(x.reshape(len(x), -1, 1, 1), torch.as_tensor(y), classes)


def full_matrices(blocks) -> dict[str, torch.Tensor]:
    """An engine's column blocks put back together: parameter name -> (n, numel) gradients."""
    parts: dict[str, list] = {}
    for b in blocks:
        parts.setdefault(b.name, []).append((b.start, b.grads))
    return {n: torch.cat([g for _, g in sorted(p, key=lambda t: t[0])], 1) for n, p in parts.items()}
