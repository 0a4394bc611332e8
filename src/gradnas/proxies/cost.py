"""Cost baselines: how big the network is."""

from .registry import proxy


@proxy("params", ingredients=[], batch_size=1, needs_labels=False, paper="cost baseline")
def params(probe) -> float:
    """Number of trainable parameters (every parameter tensor, BatchNorm affine ones included)."""
    return float(sum(p.numel() for p in probe.model.parameters() if p.requires_grad))


@proxy("flops", ingredients=["macs"], batch_size=1, needs_labels=False, paper="cost baseline")
def flops(probe) -> float:
    """Multiply-accumulates of every Conv2d and Linear for one input (a count, not a rate)."""
    return probe["macs"]
