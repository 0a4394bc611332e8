"""Non-finite ingredients (a NaN weight, a model whose output is NaN, an infinite input) make every
proxy that reads them NaN with a reason: never 0.0, never a stray linear-algebra exception."""

import dataclasses
import math

import torch
from torch import nn

from gradnas import probe_batch, score
from gradnas.proxies import PROXIES, evaluate

ALL = list(PROXIES)
UNAFFECTED = {"params", "flops", "zen", "linear_regions", "vkdnw_dim", "az_complexity"}  # counts, own weights
MODEL_ONLY = {"params", "l2_norm", "vkdnw_dim"}  # read no input
NO_STAGES = {"az_expressivity", "az_progressivity", "az_trainability"}  # small_net has no stem and cells


def small_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10)
    )


class NanOutput(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = small_net()

    def forward(self, x):
        return self.net(x) * math.nan


def assert_nan_with_reason(scores, names, words):
    for name in names:
        assert math.isnan(scores[name].value), name
        assert words in scores[name].reason, (name, scores[name].reason)


def test_a_nan_weight_makes_every_proxy_reading_values_nan_with_a_reason():
    model = small_net()
    model[0].weight.data[0, 0, 0, 0] = math.nan
    scores = score(model, probe_batch("synthetic", batch_size=50, seed=0), ALL)
    assert_nan_with_reason(scores, set(ALL) - UNAFFECTED - NO_STAGES, "NaN or infinite")
    assert scores["gradsign"].reason == "the per-sample gradients of 0.weight hold NaN or infinite values"
    assert scores["naswot"].reason == "a ReLU's input holds NaN or infinite values"
    assert "input_jacobian" in scores["jacob_cov"].reason
    assert scores["params"].value == 162


def test_a_nan_output_makes_gradient_proxies_nan_and_scored_alone_too():
    model, batch = NanOutput(), probe_batch("synthetic", batch_size=50, seed=0)
    for name in ("gradsign", "grad_norm", "jacob_cov", "ntk_cond", "synflow"):
        alone = score(model, batch, [name])[name]  # no exception although nothing else is computed
        assert math.isnan(alone.value) and "NaN or infinite" in alone.reason
    assert score(model, batch, ["naswot"])["naswot"].ok  # the ReLU codes before the output are finite


def test_an_infinite_input_makes_every_proxy_but_params_nan():
    batch = probe_batch("synthetic", batch_size=50, seed=0)
    x = batch.x.clone()
    x[0, 0, 0, 0] = math.inf
    scores = score(small_net(), dataclasses.replace(batch, x=x), ALL)
    assert_nan_with_reason(
        scores, set(ALL) - MODEL_ONLY - NO_STAGES, "the probe batch holds NaN or infinite inputs"
    )
    assert scores["params"].value == 162


def test_a_linear_algebra_failure_is_nan_with_its_reason():
    def fails(probe):
        raise torch.linalg.LinAlgError("linalg.eigh: The algorithm failed to converge\nmore")

    info = dataclasses.replace(PROXIES["jacob_cov"], compute=fails)
    got = evaluate(info, None)
    assert math.isnan(got.value)
    assert got.reason == "linear algebra failed: linalg.eigh: The algorithm failed to converge"
