"""GradAlign (Li & Guo, arXiv 2411.19819): agreement of per-sample gradients within each class.

The formulas are garbled in the paper's text. `gradalign_1` / `gradalign_2` follow the default
reading (unit gradient vectors, per class, the paper's orientation). The paper's §5 also says it
"applies the sign function on the gradients" first. Every reading is registered under its own
name and was measured side by side on 1,000 random NAS-Bench-201 architectures (docs/results-ranking.md,
"Which GradAlign reading?"): with the paper's orientation, the default readings rank *backwards* (CIFAR-10
Kendall τ −0.466 / −0.508), while the literal sign reading `gradalign_1_sign_raw` reproduces the
published GradAlign-I τ (0.613 vs 0.617). No GradAlign-II reading ranks forwards with the paper's
orientation; the `*_diverse` proxies reverse it, named as such.
"""

import torch

from .registry import Undefined, proxy

GRADALIGN = "GradAlign (Li & Guo, arXiv 2411.19819)"

LOGDET_EPS = 1e-6


def _groups(grams: dict[int, torch.Tensor], unit: bool) -> list[torch.Tensor]:
    """The Gram matrices of groups with ≥ 2 samples, optionally of unit vectors (cosines)."""
    blocks = []
    for gram in grams.values():
        if len(gram) < 2:
            continue
        if unit:
            norms = gram.diagonal().sqrt()
            if bool((norms == 0).any()):
                raise Undefined("a per-sample gradient is zero, so it has no direction")
            gram = gram / norms[:, None] / norms[None, :]
        blocks.append(gram)
    if not blocks:
        raise Undefined("no class has two samples in the probe batch; draw a class-balanced batch")
    return blocks


def _alignment(grams: dict[int, torch.Tensor], unit: bool = True) -> float:
    """Mean over groups of (1/n_c²) Σ_ij cos(g_i, g_j) = ‖mean of the unit vectors‖² (or of
    the raw vectors' dot products)."""
    blocks = _groups(grams, unit)
    return sum(float(k.mean()) for k in blocks) / len(blocks)


def _neg_logdet(grams: dict[int, torch.Tensor], unit: bool = True) -> float:
    """−mean over groups of log det(K + 1e-6·I) (float64): concentrated gradients score higher."""
    logdets = []
    for k in _groups(grams, unit):
        sign, logdet = torch.linalg.slogdet(
            k + LOGDET_EPS * torch.eye(len(k), dtype=k.dtype, device=k.device)
        )
        if sign <= 0:
            raise Undefined(f"a Gram matrix has a non-positive determinant (sign {float(sign):+.0f})")
        logdets.append(float(logdet))
    return -sum(logdets) / len(logdets)


@proxy("gradalign_1", ingredients=["class_gram"], paper=GRADALIGN)
def gradalign_1(probe) -> float:
    """GradAlign-I (default reading): per class, mean pairwise cosine of per-sample gradients."""
    return _alignment(probe["class_gram"])


@proxy("gradalign_2", ingredients=["class_gram"], paper=GRADALIGN)
def gradalign_2(probe) -> float:
    """GradAlign-II (default reading): −mean over classes of log det of the unit-gradient Gram."""
    return _neg_logdet(probe["class_gram"])


@proxy("gradalign_2_raw", ingredients=["class_gram"], paper=GRADALIGN)
def gradalign_2_raw(probe) -> float:
    """GradAlign-II on raw (unnormalized) per-sample gradients, per class (an alternative reading)."""
    return _neg_logdet(probe["class_gram"], unit=False)


@proxy("gradalign_1_all", ingredients=["gram"], paper=GRADALIGN)
def gradalign_1_all(probe) -> float:
    """GradAlign-I over all samples at once instead of per class."""
    return _alignment(probe["gram"])


@proxy("gradalign_2_all", ingredients=["gram"], paper=GRADALIGN)
def gradalign_2_all(probe) -> float:
    """GradAlign-II over all samples at once instead of per class."""
    return _neg_logdet(probe["gram"])


@proxy("gradalign_1_sign", ingredients=["class_sign_gram"], paper=GRADALIGN)
def gradalign_1_sign(probe) -> float:
    """GradAlign-I on sign(g_i) (paper §5: "apply the sign function"), per class."""
    return _alignment(probe["class_sign_gram"])


@proxy("gradalign_2_sign", ingredients=["class_sign_gram"], paper=GRADALIGN)
def gradalign_2_sign(probe) -> float:
    """GradAlign-II on sign(g_i), per class: −log det of the sign vectors' cosine Gram."""
    return _neg_logdet(probe["class_sign_gram"])


@proxy("gradalign_1_sign_raw", ingredients=["class_sign_gram"], paper=GRADALIGN)
def gradalign_1_sign_raw(probe) -> float:
    """GradAlign-I as the paper's text reads literally: per class, (1/n_c) Σ_i ⟨s_i, s̄⟩ with
    s_i = sign(g_i) and s̄ their mean, i.e. (1/n_c²) Σ_ij ⟨s_i, s_j⟩, unnormalized.

    Measured (1,000 NB201 archs, CIFAR-10, batch 128): Kendall τ +0.613, published 0.617 — the
    reading that reproduces the paper, with the paper's orientation (higher is better)."""
    return _alignment(probe["class_sign_gram"], unit=False)


@proxy("gradalign_2_sign_raw", ingredients=["class_sign_gram"], paper=GRADALIGN)
def gradalign_2_sign_raw(probe) -> float:
    """GradAlign-II on the unnormalized sign Gram S_c S_cᵀ per class: −mean log det(+1e-6·I)."""
    return _neg_logdet(probe["class_sign_gram"], unit=False)


@proxy("gradalign_2_diverse", ingredients=["class_gram"], paper=GRADALIGN)
def gradalign_2_diverse(probe) -> float:
    """+mean over classes of log det of the unit-gradient Gram: GradAlign-II with the orientation
    reversed (diverse per-sample gradients rank higher).

    Orientation from measurement (1,000 NB201 archs, CIFAR-10, batch 128): `gradalign_2` has
    Kendall τ −0.508, so this reading has +0.508 (published GradAlign-II: +0.599)."""
    return -_neg_logdet(probe["class_gram"])


@proxy("gradalign_2_sign_diverse", ingredients=["class_sign_gram"], paper=GRADALIGN)
def gradalign_2_sign_diverse(probe) -> float:
    """+mean over classes of log det of the sign vectors' cosine Gram: `gradalign_2_sign` with
    the orientation reversed (diverse sign patterns rank higher).

    Orientation from measurement (1,000 NB201 archs, CIFAR-10, batch 128): `gradalign_2_sign`
    has Kendall τ −0.634, so this reading has +0.634 (published GradAlign-II: +0.599), the
    closest GradAlign-II reading to the published value."""
    return -_neg_logdet(probe["class_sign_gram"])
