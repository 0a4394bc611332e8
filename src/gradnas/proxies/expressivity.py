"""Ingredients for the trainability and expressivity baselines: TE-NAS's NTK and linear regions,
and Zen-NAS's perturbation response. All use train-mode, batch-statistics BatchNorm.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from ..devices import as_float64, model_device
from ..errors import GradnasError
from .persample import forward_checked, hooked, probe_copy

NTK_CHUNK = 16  # per-sample backward passes vectorised together: memory grows with it
ZEN_GAMMA = 0.01


@dataclass(frozen=True)
class ThinNetwork:
    """TE-NAS counts linear regions on a thin copy of the architecture (one channel wide) fed
    `samples` tiny `crop`×`crop` patches: a full-width network gives every input its own region,
    so the count would saturate at the number of inputs and rank nothing."""

    model: nn.Module
    crop: int = 3
    samples: int = 1000


def ntk_gram(probe) -> torch.Tensor:
    """TE-NAS's NTK: G Gᵀ in float64, row i of G = ∂(Σ_c logit_c(x_i))/∂θ over every parameter
    named `weight`. BatchNorm uses the batch's statistics, so each row needs its own backward
    pass; they run NTK_CHUNK at a time as one vectorised (batched-gradient) backward."""
    model = probe_copy(probe.model, probe.dtype)
    weights = [p for name, p in model.named_parameters() if name.rsplit(".", 1)[-1] == "weight"]
    if not weights:
        raise GradnasError("ntk_cond needs parameters named 'weight', and the model has none")
    logits = forward_checked(model, probe.inputs)
    n = probe.n
    gram = torch.zeros(n, n, dtype=torch.float64, device=probe.f64)
    rows = []
    for start in range(0, n, NTK_CHUNK):
        size = min(NTK_CHUNK, n - start)
        seeds = logits.new_zeros(size, *logits.shape)
        sample = torch.arange(size, device=logits.device)
        seeds[sample, start + sample] = 1.0  # Σ_c logit_c of one sample
        grads = torch.autograd.grad(
            logits, weights, grad_outputs=seeds, is_grads_batched=True, retain_graph=True, allow_unused=True
        )
        rows.append(as_float64(torch.cat([g.reshape(size, -1) for g in grads if g is not None], 1)))
    for i, a in enumerate(rows):  # G Gᵀ block by block, so only one row block is ever float64-doubled
        for j, b in enumerate(rows[: i + 1]):
            block = a @ b.T
            si, sj = i * NTK_CHUNK, j * NTK_CHUNK
            gram[si : si + len(a), sj : sj + len(b)] = block
            gram[sj : sj + len(b), si : si + len(a)] = block.T
    return gram


def _crops(images: torch.Tensor, size: int, count: int, seed: int) -> torch.Tensor:
    """`count` seeded random `size`×`size` patches of `images`, drawn on the CPU so that every
    device crops the same patches."""
    n, _, h, w = images.shape
    if size > min(h, w):
        raise GradnasError(f"crop size {size} does not fit probe images of {h}×{w}")
    gen = torch.Generator().manual_seed(seed)
    which = torch.randint(n, (count,), generator=gen)
    top = torch.randint(h - size + 1, (count,), generator=gen)
    left = torch.randint(w - size + 1, (count,), generator=gen)
    rows = torch.arange(size)
    ys = (top[:, None] + rows)[:, :, None]  # (count, size, 1)
    xs = (left[:, None] + rows)[:, None, :]  # (count, 1, size)
    which, ys, xs = (t.to(images.device) for t in (which[:, None, None], ys, xs))
    return images[which, :, ys, xs].permute(0, 3, 1, 2)


def region_count(probe) -> int:
    """Number of distinct joint ReLU on/off patterns over the inputs: those of the probe's
    `ThinNetwork` when it has one (TE-NAS's protocol), else the probe batch through the model.
    Regions partition a continuous input space, so token batches have none."""
    x = probe.continuous_inputs("linear_regions")
    if probe.thin is None:
        model = probe.model
    else:
        model = probe.thin.model
        x = _crops(x, probe.thin.crop, probe.thin.samples, probe.seed)
    model = probe_copy(model, probe.dtype).to(probe.device)  # the thin network may come from the CPU
    codes: list[torch.Tensor] = []

    def hook(module, inputs):
        codes.append(inputs[0].detach().reshape(len(x), -1) > 0)

    with hooked([m for m in model.modules() if isinstance(m, nn.ReLU)], hook, pre=True), torch.no_grad():
        forward_checked(model, x)
    if not codes:
        raise GradnasError("the model has no nn.ReLU modules, so it has no activation patterns to count")
    return len(torch.unique(torch.cat(codes, 1), dim=0))


def _gaussian_copy(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Zen-NAS's init: Conv/Linear weights N(0, 1), their biases 0, BatchNorm affine 1/0 and
    running statistics reset; train mode. Drawn on the CPU (then moved back), so that every device
    gets the same weights from the same seed."""
    device = model_device(model)
    model = copy.deepcopy(model).to("cpu", dtype).train()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_parameters()
    return model.to(device)


def _global_pool(model: nn.Module) -> nn.Module:
    pools = [m for m in model.modules() if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d))]
    if not pools:
        raise GradnasError("zen needs the model's pre-pooling features, but it has no global pooling layer")
    return pools[-1]


def zen_terms(probe) -> tuple[float, float]:
    """(Δ, Σ_BN log √mean(running_var)) for a Gaussian-initialised copy: Δ = batch mean of
    Σ |f(x) − f(x + γε)| over the features entering the last global pooling layer, x and ε
    N(0, 1) of the probe's shape, γ = 0.01. Running statistics are those left by the two
    train-mode forwards, as in the Zen-NAS reference. Seeded: torch's CPU generator is set to the
    probe's seed, then draws the weights (module order), x, then ε, whatever the device."""
    shape = probe.continuous_inputs("zen").shape
    with torch.random.fork_rng():
        torch.manual_seed(probe.seed)
        model = _gaussian_copy(probe.model, probe.dtype)
        x = torch.randn(shape, dtype=probe.dtype).to(probe.device)
        eps = torch.randn(shape, dtype=probe.dtype).to(probe.device)
    features: list[torch.Tensor] = []
    with (
        hooked([_global_pool(model)], lambda m, inputs: features.append(inputs[0]), pre=True),
        torch.no_grad(),
    ):
        forward_checked(model, x)
        forward_checked(model, x + ZEN_GAMMA * eps)
    delta = (features[0] - features[1]).abs().reshape(len(x), -1).sum(1).mean()
    bn_log_scale = sum(
        float(torch.log(torch.sqrt(m.running_var.mean())))
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_var is not None
    )
    return float(delta), bn_log_scale
