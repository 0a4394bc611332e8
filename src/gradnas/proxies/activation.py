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


@proxy(
    "jacob_cov",
    ingredients=["input_jacobian"],
    batch_size=64,
    needs_labels=False,
    paper="Mellor et al. 2021 (first version)",
)
def jacob_cov(probe) -> float:
    """−Σ [log(λ + 1e-5) + 1/(λ + 1e-5)] over the eigenvalues λ of the correlation matrix of the
    per-sample input Jacobians ∂(Σ_c logit_c)/∂x_i (float64, symmetric eigensolver)."""
    jac = probe["input_jacobian"]
    centered = jac - jac.mean(1, keepdim=True)
    norms = centered.norm(dim=1)
    if bool((norms == 0).any()):
        raise Undefined("a sample's input Jacobian is constant, so its correlation is undefined")
    unit = centered / norms[:, None]
    eigenvalues = torch.linalg.eigvalsh(unit @ unit.T)
    return -float((torch.log(eigenvalues + 1e-5) + 1 / (eigenvalues + 1e-5)).sum())
