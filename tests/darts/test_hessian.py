"""Exact and finite-difference second-order products against hand values and explicit Hessian blocks."""

import torch
from tiny_mixed import TinyMixed, batch, flat, hessian_blocks

from gradnas.darts import explicit_hessian, hvp, hvp_fd, loss_closure, mixed_vp, mixed_vp_fd
from gradnas.darts.hessian import mixed_hvp, shifted
from gradnas.darts.vectors import flatten

F64 = torch.float64


def random_like(params, seed):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params]


def rel_err(got, want) -> float:
    return float((got - want).norm() / want.norm())


def test_products_by_hand_on_a_quadratic_with_an_unused_parameter():
    # L = a · ⟨w, w⟩, u unused: H_ww = 2a·I, ∇_a⟨∇_w L, v⟩ = 2⟨w, v⟩, and zeros (not None) for u.
    w = torch.tensor([1.0, -2.0, 0.5], dtype=F64, requires_grad=True)
    u = torch.tensor([3.0], dtype=F64, requires_grad=True)
    a = torch.tensor(1.5, dtype=F64, requires_grad=True)
    v = [torch.tensor([0.2, 0.4, -1.0], dtype=F64), torch.tensor([7.0], dtype=F64)]

    def loss():
        return a * (w * w).sum()

    for product in (hvp, hvp_fd):
        hw, hu = product(loss, [w, u], v)
        torch.testing.assert_close(hw, torch.tensor([0.6, 1.2, -3.0], dtype=F64), rtol=0, atol=1e-10)
        assert torch.equal(hu, torch.zeros(1, dtype=F64))
    for product in (mixed_vp, mixed_vp_fd):
        (ma,) = product(loss, [w, u], [a], v)
        # 2⟨w, v⟩ = 2 (0.2 - 0.8 - 0.5) = -2.2
        torch.testing.assert_close(ma, torch.tensor(-2.2, dtype=F64), rtol=0, atol=1e-10)


def test_exact_products_equal_explicit_hessian_blocks():
    model, data = TinyMixed(seed=3), batch(4)
    loss, weights, arch = loss_closure(model, data), model.weights(), model.arch_parameters()
    h_ww, h_aw = hessian_blocks(model, data)
    v = random_like(weights, seed=5)
    assert (flatten(hvp(loss, weights, v)) - h_ww @ flat(v)).abs().max() < 1e-8
    assert (flatten(mixed_vp(loss, weights, arch, v)) - h_aw @ flat(v)).abs().max() < 1e-8
    assert (explicit_hessian(loss, weights) - h_ww).abs().max() < 1e-8
    # the fused product reuses one first backward for both double backwards: the same numbers
    fused = flatten(mixed_hvp(loss, weights, arch, v))
    assert torch.equal(fused, flatten(mixed_vp(loss, weights, arch, hvp(loss, weights, v))))
    assert (fused - h_aw @ (h_ww @ flat(v))).abs().max() < 1e-8


def test_fused_product_of_a_loss_without_weights_is_zero():
    w = torch.tensor([1.0, 2.0], dtype=F64, requires_grad=True)
    a = torch.tensor(0.5, dtype=F64, requires_grad=True)
    (ma,) = mixed_hvp(lambda: a * 3.0, [w], [a], [torch.ones(2, dtype=F64)])
    assert torch.equal(ma, torch.zeros((), dtype=F64))


def test_finite_differences_agree_with_exact_products():
    """Central differences with ε = 0.01/‖v‖ have O(ε²) error: measured ≈ 1e-5 relative here, so
    1e-4 is the tolerance (a wrong sign, factor or missing 2ε would be off by O(1))."""
    for seed in range(3):
        model, data = TinyMixed(seed), batch(10 + seed)
        loss, weights, arch = loss_closure(model, data), model.weights(), model.arch_parameters()
        v = random_like(weights, seed)
        assert rel_err(flatten(hvp_fd(loss, weights, v)), flatten(hvp(loss, weights, v))) < 1e-4
        exact = flatten(mixed_vp(loss, weights, arch, v))
        assert rel_err(flatten(mixed_vp_fd(loss, weights, arch, v)), exact) < 1e-4


def test_finite_differences_leave_weights_bit_exact_and_zero_direction_gives_zero():
    model, data = TinyMixed(seed=1), batch(2)
    loss, weights, arch = loss_closure(model, data), model.weights(), model.arch_parameters()
    before = [p.detach().clone() for p in weights]
    hvp_fd(loss, weights, random_like(weights, seed=9))
    mixed_vp_fd(loss, weights, arch, random_like(weights, seed=8))
    assert all(torch.equal(p, q) for p, q in zip(weights, before, strict=True))
    zero = [torch.zeros_like(p) for p in weights]
    assert all(not t.any() for t in hvp_fd(loss, weights, zero) + mixed_vp_fd(loss, weights, arch, zero))


def test_shifted_moves_then_restores_even_on_error():
    p = torch.tensor([0.1, 0.2], dtype=torch.float32, requires_grad=True)
    direction = [torch.tensor([1.0, 3.0])]
    try:
        with shifted([p], direction, 1 / 3):
            torch.testing.assert_close(p.detach(), torch.tensor([0.1 + 1 / 3, 0.2 + 1.0]))
            raise RuntimeError("inside")
    except RuntimeError:
        pass
    assert torch.equal(p.detach(), torch.tensor([0.1, 0.2], dtype=torch.float32))
