"""ntk_cond, linear_regions and zen: closed forms on tiny networks, a plain reference loop for the
batched NTK, and NaN reasons for degenerate networks."""

import math

import numpy as np
import pytest
import torch
from tiny_nets import batch, fixed_linear
from torch import nn

from gradnas.data import ProbeBatch
from gradnas.proxies import Probe, ThinNetwork, score
from gradnas.proxies.expressivity import NTK_CHUNK, _crops, ntk_gram
from gradnas.spaces import NB201Arch, get_space


def test_ntk_of_a_linear_layer_is_classes_times_the_input_gram():
    # Σ_c logit_c = 1ᵀ(Wx + b): its gradient in W is 1 ⊗ x, so the NTK (weights only) is C·X Xᵀ
    w = [[1.0, 2.0, 0.0], [0.5, -1.0, 3.0]]
    model = fixed_linear(w)
    model[1].bias = nn.Parameter(torch.tensor([0.3, -0.2], dtype=torch.float64))  # not a 'weight'
    x = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0], [1.0, 1.0, 0.0]])
    result = score(model, batch(x, [0, 1, 0]), ["ntk_cond"], dtype=torch.float64)
    eigenvalues = np.linalg.eigvalsh(2 * x @ x.T)
    assert result["ntk_cond"].value == pytest.approx(-eigenvalues[-1] / eigenvalues[0], rel=1e-10)


def test_batched_ntk_equals_a_per_sample_backward_loop_with_batch_statistics():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        nn.BatchNorm2d(3),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(3, 4),
    ).double()
    n = NTK_CHUNK + 3  # a full chunk and a partial one
    probe_batch = ProbeBatch(torch.randn(n, 2, 5, 5, dtype=torch.float64), torch.arange(n) % 4, 4)
    gram = ntk_gram(Probe(model, probe_batch, dtype=torch.float64))
    reference = model.train()
    weights = [p for name, p in reference.named_parameters() if name.endswith("weight")]
    logits = reference(probe_batch.x)
    rows = []
    for i in range(n):  # TE-NAS: one backward of Σ_c logit_c(x_i) through the batch's forward
        grads = torch.autograd.grad(logits[i].sum(), weights, retain_graph=True)
        rows.append(torch.cat([g.flatten() for g in grads]))
    g = torch.stack(rows)
    torch.testing.assert_close(gram, g @ g.T, rtol=1e-10, atol=1e-12)


def test_ntk_cond_is_nan_when_there_are_more_samples_than_weight_coordinates():
    model = fixed_linear([[1.0, 2.0], [3.0, 4.0]])  # 4 weight coordinates, but rank(X) <= 2
    x = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    result = score(model, batch(x, [0, 1, 0]), ["ntk_cond"], dtype=torch.float64)
    assert math.isnan(result["ntk_cond"].value) and "singular" in result["ntk_cond"].reason


def test_linear_regions_counts_distinct_activation_patterns_by_hand():
    model = nn.Sequential(fixed_linear([[1.0], [-1.0]]), nn.ReLU(), nn.Linear(2, 2).double())
    # x > 0 gives pattern (1, 0), x < 0 gives (0, 1), x = 0 gives (0, 0): three regions
    x = [[2.0], [1.0], [-1.0], [-3.0], [0.0], [5.0]]
    result = score(model, batch(x, [0, 1, 0, 1, 0, 1]), ["linear_regions"], dtype=torch.float64)
    assert result["linear_regions"].value == 3.0


def test_linear_regions_uses_the_thin_network_on_crops_when_given():
    full = nn.Sequential(nn.Flatten(), nn.Linear(4, 2), nn.ReLU(), nn.Linear(2, 2))
    thin = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(1, 2))
    thin[0].weight.data.fill_(1.0)
    images = torch.tensor([[[[-1.0, 2.0], [3.0, -4.0]]]])  # 1×1 crops are one signed pixel each
    probe_batch = ProbeBatch(images, torch.tensor([0]), 2)
    result = score(full, probe_batch, ["linear_regions"], thin=ThinNetwork(thin, crop=1, samples=50))
    assert result["linear_regions"].value == 2.0  # pixel > 0 or < 0


def test_crops_are_the_seeded_windows_of_the_images():
    images = torch.arange(2 * 3 * 6 * 5, dtype=torch.float32).reshape(2, 3, 6, 5)
    crops = _crops(images, 3, 40, seed=7)
    windows = {
        images[i, :, t : t + 3, l : l + 3].numpy().tobytes()
        for i in range(2)
        for t in range(4)
        for l in range(3)  # noqa: E741
    }
    assert crops.shape == (40, 3, 3, 3)
    assert all(c.numpy().tobytes() in windows for c in crops)
    assert torch.equal(crops, _crops(images, 3, 40, seed=7))
    assert len({c.numpy().tobytes() for c in crops}) > 10  # spread over positions and images


def _zen_draws(seed: int, weight_shapes, input_shape):
    """The documented draw order: N(0, 1) weights in module order, then x, then ε."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        weights = [torch.empty(shape, dtype=torch.float64).normal_() for shape in weight_shapes]
        x = torch.randn(input_shape, dtype=torch.float64)
        eps = torch.randn(input_shape, dtype=torch.float64)
    return weights, x, eps


def test_zen_of_a_linear_feature_map_is_log_of_gamma_times_the_perturbation_response():
    # features = w·x (1×1 conv, no BatchNorm): Δ = mean_i Σ |w·γε_i| = |w|·γ·mean_i Σ |ε_i|
    model = nn.Sequential(
        nn.Conv2d(1, 1, 1, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1, 2)
    )
    probe_batch = ProbeBatch(torch.zeros(5, 1, 4, 4, dtype=torch.float64), torch.tensor([0, 1, 0, 1, 0]), 2)
    value = score(model, probe_batch, ["zen"], dtype=torch.float64, seed=3)["zen"].value
    (w, _), _, eps = _zen_draws(3, [(1, 1, 1, 1), (2, 1)], (5, 1, 4, 4))
    expected = math.log(float(w.abs()) * 0.01 * float(eps.abs().sum((1, 2, 3)).mean()))
    assert value == pytest.approx(expected, rel=1e-9)


def test_zen_adds_the_log_batchnorm_scale_left_by_the_two_forwards():
    model = nn.Sequential(
        nn.Conv2d(1, 1, 1, bias=False),
        nn.BatchNorm2d(1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(1, 2),
    )
    probe_batch = ProbeBatch(torch.zeros(6, 1, 3, 3, dtype=torch.float64), torch.arange(6) % 2, 2)
    value = score(model, probe_batch, ["zen"], dtype=torch.float64)["zen"].value
    (w, _), x, eps = _zen_draws(0, [(1, 1, 1, 1), (2, 1)], (6, 1, 3, 3))
    a, b = float(w) * x, float(w) * (x + 0.01 * eps)

    def bn(z):  # train mode: each forward normalised by its own batch statistics
        return (z - z.mean()) / torch.sqrt(z.var(unbiased=False) + 1e-5)

    delta = float((bn(a) - bn(b)).abs().sum((1, 2, 3)).mean())
    # running_var starts at 1, momentum 0.1, updated with the unbiased variance of each forward
    running_var = 0.81 + 0.09 * float(a.var()) + 0.1 * float(b.var())
    assert value == pytest.approx(math.log(delta) + 0.5 * math.log(running_var), rel=1e-9)


def test_zen_and_linear_regions_on_degenerate_nb201_cells():
    space = get_space("nb201")
    dead = NB201Arch.from_ops(["none"] * 6)
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    probe_batch = ProbeBatch(x, torch.arange(8) % 10, 10)
    thin = ThinNetwork(space.thin(dead, 10, (3, 32, 32)), samples=64)
    result = score(space.build(dead), probe_batch, ["zen", "linear_regions", "ntk_cond"], thin=thin)
    assert math.isnan(result["zen"].value) and "Δ = 0" in result["zen"].reason
    assert result["linear_regions"].value == 1.0  # every input reaches the same (constant) head
    assert math.isnan(result["ntk_cond"].value) and "singular" in result["ntk_cond"].reason
