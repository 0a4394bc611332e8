"""Hand-computed values of the zero-cost baselines on tiny networks."""

import math

import numpy as np
import pytest
import torch
from tiny_nets import batch, fixed_linear
from torch import nn

from gradnas.data import ProbeBatch
from gradnas.proxies import score
from gradnas.spaces import NB201Arch, get_space


def test_grad_norm_and_snip_match_the_closed_form_softmax_gradient():
    w = np.array([[1.0, 2.0], [3.0, -4.0]])
    x, y = np.array([[1.0, 0.5], [-1.0, 2.0]]), np.array([0, 1])
    z = x @ w.T
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    grad = (p - np.eye(2)[y]).T @ x / 2  # ∂ mean CE / ∂W
    result = score(fixed_linear(w), batch(x, y), ["grad_norm", "snip"], dtype=torch.float64)
    assert result["grad_norm"].value == pytest.approx(np.linalg.norm(grad), rel=1e-12)
    assert result["snip"].value == pytest.approx(np.abs(w * grad).sum(), rel=1e-12)


def test_synflow_of_a_two_layer_linear_net():
    # |W1| = [[1, 2], [3, 4]], |W2| = [[1, 1], [2, 0]], input ones, R = 1ᵀ|W2||W1|1
    # ∂R/∂W1 = (|W2|ᵀ1)1ᵀ = [[3, 3], [1, 1]] -> Σ |W1| ⊙ = 3 + 6 + 3 + 4 = 16
    # ∂R/∂W2 = 1(|W1|1)ᵀ = [[3, 7], [3, 7]] -> Σ |W2| ⊙ = 3 + 7 + 6 + 0 = 16
    model = fixed_linear([[1.0, -2.0], [3.0, 4.0]], [[1.0, -1.0], [2.0, 0.0]])
    assert score(model, batch([[5.0, -7.0]], [0]), ["synflow"])["synflow"].value == 32.0


@pytest.mark.parametrize("inplace", [False, True])
def test_naswot_kernel_on_a_hand_made_activation_pattern(inplace):
    relu = nn.ReLU(inplace=inplace)  # the kernel must see the ReLU's input, even when overwritten
    model = nn.Sequential(fixed_linear(np.eye(3).tolist()), relu, nn.Linear(3, 2).double())
    x = [[1.0, -1.0, 1.0], [1.0, 1.0, -1.0], [-1.0, -1.0, -1.0]]  # codes 101, 110, 000
    # agreements: K = [[3, 1, 1], [1, 3, 1], [1, 1, 3]], det = 20
    result = score(model, batch(x, [0, 1, 0]), ["naswot"], dtype=torch.float64)
    assert result["naswot"].value == pytest.approx(math.log(20.0))


def test_naswot_is_nan_with_a_reason_when_two_samples_share_every_code():
    model = nn.Sequential(fixed_linear(np.eye(2).tolist()), nn.ReLU(), nn.Linear(2, 2).double())
    result = score(model, batch([[1.0, -1.0], [2.0, -3.0]], [0, 1]), ["naswot"], dtype=torch.float64)
    assert math.isnan(result["naswot"].value) and "singular" in result["naswot"].reason


def test_params_and_degenerate_all_none_cells():
    space = get_space("nb201")
    conv = space.build(NB201Arch.from_ops(["nor_conv_3x3"] * 6))
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    probe = ProbeBatch(x, torch.arange(8) % 10, 10)
    assert score(conv, probe, ["params"])["params"].value == 1_531_546
    dead = space.build(NB201Arch.from_ops(["none"] * 6))
    result = score(dead, probe, ["grad_norm", "snip", "gradsign"])
    # cells that output only zeros: the head sees constant features, every gradient is zero
    assert result["gradsign"].value == 0.0 and result["snip"].value == 0.0
    assert result["grad_norm"].value == 0.0


def test_baselines_leave_the_callers_model_untouched():
    model = get_space("nb201").build(
        NB201Arch.from_ops(
            ["nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3", "nor_conv_3x3", "none"]
        )
    )
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    probe = ProbeBatch(x, torch.arange(16) % 10, 10)
    result = score(model, probe, ["grad_norm", "snip", "synflow", "naswot"])
    assert all(s.ok and s.value > 0 for s in result.values())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_flops_counts_multiply_accumulates_by_hand():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(18, 4))
    # conv: 2·3·3 outputs × 1·3·3 weights each = 162; linear: 4 outputs × 18 inputs = 72
    probe = ProbeBatch(torch.randn(2, 1, 5, 5), torch.tensor([0, 1]), 4)
    assert score(model, probe, ["flops"])["flops"].value == 234.0


def test_jacob_cov_of_a_linear_model_has_one_nonzero_eigenvalue():
    # f(x) = Wx: every sample's Jacobian of Σ logits is the column sums of W, so the correlation
    # matrix of n samples is all ones: eigenvalues n and n−1 zeros
    model = fixed_linear([[1.0, 2.0, -1.0], [0.5, -3.0, 2.0]])
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(1)).tolist()
    value = score(model, batch(x, [0, 1, 0, 1]), ["jacob_cov"])["jacob_cov"].value
    eps, n = 1e-5, 4
    expected = -(math.log(n + eps) + 1 / (n + eps) + (n - 1) * (math.log(eps) + 1 / eps))
    assert value == pytest.approx(expected, rel=1e-9)


def test_grasp_equals_the_explicit_hessian_vector_product():
    w = torch.tensor([[0.3, -1.2, 0.8], [1.1, 0.4, -0.5]], dtype=torch.float64)
    x = torch.tensor([[1.0, 2.0, -1.0], [0.5, -0.3, 2.0], [-1.5, 0.2, 0.7]], dtype=torch.float64)
    y = torch.tensor([0, 1, 1])

    def loss(weight):
        return torch.nn.functional.cross_entropy(x @ weight.T, y)

    hessian = torch.autograd.functional.hessian(loss, w)  # (2, 3, 2, 3), a plain reference
    g = torch.func.grad(loss)(w)
    expected = -float((w * torch.einsum("abcd,cd->ab", hessian, g)).sum())
    result = score(fixed_linear(w.tolist()), batch(x.tolist(), y.tolist()), ["grasp"], dtype=torch.float64)
    assert result["grasp"].value == pytest.approx(expected, rel=1e-10)


def test_fisher_matches_the_closed_form_on_a_linear_layer():
    w = np.array([[1.0, -2.0], [0.5, 1.5]])
    x, y = np.array([[1.0, 0.5], [-1.0, 2.0], [0.3, -0.4]]), np.array([0, 1, 1])
    a = x @ w.T
    p = np.exp(a - a.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    s = a * (p - np.eye(2)[y]) / 3  # a · ∂(mean CE)/∂a, per sample and output
    expected = (0.5 * (s**2).mean(0)).sum() * 2  # fan-in 2
    result = score(fixed_linear(w), batch(x, y), ["fisher"], dtype=torch.float64)
    assert result["fisher"].value == pytest.approx(expected, rel=1e-12)


class CountedForward(nn.Linear):
    calls = 0

    def forward(self, x):
        CountedForward.calls += 1
        return super().forward(x)


def test_fisher_and_the_saliencies_share_one_forward_and_give_what_they_give_alone():
    torch.manual_seed(0)
    x, y = torch.randn(6, 3, dtype=torch.float64), torch.tensor([0, 1, 1, 0, 1, 0])
    model = nn.Sequential(nn.Flatten(), CountedForward(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    names = ["grad_norm", "snip", "plain", "fisher"]
    CountedForward.calls = 0
    together = score(model, batch(x, y), names, dtype=torch.float64)
    assert CountedForward.calls == 1
    for name in names:
        alone = score(model, batch(x, y), [name], dtype=torch.float64)[name].value
        assert together[name].value == alone  # bit for bit


def test_naswot_swap_and_meco_watch_one_forward_and_fail_alone():
    torch.manual_seed(0)
    x, y = torch.randn(6, 3, 3, 3, dtype=torch.float64), torch.tensor([0, 1, 1, 0, 1, 0])
    images = nn.Sequential(nn.Conv2d(3, 8, 1), nn.ReLU(), nn.Flatten(), CountedForward(72, 2)).double()
    names = ["naswot", "swap", "meco"]
    CountedForward.calls = 0
    together = score(images, ProbeBatch(x, y, 2), names, dtype=torch.float64)
    assert CountedForward.calls == 1
    for name in names:
        alone = score(images, ProbeBatch(x, y, 2), [name], dtype=torch.float64)[name]
        assert together[name].value == alone.value and math.isfinite(alone.value)
    # no ReLU on a 4-d map: swap alone is undefined, with its own reason
    flat = nn.Sequential(nn.Flatten(), nn.Linear(27, 16), nn.ReLU(), nn.Linear(16, 2)).double()
    got = score(flat, ProbeBatch(x, y, 2), names, dtype=torch.float64)
    assert math.isnan(got["swap"].value) and "4-d feature maps" in got["swap"].reason
    assert math.isfinite(got["naswot"].value) and math.isfinite(got["meco"].value)
