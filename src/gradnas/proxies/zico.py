"""ZiCo (Li et al., ICLR 2023, arXiv 2301.11300): the inverse coefficient of variation of gradients
across mini-batches, here the two halves of the probe batch as in the authors' code (each half's
gradient on its own, as the paper defines it; docs/proxies.md says where the code differs)."""

import math

import torch

from .registry import Undefined, proxy


@proxy("zico", ingredients=["split_grads"], batch_size=128, paper="ZiCo (Li et al., ICLR 2023)")
def zico(probe) -> float:
    """Σ_layers log Σ_k mean_b|g_bk| / std_b(g_bk) over the two half-batch gradients b, summed over
    coordinates k whose std is non-zero, for every Conv2d/Linear weight.

    A layer whose gradients do not vary between the halves adds nothing (as in the authors' code)."""
    halves = probe["split_grads"]
    total, layers = 0.0, 0
    for name in halves[0]:
        g = torch.stack([h[name].reshape(-1) for h in halves])
        std = g.std(0, unbiased=False)
        varying = std > 0
        ratio = float((g.abs().mean(0)[varying] / std[varying]).sum())
        if ratio > 0:
            total, layers = total + math.log(ratio), layers + 1
    if not layers:
        raise Undefined("no layer's gradient differs between the two half-batches")
    return total
