"""Gradient kernels: KNAS's mean of the Gram matrix (KNAS, ICML 2021, arXiv 2111.13293) and GT-NAS's gradient
correlation, value and kernel (GT-NAS, ICLR 2021 submission)."""

import torch

from .probe import GT_COORDS, KNAS_COORDS
from .registry import Undefined, proxy


def _need_samples(probe, count: int, what: str) -> None:
    if probe.n < count:
        raise Undefined(f"{what} is defined on {count} samples; the probe batch has {probe.n}")


@proxy("mgm", ingredients=["grad_sum"], paper="KNAS (Xu et al., ICML 2021)")
def mgm(probe) -> float:
    """KNAS Eq. 15: mean of the per-sample gradient Gram matrix, ‖(1/n) Σ_i g_i‖²."""
    return sum(float(s.square().sum()) for s in probe["grad_sum"].values()) / probe.n**2


@proxy("mgm_layerwise", ingredients=["grad_sum"], paper="KNAS (Xu et al., ICML 2021)")
def mgm_layerwise(probe) -> float:
    """KNAS Eq. 16: the Gram-matrix mean of each scored layer, averaged over layers."""
    sums = probe["grad_sum"].values()
    return sum(float(s.square().sum()) for s in sums) / probe.n**2 / len(sums)


@proxy("knas", ingredients=["knas_columns"], batch_size=KNAS_COORDS, paper="KNAS (Xu et al., ICML 2021)")
def knas(probe) -> float:
    """The KNAS reference estimator: 50 samples split into halves a and b; Σ over the first 50
    coordinates of the first 11 parameters (≥ 50 elements) of Σ_k (a_k − ā)(b_k − b̄) / 2500."""
    _need_samples(probe, KNAS_COORDS, "knas")
    half = KNAS_COORDS // 2
    total = 0.0
    for g in probe["knas_columns"].values():
        a, b = g[:half], g[half:KNAS_COORDS]
        total += float(((a - a.mean(0)) * (b - b.mean(0))).sum())
    return total / KNAS_COORDS**2


def _gt_layers(probe) -> list[torch.Tensor]:
    """μ = 50 samples × θ = 50 sampled coordinates per scored layer (GT-NAS §3)."""
    _need_samples(probe, GT_COORDS, "GT-NAS")
    return [g[:GT_COORDS] for g in probe["sampled_columns"].values()]


@proxy(
    "gt_correlation",
    ingredients=["sampled_columns"],
    batch_size=GT_COORDS,
    paper="GT-NAS (ICLR 2021 submission)",
)
def gt_correlation(probe) -> float:
    """GT-NAS R (Eq. 2–3): mean pairwise cosine of per-sample gradients, averaged over layers.

    A zero gradient has no direction: its rows are left out of its layer's mean, and a layer
    whose sampled gradients are all zero is left out of the average over layers.
    """
    means = []
    for g in _gt_layers(probe):
        norms = g.norm(dim=1)
        unit = g[norms > 0] / norms[norms > 0, None]
        if len(unit):
            means.append(float((unit @ unit.T).mean()))
    if not means:
        raise Undefined("every sampled per-sample gradient is zero")
    return sum(means) / len(means)


@proxy(
    "gt_value", ingredients=["sampled_columns"], batch_size=GT_COORDS, paper="GT-NAS (ICLR 2021 submission)"
)
def gt_value(probe) -> float:
    """GT-NAS V (Eq. 4): mean absolute sampled gradient, averaged over layers."""
    layers = _gt_layers(probe)
    return sum(float(g.abs().mean()) for g in layers) / len(layers)


@proxy(
    "gt_kernel", ingredients=["sampled_columns"], batch_size=GT_COORDS, paper="GT-NAS (ICLR 2021 submission)"
)
def gt_kernel(probe) -> float:
    """GT-NAS kernel: mean of P = G̃G̃ᵀ per layer, averaged over layers, G̃ = G − mean(G).

    The paper says "subtracting the average of sampled gradients". Subtracting the per-coordinate
    mean over samples would make mean(P) identically zero, so the average is taken over the whole
    sampled matrix (subtracting each row's own mean gives the same mean(P)).
    """
    layers = _gt_layers(probe)
    return sum(float((g - g.mean()).mean(0).square().sum()) for g in layers) / len(layers)
