"""The architecture-gradient rules and `step` against plain float64 autograd references."""

import math

import pytest
import torch
from tiny_mixed import TinyMixed, batch, flat, functional_loss, hessian_blocks, val_grad_alpha, val_grad_w

from gradnas.darts import RULES, amended_term, arch_gradient, step
from gradnas.darts.architect import arch_step, beta_decay_gradient, beta_decay_loss
from gradnas.darts.vectors import flatten
from gradnas.errors import GradnasError


def snapshot(model):
    return [p.detach().clone() for p in model.parameters()]


def unchanged(model, before) -> bool:
    return all(torch.equal(p, q) for p, q in zip(model.parameters(), before, strict=True))


def rel_err(got, want) -> float:
    return float((got - want).norm() / want.norm())


def test_first_order_is_the_val_gradient_in_alpha():
    model, train, val = TinyMixed(0), batch(1), batch(2)
    got = flatten(arch_gradient("first", model, train, val))
    assert (got - val_grad_alpha(model, val)).abs().max() < 1e-12


def test_second_order_is_the_gradient_through_one_unrolled_step_and_restores_weights():
    """Reference: autograd straight through w' = w − ξ∇_w L_train(w, α). The rule's only
    approximation is its finite-difference mixed product (measured ≈ 1e-6 relative; tolerance 1e-5)."""
    xi = 0.05
    for seed in range(3):
        model, train, val = TinyMixed(seed), batch(10 + seed), batch(20 + seed)
        w, a = flat(model.weights()).requires_grad_(), flat(model.arch_parameters()).requires_grad_()
        grad_train = torch.autograd.grad(functional_loss(model, train)(w, a), w, create_graph=True)[0]
        reference = torch.autograd.grad(functional_loss(model, val)(w - xi * grad_train, a), a)[0]
        before = snapshot(model)
        got = flatten(arch_gradient("second", model, train, val, xi=xi))
        assert unchanged(model, before)
        assert rel_err(got, reference) < 1e-5
        # and the correction term matters: the plain val gradient at w' differs by far more
        assert rel_err(val_grad_alpha(model, val), reference) > 1e-3


def test_amended_is_g1_minus_eta_M_H_v_exactly():
    eta = 0.3
    model, train, val = TinyMixed(4), batch(5), batch(6)
    h, m = hessian_blocks(model, train)
    g2_amended = -eta * m @ (h @ val_grad_w(model, val))
    before = snapshot(model)
    assert (flatten(amended_term(model, train, val, eta=eta)) - g2_amended).abs().max() < 1e-8
    got = flatten(arch_gradient("amended", model, train, val, eta=eta))
    assert unchanged(model, before)
    assert (got - val_grad_alpha(model, val) - g2_amended).abs().max() < 1e-8
    default = flatten(arch_gradient("amended", model, train, val))  # η = 0.1
    assert (default - val_grad_alpha(model, val) + 0.1 * m @ (h @ val_grad_w(model, val))).abs().max() < 1e-8


def test_amended_fd_approximates_amended():
    """Two chained central differences: measured ≈ 1e-5 relative on g2'; tolerance 1e-4."""
    model, train, val = TinyMixed(2), batch(7), batch(8)
    before = snapshot(model)
    fd_term = flatten(amended_term(model, train, val, exact=False))
    assert unchanged(model, before)
    assert rel_err(fd_term, flatten(amended_term(model, train, val))) < 1e-4
    g1 = val_grad_alpha(model, val)
    assert (flatten(arch_gradient("amended_fd", model, train, val)) - g1 - fd_term).abs().max() < 1e-12


@pytest.mark.parametrize("rule", sorted(RULES))
def test_step_updates_alpha_by_the_rule_then_weights_at_the_new_alpha(rule):
    lr_w, lr_a = 0.05, 0.3
    model, train, val = TinyMixed(1), batch(3), batch(4)
    options = {"xi": lr_w} if rule == "second" else {}
    expected_alpha = flat(model.arch_parameters()) - lr_a * flatten(
        arch_gradient(rule, model, train, val, **options)
    )
    w0 = flat(model.weights())
    w_opt = torch.optim.SGD(model.weights(), lr=lr_w)
    a_opt = torch.optim.SGD(model.arch_parameters(), lr=lr_a)
    loss = step(model, rule, train, val, w_opt, a_opt)  # `second` takes ξ = lr_w from w_opt
    assert (flat(model.arch_parameters()) - expected_alpha).abs().max() < 1e-12
    w = w0.clone().requires_grad_()
    ref_loss = functional_loss(model, train)(w, expected_alpha)
    expected_w = w0 - lr_w * torch.autograd.grad(ref_loss, w)[0]
    assert (flat(model.weights()) - expected_w).abs().max() < 1e-12
    assert loss == pytest.approx(float(ref_loss.detach()), abs=1e-12)


def test_step_rejects_a_bad_grad_clip_before_changing_anything():
    model, data = TinyMixed(1), batch(3)
    before = snapshot(model)
    w_opt = torch.optim.SGD(model.weights(), lr=0.5)
    a_opt = torch.optim.SGD(model.arch_parameters(), lr=0.5)
    with pytest.raises(GradnasError, match="grad_clip must be a positive number, got 0"):
        step(model, "first", data, data, w_opt, a_opt, grad_clip=0)
    assert unchanged(model, before)


def test_step_clips_the_weight_gradient_norm():
    model, train, val = TinyMixed(1), batch(3), batch(4)
    w0 = flat(model.weights())
    w_opt = torch.optim.SGD(model.weights(), lr=0.5)
    a_opt = torch.optim.SGD(model.arch_parameters(), lr=0.0)
    step(model, "first", train, val, w_opt, a_opt, grad_clip=1e-3)
    # torch divides by (‖g‖ + 1e-6), hence not exactly lr · 1e-3
    assert float((flat(model.weights()) - w0).norm()) == pytest.approx(0.5 * 1e-3, rel=1e-4)


@pytest.mark.parametrize("rule", ["amended", "amended_fd"])
def test_amended_rules_observe_g1_and_the_amending_term(rule):
    eta = 0.3
    model, train, val = TinyMixed(4), batch(5), batch(6)
    h, m = hessian_blocks(model, train)
    seen = []
    got = arch_gradient(rule, model, train, val, eta=eta, observe=lambda *parts: seen.append(parts))
    [(g1, g2, used)] = seen
    assert used == eta
    assert (flatten(g1) - val_grad_alpha(model, val)).abs().max() < 1e-12
    tolerance = 1e-8 if rule == "amended" else 1e-4
    assert rel_err(flatten(g2), -eta * m @ (h @ val_grad_w(model, val))) < tolerance
    assert torch.equal(flatten(got), flatten(g1) + flatten(g2))


def test_eta_ratio_scales_the_amending_term_to_r_times_g1():
    model, train, val = TinyMixed(4), batch(5), batch(6)
    h, m = hessian_blocks(model, train)
    g1, mhv = val_grad_alpha(model, val), m @ (h @ val_grad_w(model, val))
    seen = []
    got = arch_gradient("amended", model, train, val, eta_ratio=2.5, observe=lambda *p: seen.append(p))
    [(_, g2, eta)] = seen
    assert eta == pytest.approx(2.5 * float(g1.norm()) / float(mhv.norm()), rel=1e-10)
    assert float(flatten(g2).norm()) == pytest.approx(2.5 * float(g1.norm()), rel=1e-10)
    assert (flatten(got) - (g1 - eta * mhv)).abs().max() < 1e-8


def test_beta_decay_is_the_mean_logsumexp_per_edge_and_its_gradient_by_hand():
    # row [0, ln 2, ln 3]: logsumexp = ln 6, softmax = (1, 2, 3)/6; a zero row: ln 3 and 1/3 each
    alpha = torch.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]], dtype=torch.float64).log()
    other = torch.zeros(4, 2, dtype=torch.float64)  # a second α tensor: ln 2 per row
    loss = beta_decay_loss([alpha, other])
    assert float(loss) == pytest.approx((math.log(6) + math.log(3)) / 2 + math.log(2), abs=1e-14)
    got = beta_decay_gradient([alpha, other])
    want = torch.tensor([[1 / 6, 2 / 6, 3 / 6], [1 / 3, 1 / 3, 1 / 3]], dtype=torch.float64) / 2
    assert (got[0] - want).abs().max() < 1e-15 and (got[1] - 0.5 / 4).abs().max() < 1e-15
    a, b = alpha.clone().requires_grad_(), other.clone().requires_grad_()
    autograd = torch.autograd.grad(beta_decay_loss([a, b]), [a, b])
    assert all(torch.allclose(x, y, rtol=0, atol=1e-15) for x, y in zip(autograd, got))


def test_arch_step_adds_beta_times_the_regulariser_gradient_to_the_rule():
    model, train, val = TinyMixed(0), batch(1), batch(2)
    alpha = model.alpha.detach().clone()
    expected = alpha - (
        val_grad_alpha(model, val).reshape(alpha.shape) + 4.0 * beta_decay_gradient([alpha])[0]
    )
    arch_step(model, "first", train, val, torch.optim.SGD(model.arch_parameters(), lr=1.0), beta=4.0)
    assert (model.alpha.detach() - expected).abs().max() < 1e-12
    with pytest.raises(GradnasError, match="beta must be a non-negative number, got -1"):
        arch_step(model, "first", train, val, torch.optim.SGD(model.arch_parameters(), lr=1.0), beta=-1)


@pytest.mark.parametrize(
    ("rule", "options", "message"),
    [
        ("third", {}, "unknown architecture gradient rule 'third'; valid choices: amended, amended_fd"),
        ("first", {"eta": 0.1}, "rule 'first' takes no options, got 'eta'"),
        (
            "amended",
            {"xi": 0.1},
            "rule 'amended': unknown option 'xi'; valid choices: eta, eta_ratio, observe",
        ),
        ("amended", {"eta_ratio": 0.0}, "eta_ratio must be a positive number, got 0.0"),
        ("second", {}, "rule 'second' needs option(s) xi"),
        ("second", {"xi": 0.0}, "xi must be a positive number, got 0.0"),
        ("amended", {"eta": True}, "eta must be a positive number, got True"),
        ("amended_fd", {"eta": -1}, "eta must be a positive number, got -1"),
    ],
)
def test_bad_rule_or_options_raise_gradnas_error(rule, options, message):
    model, data = TinyMixed(0), batch(0)
    with pytest.raises(GradnasError) as info:
        arch_gradient(rule, model, data, data, **options)
    assert message in str(info.value)
