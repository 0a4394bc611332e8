"""The newest proxies against hand-computed values or a plain float64 reference written
differently (numpy), on tiny networks."""

import math

import numpy as np
import pytest
import torch
from tiny_nets import batch, fixed_linear
from torch import nn

from gradnas.data import ProbeBatch
from gradnas.proxies import score

W = np.array([[1.0, 2.0, -1.0], [3.0, -4.0, 0.5]])
X = np.array([[1.0, 0.5, -2.0], [-1.0, 2.0, 0.0], [0.5, -1.5, 1.0], [2.0, 1.0, 1.0]])
Y = np.array([0, 1, 1, 0])


def mean_ce_gradient(w, x, y):
    """∂ mean CE / ∂W of a bias-free linear classifier, from the closed-form softmax gradient."""
    z = x @ w.T
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return (p - np.eye(w.shape[0])[y]).T @ x / len(x)


def test_zico_on_two_half_batches_of_a_linear_classifier():
    g = np.stack([mean_ce_gradient(W, X[:2], Y[:2]), mean_ce_gradient(W, X[2:], Y[2:])]).reshape(2, -1)
    std, mean_abs = np.abs(g[0] - g[1]) / 2, np.abs(g).mean(0)  # the population std of two values
    keep = std > 0
    expected = math.log((mean_abs[keep] / std[keep]).sum())
    got = score(fixed_linear(W), batch(X, Y), ["zico"], dtype=torch.float64)["zico"]
    assert got.value == pytest.approx(expected, rel=1e-12)


def test_zico_is_nan_with_a_reason_on_one_sample():
    got = score(fixed_linear(W), batch(X[:1], Y[:1]), ["zico", "l2_norm"], dtype=torch.float64)
    assert math.isnan(got["zico"].value) and "2 samples" in got["zico"].reason
    assert got["l2_norm"].ok


def test_plain_and_l2_norm_on_a_two_layer_linear_net():
    w2 = np.array([[1.0, -1.0], [0.5, 2.0]])
    model = fixed_linear(W, w2)
    h = X @ W.T  # the first layer's output; the second layer sees it
    z = h @ w2.T
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    dz = (p - np.eye(2)[Y]) / len(X)
    g2, g1 = dz.T @ h, (dz @ w2).T @ X
    got = score(model, batch(X, Y), ["plain", "l2_norm"], dtype=torch.float64)
    assert got["plain"].value == pytest.approx((W * g1).sum() + (w2 * g2).sum(), rel=1e-12)
    assert got["l2_norm"].value == pytest.approx(np.linalg.norm(W) + np.linalg.norm(w2), rel=1e-12)


def test_epe_nas_matches_numpy_corrcoef_per_class():
    w1 = np.array([[1.0, -1.0, 0.5], [0.5, 2.0, -1.0], [-1.0, 0.5, 1.5], [2.0, 1.0, -0.5]])
    w2 = np.array([[1.0, -2.0, 0.5, 1.0], [0.5, 1.0, -1.0, 2.0]])
    x = np.array([[1.0, 0.5, -2.0], [-1.0, 2.0, 0.0], [0.5, -1.5, 1.0], [2.0, 1.0, 1.0], [0.1, 0.2, 0.3]])
    y = np.array([0, 1, 1, 0, 2])  # class 2 has one sample: a 1×1 correlation, log(1 + 1e-5)
    model = nn.Sequential(fixed_linear(w1), nn.ReLU(), fixed_linear(w2)[1])
    on = (x @ w1.T > 0).astype(float)
    jac = (on * w2.sum(0)) @ w1  # ∂ Σ_c logit_c / ∂x, row by row
    expected = sum(abs(np.log(np.abs(np.corrcoef(jac[y == c])) + 1e-5).sum()) for c in (0, 1))
    expected += math.log(1 + 1e-5)
    got = score(model, batch(x, y, classes=3), ["epe_nas"], dtype=torch.float64)["epe_nas"]
    assert got.value == pytest.approx(expected, rel=1e-12)


def test_epe_nas_with_more_than_100_classes_averages_and_compares_classes():
    # a linear net has the same input Jacobian Σ_c W_c for every sample: every correlation is 1,
    # so s_c = n_c² log(1 + 1e-5) / n_c; classes of 2 and 3 samples (the single one is skipped)
    # give Σ_c Σ_c' |s_c − s_c'| / 2 = log(1 + 1e-5)
    w = np.random.default_rng(0).normal(size=(101, 3))
    x = np.random.default_rng(1).normal(size=(6, 3))
    probe = ProbeBatch(torch.tensor(x).reshape(6, 3, 1, 1), torch.tensor([0, 0, 1, 1, 1, 2]), 101)
    got = score(fixed_linear(w), probe, ["epe_nas"], dtype=torch.float64)["epe_nas"]
    assert got.value == pytest.approx(math.log(1 + 1e-5), rel=1e-9)


def two_channel_net(weight) -> nn.Sequential:
    conv = nn.Conv2d(len(weight[0]), len(weight), 1, bias=False).double()
    conv.weight.data.copy_(torch.tensor(weight, dtype=torch.float64)[:, :, None, None])
    return nn.Sequential(conv)


def test_meco_is_one_minus_the_channel_correlation_for_two_channels():
    # channels a = 1,2,3,4 and b = 1,3,2,4 over a 2×2 map: deviations ±1.5, ±0.5, so
    # ρ = (2.25 − 0.25 − 0.25 + 2.25) / 5 = 0.8 and λ_min [[1, ρ], [ρ, 1]] = 0.2; the conv and
    # the Sequential holding it are two module calls with the same output
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[1.0, 3.0], [2.0, 4.0]]]], dtype=torch.float64)
    probe = ProbeBatch(x, torch.tensor([0]), 2)
    got = score(two_channel_net([[1.0, 0.0], [0.0, 1.0]]), probe, ["meco", "meco_opt"], dtype=torch.float64)
    assert got["meco"].value == pytest.approx(0.4, abs=1e-12)
    assert got["meco_opt"].value == got["meco"].value  # at most 8 channels: all of them, unscaled


def test_meco_opt_scales_the_sampled_eigenvalue_by_channels_over_eight():
    # 10 channels of mutually orthogonal zero-mean ±1 patterns (Hadamard rows): any subset's
    # correlation is the identity, λ_min = 1, so meco adds 1 per call and meco_opt 10/8
    hadamard = np.array([[1.0]])
    for _ in range(4):
        hadamard = np.block([[hadamard, hadamard], [hadamard, -hadamard]])
    x = torch.tensor(hadamard[1:11].reshape(1, 10, 4, 4))
    got = score(
        two_channel_net(np.eye(10).tolist()), ProbeBatch(x, torch.tensor([0]), 2), ["meco", "meco_opt"]
    )
    assert got["meco"].value == pytest.approx(2.0, abs=1e-6)
    assert got["meco_opt"].value == pytest.approx(2.5, abs=1e-6)


def test_swap_counts_distinct_sample_wise_patterns():
    # channel 0 is x, channel 1 is −x; over samples (1, 2), (3, 4), (−1, −2) the four units'
    # on/off vectors are 110, 110, 001, 001: two distinct patterns
    model = nn.Sequential(two_channel_net([[1.0], [-1.0]]), nn.ReLU())
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0], [-1.0, -2.0]], dtype=torch.float64).reshape(3, 1, 1, 2)
    assert score(model, ProbeBatch(x, torch.tensor([0, 1, 0]), 2), ["swap"])["swap"].value == 2.0


def test_swap_equals_a_set_of_python_tuples_over_more_than_one_packed_word():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 1), nn.ReLU()).double()
    x = torch.randn(130, 3, 4, 4, dtype=torch.float64)  # 130 samples: three 62-bit words
    with torch.no_grad():
        first = model[1](model[0](x))
        codes = torch.cat([first.reshape(130, -1), model[3](model[2](first)).reshape(130, -1)], 1) > 0
    expected = len({tuple(column.tolist()) for column in codes.T})
    got = score(model, ProbeBatch(x, torch.arange(130) % 2, 2), ["swap"], dtype=torch.float64)["swap"]
    assert got.value == expected and expected > 10


class Staged(nn.Module):
    """A stem and two cells of 1×1 convolutions (each followed by a ReLU when `relu`), the second
    with stride 2."""

    def __init__(self, cell_weights, relu=True):
        super().__init__()
        self.stem = two_channel_net([[1.0], [0.5]])
        self.cells = nn.ModuleList(two_channel_net(w) for w in cell_weights)
        self.cells[1][0].stride = (2, 2)
        if relu:
            for cell in self.cells:
                cell.append(nn.ReLU())
        self.head = nn.Linear(2, 2).double()

    def forward(self, x):
        out = self.stem(x)
        for cell in self.cells:
            out = cell(out)
        return self.head(out.mean((2, 3)))


def isotropy(feature: np.ndarray) -> float:
    flat = feature.transpose(0, 2, 3, 1).reshape(-1, feature.shape[1])
    flat = flat - flat.mean(0)
    s = np.clip(np.linalg.eigvalsh(flat.T @ flat / len(flat)), 0, None)
    p = s / s.sum()
    return float(-(p * np.log(p + 1e-8)).sum())


def test_az_nas_components_against_numpy():
    cells = [[[1.0, -1.0], [0.5, 2.0]], [[2.0, 1.0], [-1.0, 1.0]]]
    model = Staged(cells)
    x = torch.randn(6, 1, 4, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    stem = x.numpy() * np.array([1.0, 0.5])[None, :, None, None]
    a = np.maximum(np.einsum("oc,nchw->nohw", np.array(cells[0]), stem), 0)
    b = np.maximum(np.einsum("oc,nchw->nohw", np.array(cells[1]), a[:, :, ::2, ::2]), 0)
    iso = [isotropy(f) for f in (stem, a, b)]
    # the ±1 output gradients are drawn from the probe's seed, the last stage first
    gen = torch.Generator().manual_seed(0)
    g_b = (torch.randint(0, 2, b.shape, generator=gen) * 2 - 1).double().numpy()
    g_a = (torch.randint(0, 2, a.shape, generator=gen) * 2 - 1).double().numpy()

    def gain(g_in, g_out):
        if g_in.shape[2:] != g_out.shape[2:]:  # space to depth, as pixel_unshuffle
            n, c, h, w = g_in.shape
            g_in = (
                g_in.reshape(n, c, h // 2, 2, w // 2, 2)
                .transpose(0, 1, 3, 5, 2, 4)
                .reshape(n, 4 * c, h // 2, w // 2)
            )
        rows_in = g_in.transpose(0, 2, 3, 1).reshape(-1, g_in.shape[1])
        rows_out = g_out.transpose(0, 2, 3, 1).reshape(-1, g_out.shape[1])
        sigma = np.linalg.svd(rows_in.T @ rows_out / len(rows_out), compute_uv=False).max()
        return -sigma - 1 / (sigma + 1e-6) + 2

    # the backward of ReLU(W f): g_in = Wᵀ (g_out ⊙ [W f > 0]), at the stride-2 positions for b
    pre_b = np.einsum("oc,nchw->nohw", np.array(cells[1]), a[:, :, ::2, ::2]) > 0
    gin_b = np.zeros_like(a)
    gin_b[:, :, ::2, ::2] = np.einsum("oc,nohw->nchw", np.array(cells[1]), g_b * pre_b)
    pre_a = np.einsum("oc,nchw->nohw", np.array(cells[0]), stem) > 0
    gin_a = np.einsum("oc,nohw->nchw", np.array(cells[0]), g_a * pre_a)
    names = ["az_expressivity", "az_progressivity", "az_trainability"]
    got = score(model, ProbeBatch(x, torch.arange(6) % 2, 2), names, dtype=torch.float64)
    assert got["az_expressivity"].value == pytest.approx(sum(iso), rel=1e-10)
    assert got["az_progressivity"].value == pytest.approx(min(iso[1] - iso[0], iso[2] - iso[1]), rel=1e-10)
    expected = (gain(gin_b, g_b) + gain(gin_a, g_a)) / 2
    assert got["az_trainability"].value == pytest.approx(expected, rel=1e-10)


def test_az_trainability_is_nan_with_a_reason_for_an_identity_cell():
    model = Staged([[[1.0, 0.0], [0.0, 1.0]], [[2.0, 1.0], [-1.0, 1.0]]], relu=False)
    x = torch.randn(4, 1, 4, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    got = score(model, ProbeBatch(x, torch.arange(4) % 2, 2), ["az_trainability"], dtype=torch.float64)
    assert math.isnan(got["az_trainability"].value) and "identity" in got["az_trainability"].reason


def test_vkdnw_on_two_coordinates_of_a_two_layer_linear_net():
    # θ = (W1[0, 0], W2[0, 0]); logits z = W2 W1 x, so ∂z/∂W1[0,0] = W2[:, 0] x_0 and
    # ∂z/∂W2[0,0] = e_0 (W1 x)_0; F = mean_i J_iᵀ (diag p_i − p_i p_iᵀ) J_i with p smoothed
    w2 = np.array([[1.0, -1.0], [0.5, 2.0]])
    fisher = np.zeros((2, 2))
    for x in X:
        h, z = W @ x, w2 @ (W @ x)
        p = np.exp(z - z.max())
        p = p / p.sum() * 0.95 + 0.05 / 2
        jac = np.stack([w2[:, 0] * x[0], np.array([h[0], 0.0])], 1)
        fisher += jac.T @ (np.diag(p) - np.outer(p, p)) @ jac / len(X)
    low, high = np.linalg.eigvalsh(fisher)
    deciles = low + (high - low) * np.arange(1, 10) / 10  # linear interpolation between two values
    q = deciles / deciles.sum()
    got = score(fixed_linear(W, w2), batch(X, Y), ["vkdnw", "vkdnw_dim"], dtype=torch.float64)
    assert got["vkdnw"].value == pytest.approx(-(q * np.log(q)).sum(), rel=1e-8)
    assert got["vkdnw_dim"].value == 2.0


def test_distinct_rows_are_torch_uniques_rows_in_the_same_order():
    from gradnas.proxies.observed import _distinct_rows

    generator = torch.Generator().manual_seed(0)
    for words in (1, 2, 3):
        rows = torch.randint(0, 4, (500, words), generator=generator)  # small range: many repeats
        assert torch.equal(_distinct_rows(rows), torch.unique(rows, dim=0))
