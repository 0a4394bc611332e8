"""Paper 003 §3.4 claims ⟨g2', g2⟩ ≥ 0 for g2' = −η M H v and the exact g2 = −M H⁻¹ v (H SPD).

It does not hold in general: vᵀ H Mᵀ M H⁻¹ v is a quadratic form of a non-symmetric matrix,
and non-negative eigenvalues do not make such a form non-negative. These tests keep a hand-checked
counterexample, the measured frequency of the sign flip, and the exact-g2 harness on a real model.
"""

import pytest
import torch
from tiny_mixed import HIDDEN, TinyMixed, batch, hessian_blocks, val_grad_w

from gradnas.darts import amended_term, cosine, exact_g2, explicit_hessian, loss_closure
from gradnas.darts.vectors import flatten

F64 = torch.float64


def test_hand_counterexample_with_spd_hessian():
    # H = diag(1, 4) is SPD, M = [1, -0.5], v = (1, 1), η = 0.1:
    # H v = (1, 4),     M H v = 1 - 2 = -1,          g2' = -0.1 · (-1) = 0.1
    # H⁻¹ v = (1, 1/4), M H⁻¹ v = 1 - 1/8 = 0.875,  g2 = -0.875      ⟨g2', g2⟩ = -0.0875 < 0
    h = torch.diag(torch.tensor([1.0, 4.0], dtype=F64))
    m = torch.tensor([[1.0, -0.5]], dtype=F64)
    v = torch.tensor([1.0, 1.0], dtype=F64)
    assert torch.linalg.eigvalsh(h).min() > 0
    g2_amended = -0.1 * m @ h @ v
    g2 = -m @ torch.linalg.solve(h, v)
    torch.testing.assert_close(g2_amended, torch.tensor([0.1], dtype=F64))
    torch.testing.assert_close(g2, torch.tensor([-0.875], dtype=F64))
    assert float(g2_amended @ g2) == pytest.approx(-0.0875, abs=1e-15)
    # the paper's premise holds all the same: H MᵀM H⁻¹ has only non-negative eigenvalues
    assert torch.linalg.eigvals(h @ m.T @ m @ torch.linalg.inv(h)).real.min() > -1e-12


def test_sign_flips_are_common_in_random_draws():
    """2000 draws, w of dimension 5, α of dimension 3: H = AAᵀ + 0.1 I (A with N(0,1) entries),
    M and v with N(0,1) entries. Measured: ⟨g2', g2⟩ < 0 in 40.6 % of draws; DARTS's identity
    approximation g2'' = −M v has ⟨g2'', g2⟩ < 0 in 13.8 %. Bounds are about ±3 standard errors."""
    gen = torch.Generator().manual_seed(0)
    draws, n, k = 2000, 5, 3
    a = torch.randn(draws, n, n, generator=gen, dtype=F64)
    h = a @ a.transpose(1, 2) + 0.1 * torch.eye(n, dtype=F64)
    m = torch.randn(draws, k, n, generator=gen, dtype=F64)
    v = torch.randn(draws, n, 1, generator=gen, dtype=F64)
    assert torch.linalg.eigvalsh(h).min() > 0
    g2 = -(m @ torch.linalg.solve(h, v)).squeeze(-1)
    amended = -(m @ h @ v).squeeze(-1)
    identity = -(m @ v).squeeze(-1)
    amended_negative = float(((amended * g2).sum(-1) < 0).double().mean())
    identity_negative = float(((identity * g2).sum(-1) < 0).double().mean())
    assert amended_negative > 0.10
    assert 0.37 < amended_negative < 0.44
    assert 0.11 < identity_negative < 0.17


def test_exact_g2_harness_and_cosine_on_a_tiny_model():
    """TinyMixed(seed=1) at its initial weights: harness g2 equals −M H⁻¹ v from explicit blocks.
    Measured cos(g2', g2) = −0.914 (DARTS's −M v: −0.975); H is indefinite there (λ_min ≈ −0.85),
    as away from an optimum it generally is, so this shows the estimate can point backwards on a
    real model, not a violation of the paper's premise."""
    model, train, val = TinyMixed(seed=1), batch(11), batch(21)
    h, m = hessian_blocks(model, train)
    v = val_grad_w(model, val)
    reference_g2 = -m @ torch.linalg.solve(h, v)
    g2 = flatten(exact_g2(model, train, val))
    assert float((g2 - reference_g2).norm() / reference_g2.norm()) < 1e-8
    g2_amended = flatten(amended_term(model, train, val))
    assert (g2_amended + 0.1 * m @ (h @ v)).abs().max() < 1e-8
    measured = cosine([g2_amended], [g2])
    assert abs(measured - cosine([-m @ (h @ v)], [reference_g2])) < 1e-8
    assert -0.92 < measured < -0.91
    assert torch.linalg.eigvalsh(h).min() < -0.8


def logit_shift_directions(model):
    """The HIDDEN + 1 weight directions that add the same amount to every logit: one per hidden unit
    (that column of fc_out.weight) and fc_out.bias. The loss is constant along each."""
    weights = model.weights()
    directions = []
    for unit in [*range(HIDDEN), None]:
        d = [torch.zeros_like(p) for p in weights]
        if unit is None:
            d[-1].fill_(1.0)
        else:
            d[-2][:, unit] = 1.0
        directions.append(flatten(d))
    return torch.stack(directions, dim=1)


def test_exact_g2_is_the_solution_on_the_complement_of_the_logit_shift_null_space():
    model, train, val = TinyMixed(seed=2, pinned=False), batch(12), batch(22)
    h, m = hessian_blocks(model, train)
    v = val_grad_w(model, val)
    null = logit_shift_directions(model)
    # H is singular: every shift direction is in its null space, and M and v vanish on it
    assert (
        (h @ null).abs().max() < 1e-12 and (m @ null).abs().max() < 1e-12 and (v @ null).abs().max() < 1e-12
    )
    assert (explicit_hessian(loss_closure(model, train), model.weights()) @ null).abs().max() < 1e-12
    q, _ = torch.linalg.qr(null, mode="complete")
    complement = q[:, null.shape[1] :]
    reduced = complement.T @ h @ complement
    reference_g2 = -m @ complement @ torch.linalg.solve(reduced, complement.T @ v)
    g2 = flatten(exact_g2(model, train, val))
    assert float((g2 - reference_g2).norm() / reference_g2.norm()) < 1e-8
