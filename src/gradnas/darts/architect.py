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

The amended rules take either the paper's fixed η or `eta_ratio` R, an option of this library (not
the paper's method): η is then chosen at each step so that ‖η · M · H · ∇_w L_val‖ = R · ‖g1‖. They
hand (g1, g2', η) to `observe` when given, for the η diagnostics of a search log.

`beta_decay_gradient` is β-DARTS's regulariser (Ye et al., "β-DARTS: Beta-Decay Regularization for
Differentiable Architecture Search", CVPR 2022, arXiv 2203.01665): λ · Σ_α mean over edges of
logsumexp(α_edge), added to any rule's α-gradient by `step(..., beta=λ)`.

The loss is cross-entropy on (inputs, targets) batches; weights are left exactly as found.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Protocol

import torch
import torch.nn.functional as F

from gradnas.darts.hessian import LossFn, gradient, hvp_fd, mixed_hvp, mixed_vp_fd, shifted
from gradnas.darts.vectors import Vector, norm
from gradnas.errors import GradnasError, unknown_choice
from gradnas.registry import Registry
from gradnas.validate import positive_real

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
    xi = positive_real(xi, "xi")
    weights, arch = model.weights(), model.arch_parameters()
    train_loss = loss_closure(model, train_batch)
    with shifted(weights, gradient(train_loss, weights), -xi):
        val_arch, val_weights = _val_gradients(model, val_batch)
    correction = mixed_vp_fd(train_loss, weights, arch, val_weights)
    return [g - xi * c for g, c in zip(val_arch, correction, strict=True)]


Observer = Callable[[Vector, Vector, float], None]


def _amended_parts(
    model: Searchable,
    train_batch: Batch,
    val_batch: Batch,
    eta: float,
    eta_ratio: float | None,
    exact: bool,
) -> tuple[Vector, Vector, float]:
    """(g1, g2', η) at the current weights; H·v is applied first, then M to the result. With
    `eta_ratio` R (which overrides `eta`), η = R · ‖g1‖ / ‖M · H · ∇_w L_val‖, and g2' = 0 when
    that product is 0."""
    eta = positive_real(eta, "eta")
    ratio = None if eta_ratio is None else positive_real(eta_ratio, "eta_ratio")
    weights, arch = model.weights(), model.arch_parameters()
    train_loss = loss_closure(model, train_batch)
    g1, val_weights = _val_gradients(model, val_batch)
    if exact:
        mixed = mixed_hvp(train_loss, weights, arch, val_weights)
    else:
        mixed = mixed_vp_fd(train_loss, weights, arch, hvp_fd(train_loss, weights, val_weights))
    if ratio is not None:
        size = float(norm(mixed))
        eta = ratio * float(norm(g1)) / size if size > 0 else 0.0
    return g1, [-eta * m for m in mixed], eta


def amended_term(
    model: Searchable, train_batch: Batch, val_batch: Batch, *, eta: float = 0.1, exact: bool = True
) -> Vector:
    """g2' = −η · M · H · ∇_w L_val alone (Amended-DARTS Eq. 6), for comparing with the exact g2."""
    return _amended_parts(model, train_batch, val_batch, eta, None, exact)[1]


def _amended_sum(parts: tuple[Vector, Vector, float], observe: Observer | None) -> Vector:
    """g1 + g2', after handing (g1, g2', η) to `observe`."""
    if observe is not None:
        observe(*parts)
    g1, g2, _ = parts
    return [a + b for a, b in zip(g1, g2, strict=True)]


def amended(
    model: Searchable,
    train_batch: Batch,
    val_batch: Batch,
    *,
    eta: float = 0.1,
    eta_ratio: float | None = None,
    observe: Observer | None = None,
) -> Vector:
    """Amended-DARTS: g1 + g2' with exact double-backward products (η from `eta_ratio` when given)."""
    return _amended_sum(_amended_parts(model, train_batch, val_batch, eta, eta_ratio, True), observe)


def amended_fd(
    model: Searchable,
    train_batch: Batch,
    val_batch: Batch,
    *,
    eta: float = 0.1,
    eta_ratio: float | None = None,
    observe: Observer | None = None,
) -> Vector:
    """Amended-DARTS with central-difference products (cheaper memory, approximate)."""
    return _amended_sum(_amended_parts(model, train_batch, val_batch, eta, eta_ratio, False), observe)


def beta_decay_loss(arch: Vector) -> torch.Tensor:
    """β-DARTS's regulariser without its weight: Σ over α tensors of the mean over edges (rows) of
    logsumexp(α_edge). Its gradient, softmax(α_edge) / edges, pushes every α of an edge down in
    proportion to its weight, which keeps α small and the mixing weights from saturating."""
    return torch.stack([torch.logsumexp(a, dim=-1).mean() for a in arch]).sum()


def beta_decay_gradient(arch: Vector) -> Vector:
    """∇_α of `beta_decay_loss`: softmax(α_edge) / number of edges, for each α tensor."""
    return [torch.softmax(a.detach(), dim=-1) / a.shape[0] for a in arch]


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


def arch_step(
    model: Searchable,
    rule: str,
    train_batch: Batch,
    val_batch: Batch,
    a_optimizer: torch.optim.Optimizer,
    *,
    beta: float = 0.0,
    **rule_options: object,
) -> None:
    """α ← a_optimizer step on the rule's gradient, plus `beta` times β-DARTS's regulariser gradient
    (see `beta_decay_gradient`) when `beta` > 0. Sets `.grad` of α only."""
    positive_real(beta, "beta", strict=False)
    arch = model.arch_parameters()
    grads = arch_gradient(rule, model, train_batch, val_batch, **rule_options)
    if beta > 0:
        grads = [g + beta * d for g, d in zip(grads, beta_decay_gradient(arch), strict=True)]
    for p, g in zip(arch, grads, strict=True):
        p.grad = g
    a_optimizer.step()


def weight_step(
    model: Searchable, train_batch: Batch, w_optimizer: torch.optim.Optimizer, grad_clip: float | None = None
) -> float:
    """w ← w_optimizer step on ∇_w L_train, its norm clipped to `grad_clip` (DARTS uses 5). Sets
    `.grad` of the weights only; returns the train loss before the step."""
    max_norm = None if grad_clip is None else positive_real(grad_clip, "grad_clip")
    weights = model.weights()
    loss = loss_closure(model, train_batch)()
    for p, g in zip(weights, torch.autograd.grad(loss, weights, materialize_grads=True), strict=True):
        p.grad = g
    if max_norm is not None:
        torch.nn.utils.clip_grad_norm_(weights, max_norm)
    w_optimizer.step()
    return float(loss.detach())


def step(
    model: Searchable,
    rule: str,
    train_batch: Batch,
    val_batch: Batch,
    w_optimizer: torch.optim.Optimizer,
    a_optimizer: torch.optim.Optimizer,
    *,
    grad_clip: float | None = None,
    beta: float = 0.0,
    **rule_options: object,
) -> float:
    """One search iteration: `arch_step`, then `weight_step` at the new α. Returns that train loss
    (before the weight step).

    `second` takes ξ from w_optimizer's current learning rate unless `xi` is given, as DARTS does.
    Each step sets `.grad` of exactly the parameters it updates, so α and w gradients never leak
    into each other.
    """
    if grad_clip is not None:
        positive_real(grad_clip, "grad_clip")
    if rule == "second":
        rule_options.setdefault("xi", float(w_optimizer.param_groups[0]["lr"]))
    arch_step(model, rule, train_batch, val_batch, a_optimizer, beta=beta, **rule_options)
    return weight_step(model, train_batch, w_optimizer, grad_clip)
