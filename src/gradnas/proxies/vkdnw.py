"""VKDNW (Týbl & Neumann, CVPR 2025, arXiv 2502.04975): the entropy of the Fisher information
spectrum of a sampled subset of weights. Its rankings, VKDNW_single and VKDNW_agg, rank a
population lexicographically and by log-rank sums: ensemble rules in gradnas.evaluate.ensemble."""

import torch

from .features import FISHER_QUANTILES
from .registry import Undefined, proxy

PAPER = "VKDNW (Týbl & Neumann, CVPR 2025)"


@proxy("vkdnw", ingredients=["fisher_spectrum"], batch_size=64, needs_labels=False, paper=PAPER)
def vkdnw(probe) -> float:
    """Entropy −Σ q̃ log q̃ of the nine deciles q of the Fisher eigenvalues, q̃ = q / Σq, the Fisher
    taken over the first coordinate of every parameter tensor (eval-mode network)."""
    spectrum = probe["fisher_spectrum"]
    deciles = torch.quantile(spectrum, FISHER_QUANTILES.to(spectrum))
    if float(deciles.sum()) == 0:
        raise Undefined("the Fisher information's deciles are all zero")
    q = deciles / (deciles.sum() + 1e-10)
    return float(-(q * torch.log(q + 1e-10)).sum())


@proxy("vkdnw_dim", ingredients=[], batch_size=1, needs_labels=False, paper=PAPER)
def vkdnw_dim(probe) -> float:
    """Number of parameter tensors (ℵ): VKDNW_single ranks by it first, then by `vkdnw`."""
    return float(len(list(probe.model.parameters())))
