"""Activation-pattern baselines (SPEC §3)."""

import torch

from .registry import Undefined, proxy


@proxy(
    "naswot",
    ingredients=["relu_kernel"],
    batch_size=128,
    needs_labels=False,
    paper="NASWOT (Mellor et al., ICML 2021)",
)
def naswot(probe) -> float:
    """log |det K|, K_ij = how many ReLU units samples i and j agree on (both on or both off).

    K is accumulated and its log-determinant taken in float64 (Mellor et al. 2021, NASWOT)."""
    sign, logdet = torch.linalg.slogdet(probe["relu_kernel"])
    if sign == 0:
        raise Undefined("the ReLU-agreement kernel is singular (two samples share every code)")
    return float(logdet)
