"""Ingredients read from a network's features rather than its weight gradients: AZ-NAS's stage
statistics and VKDNW's Fisher spectrum, each one forward (and at most one backward) of its own.
(MeCo's and SWAP's, which only watch a forward, are in `observed`.)
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GradnasError
from .persample import forward_checked, hooked, probe_copy
from .registry import require_finite

FISHER_SMOOTHING = 0.05  # VKDNW: p = (1 − α) softmax + α / classes
FISHER_QUANTILES = torch.arange(1, 10, dtype=torch.float64) / 10  # VKDNW's nine deciles


def stage_features(model: nn.Module) -> list[nn.Module]:
    """The modules whose outputs AZ-NAS compares: the stem and every cell (`model.stem`,
    `model.cells`), as the authors' NAS-Bench-201 code does."""
    stem, cells = getattr(model, "stem", None), getattr(model, "cells", None)
    if not isinstance(stem, nn.Module) or not isinstance(cells, nn.ModuleList) or not len(cells):
        raise GradnasError("the AZ-NAS proxies need a model with a `stem` module and a `cells` ModuleList")
    return [stem, *cells]


def _isotropy(feature: torch.Tensor) -> float:
    """Entropy of the normalised eigenvalues of the channel covariance over batch × positions."""
    flat = feature.detach().to(torch.float64).movedim(1, -1).reshape(-1, feature.shape[1])
    flat = flat - flat.mean(0, keepdim=True)
    s = torch.linalg.eigvalsh(flat.T @ flat / len(flat)).clamp(min=0)  # negatives are rounding
    if float(s.sum()) == 0:
        raise GradnasError("a stage's features are constant, so their isotropy is undefined")
    p = s / s.sum()
    return float(-(p * torch.log(p + 1e-8)).sum())


def _gradient_gain(f_in: torch.Tensor, f_out: torch.Tensor, gen: torch.Generator) -> float | None:
    """−σ − 1/(σ + 1e-6) + 2, σ the largest singular value of the (in × out channel) average of
    g_in g_outᵀ for a random ±1 g_out; None when the stage passes g_out through unchanged (an
    identity, which the authors' code scores −inf)."""
    g_out = torch.randint(0, 2, f_out.shape, generator=gen).to(f_out) * 2 - 1  # drawn on the CPU
    (g_in,) = torch.autograd.grad(f_out, f_in, g_out, retain_graph=True, allow_unused=True)
    g_in = torch.zeros_like(f_in) if g_in is None else g_in
    if g_in.shape == g_out.shape and bool(torch.equal(g_in, g_out)):
        return None
    if g_in.shape[2:] != g_out.shape[2:]:
        g_in = F.pixel_unshuffle(g_in, g_in.shape[2] // g_out.shape[2])
    require_finite(g_in, "a stage's input gradient")
    rows_in = g_in.movedim(1, -1).reshape(-1, g_in.shape[1]).to(torch.float64)
    rows_out = g_out.movedim(1, -1).reshape(-1, g_out.shape[1]).to(torch.float64)
    sigma = float(torch.linalg.matrix_norm(rows_in.T @ rows_out / len(rows_out), ord=2))
    return -sigma - 1 / (sigma + 1e-6) + 2


def stage_terms(probe) -> tuple[list[float], list[float | None]]:
    """AZ-NAS per stage output f_0 (stem), f_1.. (cells): the isotropies of f_0..f_L and the
    gradient gains of f_L→f_{L−1}, ..., f_1→f_0 (that order, as ±1 signals are drawn from the
    probe's seed); train-mode, batch-statistics BN, one forward."""
    model = probe_copy(probe.model, probe.dtype)
    features: list[torch.Tensor] = []
    with hooked(stage_features(model), lambda module, inputs, output: features.append(output)):
        forward_checked(model, probe.inputs)
    isotropy = [_isotropy(require_finite(f, "a stage's output")) for f in features]
    gen = torch.Generator().manual_seed(probe.seed)
    gains = [_gradient_gain(features[i - 1], features[i], gen) for i in range(len(features) - 1, 0, -1)]
    return isotropy, gains


def _coordinate_jacobian(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(n, classes, P): ∂logits_i/∂θ for θ the first coordinate of every parameter tensor.

    Each sample gets its own copy of θ as a perturbation δ: a forward hook adds δ_i · (∂output/∂θ)
    to each owning module's output, the directional derivative taken with `torch.func.jvp`. The
    logits' derivative in δ at 0 is then the per-sample Jacobian, read off by one backward pass
    per class (eval mode keeps samples independent)."""
    owners = {m: list(m.named_parameters(recurse=False)) for m in model.modules()}
    owners = {m: params for m, params in owners.items() if params}
    model.requires_grad_(False)
    deltas = {(m, name): torch.zeros(len(x), dtype=p.dtype, device=p.device, requires_grad=True)
              for m, params in owners.items() for name, p in params}  # fmt: skip
    busy = False  # the jvp re-runs a module: its own hooks stay quiet meanwhile

    def hook(module, inputs, output):
        nonlocal busy
        if busy:
            return None
        if not isinstance(output, torch.Tensor):
            raise GradnasError(
                f"vkdnw needs modules that return one tensor; {type(module).__name__} does not"
            )
        busy, extra = True, torch.zeros_like(output)
        try:
            for name, p in owners[module]:
                direction = torch.zeros_like(p)
                direction.view(-1)[0] = 1.0  # the first coordinate
                call = lambda w, name=name: torch.func.functional_call(module, {name: w}, inputs)  # noqa: E731
                _, tangent = torch.func.jvp(call, (p.detach(),), (direction,))
                shape = (-1,) + (1,) * (output.dim() - 1)
                extra = extra + deltas[module, name].reshape(shape) * tangent.detach()
        finally:
            busy = False
        return output + extra

    with hooked(list(owners), hook):
        logits = forward_checked(model, x)
    columns = list(deltas.values())
    jac = torch.zeros(len(x), logits.shape[1], len(columns), dtype=logits.dtype, device=logits.device)
    for c in range(logits.shape[1]):
        grads = torch.autograd.grad(logits[:, c].sum(), columns, retain_graph=True, allow_unused=True)
        for k, g in enumerate(grads):
            if g is not None:
                jac[:, c, k] = g
    return jac


def fisher_spectrum(probe) -> torch.Tensor:
    """VKDNW: eigenvalues (ascending, float64) of the Fisher information of the first coordinate
    of every parameter tensor, F = mean_i J_iᵀ (diag p_i − p_i p_iᵀ) J_i, J_i = ∂logits_i/∂θ, p_i the
    smoothed softmax (α = 0.05). Eval mode (BatchNorm on running statistics), as the authors."""
    model = copy.deepcopy(probe.model).to(probe.dtype).eval()
    x = probe.inputs
    jac = require_finite(_coordinate_jacobian(model, x), "the logits' Jacobian").to(torch.float64)
    with torch.no_grad():
        logits = forward_checked(model, x).to(torch.float64)
    p = torch.softmax(logits, 1) * (1 - FISHER_SMOOTHING) + FISHER_SMOOTHING / logits.shape[1]
    cov = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    fisher = torch.einsum("ncp,ncd,ndq->pq", jac, cov, jac) / len(x)
    return torch.linalg.eigvalsh(fisher).abs().sort().values  # |λ|: the singular values
