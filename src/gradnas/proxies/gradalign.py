"""GradAlign (paper 004): agreement of per-sample gradients within each class.

The formulas are garbled in the paper's text; SPEC §2 gives this project's reading.
"""

import torch

from .registry import Undefined, proxy

LOGDET_EPS = 1e-6


def _class_unit_grams(probe) -> list[torch.Tensor]:
    """Per class with ≥ 2 samples: the Gram matrix of the unit per-sample gradients (float64)."""
    blocks = []
    for gram in probe["class_gram"].values():
        if len(gram) < 2:
            continue
        norms = gram.diagonal().sqrt()
        if bool((norms == 0).any()):
            raise Undefined("a per-sample gradient is zero, so it has no direction")
        blocks.append(gram / norms[:, None] / norms[None, :])
    if not blocks:
        raise Undefined("no class has two samples in the probe batch; draw a class-balanced batch")
    return blocks


@proxy("gradalign_1", ingredients=["class_gram"])
def gradalign_1(probe) -> float:
    """GradAlign-I: per class, (1/n_c²) Σ_ij cos(g_i, g_j) — the alignment of the unit
    per-sample gradients with their mean; averaged over classes. Higher is better (as the paper
    states; see the README for how this orientation ranks on NAS-Bench-201)."""
    blocks = _class_unit_grams(probe)
    return sum(float(k.mean()) for k in blocks) / len(blocks)


@proxy("gradalign_2", ingredients=["class_gram"])
def gradalign_2(probe) -> float:
    """GradAlign-II: −mean over classes of log det(K_c + 1e-6·I), K_c the Gram matrix of the
    class's unit per-sample gradients (float64): concentrated gradients score higher."""
    logdets = []
    for k in _class_unit_grams(probe):
        sign, logdet = torch.linalg.slogdet(k + LOGDET_EPS * torch.eye(len(k), dtype=k.dtype))
        if sign <= 0:
            raise Undefined(f"a class Gram matrix has a non-positive determinant (sign {float(sign):+.0f})")
        logdets.append(float(logdet))
    return -sum(logdets) / len(logdets)
