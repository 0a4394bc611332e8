"""Hand-computed values of every seed proxy on given per-sample gradient matrices."""

import math

import pytest
import torch
from torch import nn

from gradnas.data import ProbeBatch
from gradnas.proxies import PROXIES, SEED_PROXIES, Probe, get_proxies
from gradnas.proxies.persample import Block
from gradnas.proxies.registry import evaluate


class GivenGradients(Probe):
    """A probe whose per-sample gradients are given instead of computed from the model."""

    def __init__(self, model, grads: dict[str, torch.Tensor], labels, seed=0):
        n = len(labels)
        batch = ProbeBatch(torch.zeros(n, 1, 1, 1), torch.as_tensor(labels), int(max(labels)) + 1)
        super().__init__(model, batch, dtype=torch.float64, seed=seed)
        self.grads = grads

    def _blocks(self, names):
        for name in names:
            yield Block(name, 0, self.grads[name].to(torch.float64))


def linear(features: int) -> nn.Module:
    return nn.Linear(features, 1, bias=False)  # one scored tensor, "weight", of `features` entries


def value(name: str, probe: Probe) -> float:
    (info,) = get_proxies([name])
    probe.require(*info.ingredients)
    return evaluate(info, probe).value


def test_gradsign_counts_sign_agreement_per_coordinate():
    g = torch.tensor([[0.5, -1.0, 2.0, 0.0], [0.1, 3.0, -1.0, 0.0], [7.0, -0.2, -4.0, 1.0]])
    # column sign sums: 3, -1, -1, 1  ->  |3| + |-1| + |-1| + |1| = 6
    assert value("gradsign", GivenGradients(linear(4), {"weight": g}, [0, 1, 2])) == 6.0


def test_mgm_is_the_squared_norm_of_the_mean_gradient():
    g = torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [1.0, 1.0, 0, 0]], dtype=torch.float64)
    # mean gradient (2/3, 2/3, 0, 0): squared norm 8/9 = mean of the 3×3 Gram matrix
    probe = GivenGradients(linear(4), {"weight": g}, [0, 0, 1])
    assert value("mgm", probe) == pytest.approx(8 / 9, rel=1e-12)
    assert value("mgm", probe) == pytest.approx(float((g @ g.T).mean()), rel=1e-12)


def test_mgm_layerwise_averages_layers():
    model = nn.Sequential(nn.Linear(2, 1, bias=False), nn.Linear(1, 2, bias=False))
    g0 = torch.tensor([[2.0, 0.0], [0.0, 0.0]])  # mean (1, 0): 1
    g1 = torch.tensor([[1.0, 1.0], [3.0, 3.0]])  # mean (2, 2): 8
    probe = GivenGradients(model, {"0.weight": g0, "1.weight": g1}, [0, 1])
    assert value("mgm_layerwise", probe) == pytest.approx((1 + 8) / 2)
    assert value("mgm", probe) == pytest.approx(1 + 8)


def test_knas_split_halves_covariance():
    # every one of 50 coordinates: a_k = k, b_k = 2k (k < 25): Σ (k-12)(2k-24) = 2·1300 = 2600
    k = torch.arange(25, dtype=torch.float64)
    column = torch.cat([k, 2 * k])
    g = column[:, None].repeat(1, 60)  # 60 coordinates: the estimator keeps the first 50
    probe = GivenGradients(linear(60), {"weight": g}, [0] * 50)
    assert value("knas", probe) == pytest.approx(50 * 2600 / 2500)


def test_knas_selects_first_eleven_large_tensors_in_parameter_order():
    model = nn.Sequential(*[nn.Linear(10 if i % 2 else 4, 8) for i in range(14)])
    # weights: 4·8 = 32 (skipped, < 50) alternating with 10·8 = 80; biases: 8 (skipped)
    probe = Probe(model, ProbeBatch(torch.zeros(2, 1, 1, 1), torch.tensor([0, 1]), 2))
    selection = __import__("gradnas.proxies.probe", fromlist=["knas_columns"]).knas_columns(probe)
    assert selection.wants == [f"{i}.weight" for i in range(1, 14, 2)]  # only 7 qualify
    assert all(torch.equal(idx, torch.arange(50)) for idx in selection.index.values())


def test_gt_proxies_on_parallel_and_orthogonal_gradients():
    v = torch.arange(50, dtype=torch.float64)
    parallel = GivenGradients(linear(50), {"weight": (torch.arange(50) + 1.0)[:, None] * (v + 1)}, [0] * 50)
    assert value("gt_correlation", parallel) == pytest.approx(1.0)
    orthogonal = GivenGradients(linear(50), {"weight": torch.eye(50)}, [0] * 50)
    assert value("gt_correlation", orthogonal) == pytest.approx(1 / 50)  # mean of the identity
    assert value("gt_value", orthogonal) == pytest.approx(1 / 50)
    # identical rows v: G - mean(G) has rows v - 24.5, so mean(P) = Σ_k (k - 24.5)² = 50(50²-1)/12
    same = GivenGradients(linear(50), {"weight": v[None, :].repeat(50, 1)}, [0] * 50)
    assert value("gt_kernel", same) == pytest.approx(50 * (50**2 - 1) / 12)


def test_gt_correlation_leaves_out_zero_gradients():
    g = torch.zeros(50, 50)
    g[:10, 0] = 1.0  # ten parallel gradients, forty zero ones
    assert value("gt_correlation", GivenGradients(linear(50), {"weight": g}, [0] * 50)) == pytest.approx(1.0)
    zero = GivenGradients(linear(50), {"weight": torch.zeros(50, 50)}, [0] * 50)
    assert math.isnan(value("gt_correlation", zero))


def test_gradalign_orthogonal_versus_parallel():
    eps = 1e-6
    ortho = torch.tensor([[1.0, 0, 0], [0, 2.0, 0], [0, 0, 3.0], [5.0, 0, 0]])
    parallel = torch.tensor([[1.0, 1, 0], [2.0, 2, 0], [0, 0, 1.0], [0, 0, 4.0]])
    labels = [0, 0, 1, 1]
    po = GivenGradients(linear(3), {"weight": ortho}, labels)
    pp = GivenGradients(linear(3), {"weight": parallel}, labels)
    # class 0 orthogonal: unit Gram I -> A = 2/4; class 1 parallel (e3, e1): orthogonal too
    assert value("gradalign_1", po) == pytest.approx(0.5)
    assert value("gradalign_1", pp) == pytest.approx(1.0)  # all-ones unit Gram per class
    assert value("gradalign_2", po) == pytest.approx(-2 * math.log(1 + eps), rel=1e-9)
    # all-ones 2×2 plus εI: eigenvalues 2 + ε and ε
    assert value("gradalign_2", pp) == pytest.approx(-(math.log(2 + eps) + math.log(eps)), rel=1e-9)


def test_gradalign_skips_singleton_classes_and_reports_why_when_none_is_left():
    g = torch.tensor([[1.0, 0], [1.0, 0], [0, 1.0]])
    probe = GivenGradients(linear(2), {"weight": g}, [0, 0, 1])  # class 1 has one sample
    assert value("gradalign_1", probe) == pytest.approx(1.0)
    lonely = GivenGradients(linear(2), {"weight": g}, [0, 1, 2])
    (info,) = get_proxies(["gradalign_1"])
    lonely.require(*info.ingredients)
    result = evaluate(info, lonely)
    assert math.isnan(result.value) and "class-balanced" in result.reason


def test_small_batches_give_nan_with_reason_for_fixed_sample_estimators():
    probe = GivenGradients(linear(60), {"weight": torch.ones(10, 60)}, [0] * 10)
    for name in ("knas", "gt_correlation", "gt_value", "gt_kernel"):
        (info,) = get_proxies([name])
        probe.require(*info.ingredients)
        result = evaluate(info, probe)
        assert math.isnan(result.value) and "50 samples" in result.reason


def test_every_seed_proxy_is_registered_with_metadata():
    assert set(SEED_PROXIES) <= set(PROXIES)
    for name in SEED_PROXIES:
        info = PROXIES[name]
        assert info.higher_is_better and info.needs_labels and info.ingredients and info.summary
        assert info.batch_size in (50, 128) and info.version and info.paper


def test_gradalign_readings_on_a_hand_built_set():
    # class 0: (1, 2) and (3, -1) -> cos = (3 - 2)/(√5·√10) = 1/√50; signs (+,+), (+,-) -> cos 0
    # class 1: (2, 2) and (1, 1) -> parallel, raw Gram [[8, 4], [4, 2]]
    g = torch.tensor([[1.0, 2.0], [3.0, -1.0], [2.0, 2.0], [1.0, 1.0]], dtype=torch.float64)
    probe = GivenGradients(linear(2), {"weight": g}, [0, 0, 1, 1])
    c, eps = 1 / math.sqrt(50), 1e-6
    assert value("gradalign_1", probe) == pytest.approx(((2 + 2 * c) / 4 + 1.0) / 2)
    assert value("gradalign_1_sign", probe) == pytest.approx((2 / 4 + 1.0) / 2)
    # unnormalized sign dot products: class 0 [[2, 0], [0, 2]] -> 4/4; class 1 all 2 -> 8/4
    assert value("gradalign_1_sign_raw", probe) == pytest.approx((1.0 + 2.0) / 2)
    det_sign = [(2 + eps) ** 2, (2 + eps) ** 2 - 4]
    assert value("gradalign_2_sign_raw", probe) == pytest.approx(-sum(map(math.log, det_sign)) / 2, rel=1e-6)
    det_raw = [(5 + eps) * (10 + eps) - 1, (8 + eps) * (2 + eps) - 16]
    expected_raw = -sum(math.log(d) for d in det_raw) / 2
    assert value("gradalign_2_raw", probe) == pytest.approx(expected_raw, rel=1e-9)
    # all four samples as one group: mean of the 4×4 cosine matrix
    unit = g / g.norm(dim=1, keepdim=True)
    assert value("gradalign_1_all", probe) == pytest.approx(float((unit @ unit.T).mean()))
    all_logdet = torch.linalg.slogdet(unit @ unit.T + eps * torch.eye(4, dtype=torch.float64))[1]
    assert value("gradalign_2_all", probe) == pytest.approx(-float(all_logdet), rel=1e-9)
    sign_unit = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # class 0 sign cosines; class 1 all ones
    expected_sign = (
        -(
            float(torch.logdet(sign_unit.double() + eps * torch.eye(2, dtype=torch.float64)))
            + float(
                torch.logdet(torch.ones(2, 2, dtype=torch.float64) + eps * torch.eye(2, dtype=torch.float64))
            )
        )
        / 2
    )
    assert value("gradalign_2_sign", probe) == pytest.approx(expected_sign, rel=1e-9)
    # the "diverse" readings are the same log-dets with the orientation reversed
    assert value("gradalign_2_sign_diverse", probe) == pytest.approx(-expected_sign, rel=1e-9)
    assert value("gradalign_2_diverse", probe) == -value("gradalign_2", probe)
