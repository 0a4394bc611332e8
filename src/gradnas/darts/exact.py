"""The exact hypergradient term g2 = −∇²_{α,w} L_train · H⁻¹ · ∇_w L_val (Amended-DARTS Eq. 5).

A measurement and test harness for TINY models only (a few thousand weights at most): it forms the
n×n Hessian H = ∇²_w L_train from n Hessian-vector products and solves with it in float64, which
costs n double-backward passes, n² memory and n³ time. Search rules never call it; it exists to
check how well their estimates g2' (Eq. 6) and DARTS's point the way of the true g2.

H⁻¹ is taken as the Moore-Penrose pseudo-inverse. A softmax-cross-entropy classifier's H is always
singular: adding one vector to every row of the last layer (and one number to every bias) shifts all
logits alike and leaves the loss unchanged. Along such an invariance d, H·d = 0, ∇_w L_val ⊥ d and
∇²_{α,w} L · d = 0, so the pseudo-inverse gives the one meaningful value, where a plain solve would
amplify rounding noise. Eigenvalues below n · eps · max|λ| count as zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from gradnas.darts.architect import Batch, Searchable, loss_closure
from gradnas.darts.hessian import LossFn, gradient, hvp, mixed_vp
from gradnas.darts.vectors import Vector, flatten, unflatten
from gradnas.devices import as_float64, float64_device
from gradnas.errors import GradnasError

MAX_WEIGHTS = 4096


def explicit_hessian(loss_fn: LossFn, weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """H = ∇²_w L as a float64 n×n matrix, column j = H·e_j, symmetrised against rounding."""
    n = sum(p.numel() for p in weights)
    if n > MAX_WEIGHTS:
        raise GradnasError(f"explicit Hessian is for tiny models: {n} weights > {MAX_WEIGHTS}")
    basis = torch.eye(n, dtype=torch.float64, device=float64_device(weights[0].device))
    h = torch.stack([as_float64(flatten(hvp(loss_fn, weights, unflatten(e, weights)))) for e in basis], dim=1)
    return (h + h.T) / 2


def exact_g2(model: Searchable, train_batch: Batch, val_batch: Batch) -> Vector:
    """g2 = −M · H⁺ · ∇_w L_val at the current weights. Use a float64 model for accuracy:
    H⁺ · ∇_w L_val is cast to the weights' dtype before the mixed product M."""
    weights, arch = model.weights(), model.arch_parameters()
    train_loss = loss_closure(model, train_batch)
    val_weights = as_float64(flatten(gradient(loss_closure(model, val_batch), weights)))
    solved = torch.linalg.pinv(explicit_hessian(train_loss, weights), hermitian=True) @ val_weights
    return [-m for m in mixed_vp(train_loss, weights, arch, unflatten(solved, weights))]
