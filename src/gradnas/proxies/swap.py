"""SWAP (Peng et al., ICLR 2024, arXiv 2403.04161): sample-wise activation patterns."""

from .registry import proxy


@proxy("swap", ingredients=["activation_patterns"], batch_size=16, needs_labels=False,
       paper="SWAP-NAS (Peng et al., ICLR 2024)")  # fmt: skip
def swap(probe) -> float:
    """Number of distinct sample-wise activation patterns: each ReLU unit's on/off vector over the
    batch, over every ReLU on a 4-d map, counted once per distinct vector."""
    return float(probe["activation_patterns"])
