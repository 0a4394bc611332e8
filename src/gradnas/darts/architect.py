"""Rules for the architecture gradient of differentiable search.

Amended-DARTS (Bi et al., arXiv 1910.11831), §3.3-3.4.

Each rule estimates the hypergradient ∇_α L_val(w*(α), α) from one train and one val batch at the
model's current weights w. Exact chain rule (Eq. 5) with M = ∇²_{α,w} L_train and
H = ∇²_w L_train:  g = g1 + g2,  g1 = ∇_α L_val(w, α),  g2 = −M · H⁻¹ · ∇_w L_val.

- `first`: g1 alone (DARTS-1st).
- `second`: DARTS-2nd, the exact gradient of L_val after one unrolled SGD step of size ξ; its mixed
  product by central differences.
- `amended`: g1 + g2' with g2' = −η · M · H · ∇_w L_val (Amended-DARTS Eq. 6), exact double-backward products.
- `amended_fd`: the same with central-difference products.

The loss is cross-entropy on (inputs, targets) batches; weights are left exactly as found.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from numbers import Real
from typing import Protocol

import torch
import torch.nn.functional as F

from gradnas.darts.hessian import LossFn, gradient, hvp, hvp_fd, mixed_vp, mixed_vp_fd, shifted
from gradnas.darts.vectors import Vector
from gradnas.errors import GradnasError, unknown_choice
from gradnas.registry import Registry

Batch = tuple[torch.Tensor, torch.Tensor]


class Searchable(Protocol):
    """A supernet: logits from inputs, its parameters split into architecture α and weights w."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...

    def arch_parameters(self) -> list[torch.nn.Parameter]: ...

    def weights(self) -> list[torch.nn.Parameter]: ...


def loss_closure(model: Searchable, batch: Batch) -> LossFn:
    """Cross-entropy of `model` on `batch`, re-evaluated at the parameters' values at call time."""
    x, y = batch
    return lambda: F.cross_entropy(model(x), y)


def _positive(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not value > 0:
        raise GradnasError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _val_gradients(model: Searchable, val_batch: Batch) -> tuple[Vector, Vector]:
    """(∇_α L_val, ∇_w L_val) from a single backward pass."""
    arch = model.arch_parameters()
    grads = gradient(loss_closure(model, val_batch), arch + model.weights())
    return grads[: len(arch)], grads[len(arch) :]


def first_order(model: Searchable, train_batch: Batch, val_batch: Batch) -> Vector:
    """g1 = ∇_α L_val(w, α); the train batch is not used."""
    return gradient(loss_closure(model, val_batch), model.arch_parameters())


def second_order(model: Searchable, train_batch: Batch, val_batch: Batch, *, xi: float) -> Vector:
    """DARTS-2nd: ∇_α L_val(w', α) − ξ · M(w) · ∇_{w'} L_val(w', α) with w' = w − ξ ∇_w L_train(w, α).

    ξ is the weight learning rate; the plain SGD step (no momentum, no weight decay) is what this code
    unrolls. The mixed product is by central differences with ε = 0.01/‖v‖, as in DARTS.
    """
    xi = _positive(xi, "xi")
    weights, arch = model.weights(), model.arch_parameters()
    train_loss = loss_closure(model, train_batch)
    with shifted(weights, gradient(train_loss, weights), -xi):
        val_arch, val_weights = _val_gradients(model, val_batch)
    correction = mixed_vp_fd(train_loss, weights, arch, val_weights)
    return [g - xi * c for g, c in zip(val_arch, correction, strict=True)]


def _amended_parts(
    model: Searchable, train_batch: Batch, val_batch: Batch, eta: float, exact: bool
) -> tuple[Vector, Vector]:
    """(g1, g2') at the current weights; H·v is applied first, then M to the result."""
    eta = _positive(eta, "eta")
    weights, arch = model.weights(), model.arch_parameters()
    train_loss = loss_closure(model, train_batch)
    g1, val_weights = _val_gradients(model, val_batch)
    if exact:
        mixed = mixed_vp(train_loss, weights, arch, hvp(train_loss, weights, val_weights))
    else:
        mixed = mixed_vp_fd(train_loss, weights, arch, hvp_fd(train_loss, weights, val_weights))
    return g1, [-eta * m for m in mixed]


def amended_term(
    model: Searchable, train_batch: Batch, val_batch: Batch, *, eta: float = 0.1, exact: bool = True
) -> Vector:
    """g2' = −η · M · H · ∇_w L_val alone (Amended-DARTS Eq. 6), for comparing with the exact g2."""
    return _amended_parts(model, train_batch, val_batch, eta, exact)[1]


def amended(model: Searchable, train_batch: Batch, val_batch: Batch, *, eta: float = 0.1) -> Vector:
    """Amended-DARTS: g1 + g2' with exact double-backward products."""
    g1, g2 = _amended_parts(model, train_batch, val_batch, eta, exact=True)
    return [a + b for a, b in zip(g1, g2, strict=True)]


def amended_fd(model: Searchable, train_batch: Batch, val_batch: Batch, *, eta: float = 0.1) -> Vector:
    """Amended-DARTS with central-difference products (cheaper memory, approximate)."""
    g1, g2 = _amended_parts(model, train_batch, val_batch, eta, exact=False)
    return [a + b for a, b in zip(g1, g2, strict=True)]


RULES: Registry[Callable[..., Vector]] = Registry(
    "architecture gradient rule",
    {"first": first_order, "second": second_order, "amended": amended, "amended_fd": amended_fd},
)


def _check_options(rule: str, options: dict[str, object]) -> None:
    params = [p for p in inspect.signature(RULES[rule]).parameters.values() if p.kind is p.KEYWORD_ONLY]
    allowed = {p.name for p in params}
    for name in options:
        if not allowed:
            raise GradnasError(f"rule {rule!r} takes no options, got {name!r}")
        if name not in allowed:
            raise GradnasError(f"rule {rule!r}: {unknown_choice('option', name, allowed)}")
    missing = [p.name for p in params if p.default is p.empty and p.name not in options]
    if missing:
        raise GradnasError(f"rule {rule!r} needs option(s) {', '.join(missing)}")


def arch_gradient(
    rule: str, model: Searchable, train_batch: Batch, val_batch: Batch, **options: object
) -> Vector:
    """The gradient for each of `model.arch_parameters()` by the rule named `rule` (see RULES)."""
    RULES.lookup(rule)
    _check_options(rule, options)
    return RULES[rule](model, train_batch, val_batch, **options)


def step(
    model: Searchable,
    rule: str,
    train_batch: Batch,
    val_batch: Batch,
    w_optimizer: torch.optim.Optimizer,
    a_optimizer: torch.optim.Optimizer,
    *,
    grad_clip: float | None = None,
    **rule_options: object,
) -> float:
    """One search iteration: α ← a_optimizer step on the rule's gradient, then w ← w_optimizer step on
    ∇_w L_train at the new α. Returns that train loss (before the weight step).

    `second` takes ξ from w_optimizer's current learning rate unless `xi` is given, as DARTS does.
    `grad_clip` clips the weight gradient's norm (DARTS uses 5). Each step sets `.grad` of exactly the
    parameters it updates, so α and w gradients never leak into each other.
    """
    max_norm = None if grad_clip is None else _positive(grad_clip, "grad_clip")
    if rule == "second":
        rule_options.setdefault("xi", float(w_optimizer.param_groups[0]["lr"]))
    arch = model.arch_parameters()
    for p, g in zip(arch, arch_gradient(rule, model, train_batch, val_batch, **rule_options), strict=True):
        p.grad = g
    a_optimizer.step()

    weights = model.weights()
    loss = loss_closure(model, train_batch)()
    for p, g in zip(weights, torch.autograd.grad(loss, weights, materialize_grads=True), strict=True):
        p.grad = g
    if max_norm is not None:
        torch.nn.utils.clip_grad_norm_(weights, max_norm)
    w_optimizer.step()
    return float(loss.detach())
