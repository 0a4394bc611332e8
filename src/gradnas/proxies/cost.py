"""Cost baselines: how big the network is."""

import math

from .registry import Undefined, proxy
from .saliency import SUITE_ZERO


@proxy("params", ingredients=[], batch_size=1, needs_labels=False, paper="cost baseline")
def params(probe) -> float:
    """Number of trainable parameters (every parameter tensor, BatchNorm affine ones included)."""
    return float(sum(p.numel() for p in probe.model.parameters() if p.requires_grad))


@proxy("flops", ingredients=["macs"], batch_size=1, needs_labels=False, paper="cost baseline")
def flops(probe) -> float:
    """Multiply-accumulates of every Conv2d and Linear for one input (a count, not a rate)."""
    return probe["macs"]


@proxy("l2_norm", ingredients=[], batch_size=1, needs_labels=False, paper=SUITE_ZERO)
def l2_norm(probe) -> float:
    """Σ_l ‖W_l‖₂ over the Conv2d and Linear weights (NAS-Bench-Suite-Zero's `l2_norm`, from NASLib)."""
    weights = dict(probe.model.named_parameters())
    norms = [float(weights[name].detach().norm()) for name in probe.scored]
    if not all(map(math.isfinite, norms)):
        raise Undefined("a Conv2d or Linear weight holds NaN or infinite values")
    return sum(norms)
