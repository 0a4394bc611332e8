"""Ingredients with ordinary batch semantics, for the zero-cost baselines.

Unlike the per-sample sweep, these run the probe batch through a train-mode copy with BatchNorm
using the batch's statistics, as the zero-cost-proxy literature does.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..devices import as_float64
from ..errors import GradnasError
from .persample import forward_checked, hooked, probe_copy, replace_batchnorm, sample_losses


def _scored_weights(model: nn.Module, probe) -> list[torch.Tensor]:
    params = dict(model.named_parameters())
    return [params[n] for n in probe.scored]


def _batch_loss(model: nn.Module, probe) -> torch.Tensor:
    """Mean cross-entropy of the whole probe batch through `model` (batch-statistics BN)."""
    return sample_losses(forward_checked(model, probe.inputs), probe.labels).mean()


def _batch_backward(probe) -> tuple[dict, list]:
    """One forward and backward of the batch's mean cross-entropy through a train-mode copy, for
    both `batch_gradients` (∂L/∂W of every scored layer) and `fisher_terms` (∂L/∂a of every
    Conv2d/Linear output a): one backward gives both, bit-identical to taking them apart."""
    model = probe_copy(probe.model, probe.dtype)
    weights = _scored_weights(model, probe)
    calls: list[tuple[nn.Module, torch.Tensor]] = []
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with hooked(layers, lambda module, inputs, output: calls.append((module, output))):
        loss = _batch_loss(model, probe)
    grads = torch.autograd.grad(loss, [*weights, *(a for _, a in calls)], allow_unused=True)
    by_weight = {
        name: (w.detach(), torch.zeros_like(w) if g is None else g.detach())
        for name, w, g in zip(probe.scored, weights, grads)
    }
    return by_weight, [_fisher_term(module, a, g) for (module, a), g in zip(calls, grads[len(weights) :])]


def _fisher_term(module: nn.Module, a: torch.Tensor, g: torch.Tensor | None) -> tuple[torch.Tensor, int]:
    n = a.shape[0]
    if g is None:
        s = a.new_zeros(n, 1)
    elif isinstance(module, nn.Conv2d):  # channels second, positions after
        s = (a * g).reshape(n, a.shape[1], -1).sum(2)
    else:  # Linear: features last
        s = (a * g).reshape(n, -1, a.shape[-1]).sum(1)
    return 0.5 * s.detach().square().mean(0), module.weight[0].numel()


def batch_gradients(probe) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per scored layer: (weight, ∂L/∂weight) for the mean cross-entropy of the whole batch;
    a gradient that is None counts as zeros."""
    return probe.shared_pass("batch_backward", _batch_backward)[0]


def split_gradients(probe) -> list[dict[str, torch.Tensor]]:
    """ZiCo's mini-batches: for the first and the second half of the batch, each scored layer's
    ∂L/∂W (float64) of that half's mean cross-entropy, each half with its own BN statistics;
    a gradient that is None counts as zeros."""
    if probe.n < 2:
        raise GradnasError("zico compares the gradients of two halves of the batch, so it needs 2 samples")
    model = probe_copy(probe.model, probe.dtype)
    weights = _scored_weights(model, probe)
    halves = []
    for part in (slice(0, probe.n // 2), slice(probe.n // 2, probe.n)):
        loss = sample_losses(forward_checked(model, probe.inputs[part]), probe.batch.y[part]).mean()
        grads = torch.autograd.grad(loss, weights, allow_unused=True)
        zeros = [torch.zeros_like(w) for w in weights]
        halves.append({n: (z if g is None else g).double() for n, z, g in zip(probe.scored, zeros, grads)})
    return halves


def synflow_saliency(probe) -> dict[str, torch.Tensor]:
    """Per scored layer: |W ⊙ ∂R/∂W| with R = Σ outputs of a float64 copy whose parameters and
    buffers are replaced by their absolute values, BatchNorm removed, on an input of ones."""
    shape = probe.continuous_inputs("synflow").shape
    model = copy.deepcopy(probe.model).to(probe.f64, torch.float64).eval()
    replace_batchnorm(model, lambda bn: nn.Identity())
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            tensor.abs_()
    weights = [w.requires_grad_(True) for w in _scored_weights(model, probe)]
    ones = torch.ones(1, *shape[1:], dtype=torch.float64, device=probe.f64)
    grads = torch.autograd.grad(forward_checked(model, ones).sum(), weights, allow_unused=True)
    return {
        name: torch.zeros_like(w) if g is None else (w.detach() * g).abs()
        for name, w, g in zip(probe.scored, weights, grads)
    }


def input_jacobian(probe) -> torch.Tensor:
    """Per sample: ∂(Σ_c logit_c)/∂x_i flattened, (n, C·H·W), batch-statistics BN; computed in
    the probe's dtype, returned in float64 for the fragile correlation and eigen steps."""
    x = probe.continuous_inputs("the input Jacobian (jacob_cov, epe_nas)").detach().requires_grad_(True)
    model = probe_copy(probe.model, probe.dtype)
    (grad,) = torch.autograd.grad(forward_checked(model, x).sum(), x)
    return as_float64(grad.reshape(probe.n, -1))


def grasp_products(probe) -> dict[str, torch.Tensor]:
    """Per scored layer: W ⊙ Hg, with g = ∂L/∂W (detached) and Hg = ∂(Σ g·∂L/∂W)/∂W."""
    model = probe_copy(probe.model, probe.dtype)
    weights = _scored_weights(model, probe)
    grads = torch.autograd.grad(_batch_loss(model, probe), weights, create_graph=True, allow_unused=True)
    live = [(w, g) for w, g in zip(weights, grads) if g is not None]
    if not live or not any(g.requires_grad for _, g in live):
        return {n: torch.zeros_like(w) for n, w in zip(probe.scored, weights)}
    inner = sum((g * g.detach()).sum() for _, g in live)
    hg = torch.autograd.grad(inner, weights, allow_unused=True)
    return {
        name: torch.zeros_like(w) if h is None else (w.detach() * h)
        for name, w, h in zip(probe.scored, weights, hg)
    }


def fisher_terms(probe) -> list[tuple[torch.Tensor, int]]:
    """Per Conv2d/Linear call: (F_k, fan_in), F_k = ½ mean_n (Σ_positions a·∂L/∂a)² for its
    output channels k, a the layer's output (before any norm), batch-statistics BN."""
    return probe.shared_pass("batch_backward", _batch_backward)[1]


def multiply_accumulates(probe) -> float:
    """Multiply-accumulates of every Conv2d and Linear for one input of the probe's shape."""
    model = copy.deepcopy(probe.model).to(probe.dtype).eval()
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        per_output = module.weight[0].numel()  # (in/groups)·kh·kw, or in_features
        total += output.numel() * per_output

    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with hooked(layers, hook), torch.no_grad():
        forward_checked(model, probe.inputs[:1])
    return float(total)
