"""Second-order products of a loss L(w, α), exact by double backward or by central differences.

None of them forms a matrix: each costs about two gradient evaluations. `loss_fn` is a closure that
recomputes the loss from the parameters' current values, so the finite-difference versions can move
the weights in place (and restore them bit-exactly) between calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch

from gradnas.darts.vectors import Vector, dot, norm

LossFn = Callable[[], torch.Tensor]

# DARTS's step for finite differences: ε = FD_RADIUS / ‖v‖, so the weights move by 0.01 in norm.
FD_RADIUS = 0.01


def _zeros(params: Sequence[torch.Tensor]) -> Vector:
    return [torch.zeros_like(p) for p in params]


def _grad(
    output: torch.Tensor,
    params: Sequence[torch.Tensor],
    create_graph: bool = False,
    retain_graph: bool | None = None,
) -> Vector:
    """Gradient with zeros (not None) for parameters the output does not depend on. The graph is
    kept for another backward with `create_graph` or `retain_graph`, as in torch.autograd.grad."""
    if not output.requires_grad:
        return _zeros(params)
    grads = torch.autograd.grad(
        output, params, create_graph=create_graph, retain_graph=retain_graph, materialize_grads=True
    )
    return list(grads)


def gradient(loss_fn: LossFn, params: Sequence[torch.Tensor]) -> Vector:
    """∇_params L at the current parameter values."""
    return _grad(loss_fn(), params)


def _first_backward(loss_fn: LossFn, weights: Sequence[torch.Tensor]) -> Vector:
    """∇_w L with its graph kept, for double backward."""
    return _grad(loss_fn(), weights, create_graph=True)


def _grad_of_directional(
    loss_fn: LossFn, weights: Sequence[torch.Tensor], v: Sequence[torch.Tensor], wrt: Sequence[torch.Tensor]
) -> Vector:
    """∇_wrt ⟨∇_w L, v⟩ by double backward, v held constant."""
    return _grad(dot(_first_backward(loss_fn, weights), [t.detach() for t in v]), wrt)


def hvp(loss_fn: LossFn, weights: Sequence[torch.Tensor], v: Sequence[torch.Tensor]) -> Vector:
    """H·v with H = ∇²_w L, exact."""
    return _grad_of_directional(loss_fn, weights, v, weights)


def mixed_vp(
    loss_fn: LossFn, weights: Sequence[torch.Tensor], arch: Sequence[torch.Tensor], v: Sequence[torch.Tensor]
) -> Vector:
    """∇²_{α,w} L · v = ∇_α ⟨∇_w L, v⟩, exact; one tensor per arch parameter."""
    return _grad_of_directional(loss_fn, weights, v, arch)


def mixed_hvp(
    loss_fn: LossFn, weights: Sequence[torch.Tensor], arch: Sequence[torch.Tensor], v: Sequence[torch.Tensor]
) -> Vector:
    """∇²_{α,w} L · (H · v), exact: `mixed_vp(hvp(v))` from one forward and one first backward, whose
    graph both double backwards reuse (an amended step about a tenth cheaper)."""
    grads = _first_backward(loss_fn, weights)
    h_v = _grad(dot(grads, [t.detach() for t in v]), weights, retain_graph=True)
    return _grad(dot(grads, h_v), arch)


@contextmanager
def shifted(
    params: Sequence[torch.Tensor], direction: Sequence[torch.Tensor], scale: float
) -> Iterator[None]:
    """Temporarily params += scale·direction; on exit the saved original values are copied back, so
    they are restored bit-exactly (subtracting the shift again would not be, in floating point)."""
    saved = [p.detach().clone() for p in params]
    with torch.no_grad():
        for p, d in zip(params, direction, strict=True):
            p.add_(d, alpha=scale)
    try:
        yield
    finally:
        with torch.no_grad():
            for p, s in zip(params, saved, strict=True):
                p.copy_(s)


def central_difference(
    loss_fn: LossFn, weights: Sequence[torch.Tensor], v: Sequence[torch.Tensor], wrt: Sequence[torch.Tensor]
) -> Vector:
    """(∇_wrt L(w + εv) − ∇_wrt L(w − εv)) / 2ε ≈ ∇_wrt ⟨∇_w L, v⟩ with ε = 0.01/‖v‖ (DARTS)."""
    length = float(norm(v))
    if length == 0.0:
        return _zeros(wrt)
    eps = FD_RADIUS / length
    with shifted(weights, v, eps):
        plus = gradient(loss_fn, wrt)
    with shifted(weights, v, -eps):
        minus = gradient(loss_fn, wrt)
    return [(a - b) / (2 * eps) for a, b in zip(plus, minus, strict=True)]


def hvp_fd(loss_fn: LossFn, weights: Sequence[torch.Tensor], v: Sequence[torch.Tensor]) -> Vector:
    """H·v by central differences of ∇_w L."""
    return central_difference(loss_fn, weights, v, weights)


def mixed_vp_fd(
    loss_fn: LossFn, weights: Sequence[torch.Tensor], arch: Sequence[torch.Tensor], v: Sequence[torch.Tensor]
) -> Vector:
    """∇²_{α,w} L · v by central differences of ∇_α L (DARTS-2nd's product)."""
    return central_difference(loss_fn, weights, v, arch)
