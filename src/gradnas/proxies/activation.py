"""Baselines read from activations, the NTK and the perturbation response."""

import math

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
    unit = _unit_rows(probe["input_jacobian"])
    eigenvalues = torch.linalg.eigvalsh(unit @ unit.T)
    return -float((torch.log(eigenvalues + 1e-5) + 1 / (eigenvalues + 1e-5)).sum())


def _unit_rows(jac: torch.Tensor) -> torch.Tensor:
    """Each row centred and scaled to unit norm: their Gram matrix is their correlation matrix."""
    centered = jac - jac.mean(1, keepdim=True)
    norms = centered.norm(dim=1)
    if bool((norms == 0).any()):
        raise Undefined("a sample's input Jacobian is constant, so its correlation is undefined")
    return centered / norms[:, None]


@proxy(
    "epe_nas",
    ingredients=["input_jacobian"],
    batch_size=64,
    paper="EPE-NAS (Lopes et al., ICANN 2021)",
)
def epe_nas(probe) -> float:
    """Σ_c |Σ_ij log(|R_c,ij| + 1e-5)|, R_c the correlation matrix of class c's input Jacobians.

    With more than 100 classes, each class's sum is divided by its sample count and the score is
    Σ_c Σ_c' |s_c − s_c'| / classes (NASLib's reading of EPE-NAS, as NAS-Bench-Suite-Zero)."""
    jac, labels = probe["input_jacobian"], probe.labels
    many = probe.batch.num_classes > 100
    sums = []
    for c in torch.unique(labels):
        rows = jac[labels == c]
        if len(rows) == 1:  # a 1×1 correlation "matrix": 1, and NASLib skips it with many classes
            if not many:
                sums.append(math.log(1 + 1e-5))
            continue
        unit = _unit_rows(rows)
        s = float(torch.log((unit @ unit.T).abs() + 1e-5).sum())
        sums.append(s / len(rows) if many else s)
    if not many:
        return sum(abs(s) for s in sums)
    if not sums:
        raise Undefined("no class has two samples in the batch, so no class correlation exists")
    return sum(abs(a - b) for a in sums for b in sums) / len(sums)


@proxy(
    "ntk_cond",
    ingredients=["ntk_gram"],
    batch_size=64,
    needs_labels=False,
    paper="TE-NAS (Chen et al., ICLR 2021)",
)
def ntk_cond(probe) -> float:
    """−λ_max/λ_min of the NTK G Gᵀ: a better-conditioned network trains faster (TE-NAS).

    Float64 and a symmetric eigensolver; a smaller condition number ranks higher (Chen et al. 2021)."""
    eigenvalues = torch.linalg.eigvalsh(probe["ntk_gram"])
    smallest, largest = float(eigenvalues[0]), float(eigenvalues[-1])
    # below this the smallest eigenvalue is rounding noise of the probe-precision gradients
    if smallest <= largest * probe.n * torch.finfo(probe.dtype).eps:
        raise Undefined(f"the NTK is singular (eigenvalues {smallest:.3g} to {largest:.3g})")
    return -largest / smallest


@proxy(
    "linear_regions",
    ingredients=["region_count"],
    batch_size=1000,
    needs_labels=False,
    paper="TE-NAS (Chen et al., ICLR 2021)",
)
def linear_regions(probe) -> float:
    """Number of distinct ReLU activation patterns over the probe inputs (TE-NAS expressivity).

    Counted on the probe's thin network over 1,000 seeded 3×3 crops when it has one (`gradnas`
    builds it for NB201: C = 1, N = 1), else on the model over the probe batch, where a full-width
    network gives nearly every sample its own pattern."""
    return float(probe["region_count"])


@proxy(
    "zen",
    ingredients=["zen_terms"],
    batch_size=64,
    needs_labels=False,
    paper="Zen-NAS (Lin et al., ICCV 2021)",
)
def zen(probe) -> float:
    """log Δ + Σ_BN log √mean(running_var): Zen-NAS's expressivity at Gaussian initialisation.

    Δ is the pre-pooling features' response to a γ = 0.01 input perturbation, and the sum rescales
    it by the BatchNorm variances (Lin et al. 2021)."""
    delta, bn_log_scale = probe["zen_terms"]
    if delta <= 0:
        raise Undefined("the pre-pooling features do not respond to input perturbation (Δ = 0)")
    return math.log(delta) + bn_log_scale
