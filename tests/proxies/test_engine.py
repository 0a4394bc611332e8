"""The fast per-sample engine against the batch-of-one reference loop, in float64."""

import math
import warnings

import numpy as np
import pytest
import torch
from tiny_nets import full_matrices
from torch import nn

import gradnas.proxies.persample as persample
from gradnas.data import ProbeBatch
from gradnas.errors import GradnasError
from gradnas.proxies import PROXIES, SEED_PROXIES, Probe, score
from gradnas.proxies.persample import UnsupportedModel, fast_blocks, loop_blocks, probe_copy
from gradnas.spaces import get_space

NB201 = get_space("nb201")
ARCHS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|nor_conv_1x1~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|none~2|",
    # node 1's conv feeds only `none` edges: a layer whose gradient is exactly zero
    "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|",
    "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
]


def batch(n=8, shape=(3, 16, 16), classes=10, seed=0, dtype=torch.float64) -> ProbeBatch:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, *shape, generator=gen, dtype=dtype)
    return ProbeBatch(x, torch.arange(n) % classes, classes)


def nb201(arch: str, shape=(3, 16, 16), seed=0) -> nn.Module:
    torch.manual_seed(seed)
    return NB201.build(NB201.parse(arch), 10, shape)


@pytest.mark.parametrize("arch", ARCHS)
def test_fast_engine_equals_batch_of_one_loop_in_float64(arch):
    model, b = nb201(arch), batch()
    names = [n for n, _ in model.named_parameters()]  # every parameter, BN affine ones included
    fast = full_matrices(fast_blocks(probe_copy(model, torch.float64), b.x, b.y, names, block_bytes=20_000))
    loop = full_matrices(loop_blocks(probe_copy(model, torch.float64), b.x, b.y, names))
    assert fast.keys() == loop.keys() == set(names)
    for name in names:
        assert fast[name].shape == (8, dict(model.named_parameters())[name].numel())
        assert (fast[name] - loop[name]).abs().max() < 1e-10, name
    if "none~1|+|nor_conv_1x1" in arch:  # the dead branch really is all zeros, not missing
        assert float(loop["cells.0.edges.0.1.weight"].abs().max()) == 0.0


def test_grouped_conv_path_on_32x32_maps_equals_loop():
    model, b = nb201(ARCHS[1], shape=(3, 32, 32)), batch(n=4, shape=(3, 32, 32))
    names = [n for n, _ in model.named_parameters() if n.startswith("cells.0.")]
    fast = full_matrices(fast_blocks(probe_copy(model, torch.float64), b.x, b.y, names))
    loop = full_matrices(loop_blocks(probe_copy(model, torch.float64), b.x, b.y, names))
    assert max(float((fast[n] - loop[n]).abs().max()) for n in names) < 1e-10


@pytest.mark.parametrize("threshold", [0, 10**9])  # grouped-conv form, then shifted-view form
def test_unusual_convolutions_match_loop(monkeypatch, threshold):
    monkeypatch.setattr(persample, "GROUPED_CONV_MIN_POSITIONS", threshold)
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(3, 8, (3, 5), stride=2, padding=(1, 2)),
        nn.BatchNorm2d(8),
        nn.ReLU(inplace=True),
        nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=2),
        nn.ReLU(),
        nn.Conv2d(8, 6, 3, stride=(2, 1)),
        nn.BatchNorm2d(6),
        nn.Flatten(),
        nn.Linear(6 * 4 * 7, 5),
    )
    b = batch(n=5, shape=(3, 20, 18), classes=5)
    names = [n for n, _ in model.named_parameters()]
    fast = full_matrices(fast_blocks(probe_copy(model, torch.float64), b.x, b.y, names, block_bytes=1000))
    loop = full_matrices(loop_blocks(probe_copy(model, torch.float64), b.x, b.y, names))
    assert max(float((fast[n] - loop[n]).abs().max()) for n in names) < 1e-10


def test_blocks_respect_the_memory_budget():
    model, b = nb201(ARCHS[0]), batch()
    copy = probe_copy(model, torch.float64)
    blocks = list(fast_blocks(copy, b.x, b.y, ["cells.0.edges.0.1.weight"], block_bytes=10_000))
    assert len(blocks) > 1 and all(blk.grads.numel() * 8 <= 10_000 for blk in blocks)


@pytest.mark.parametrize("arch", ARCHS[:3])
def test_every_registered_proxy_agrees_between_engines(arch):
    model, b = nb201(arch), batch(n=64, shape=(3, 8, 8))
    fast = score(model, b, PROXIES, dtype=torch.float64, engine="fast")
    loop = score(model, b, PROXIES, dtype=torch.float64, engine="loop")
    for name in PROXIES:
        assert fast[name].ok and loop[name].ok, (name, fast[name], loop[name])
        assert fast[name].value == pytest.approx(loop[name].value, rel=1e-9, abs=1e-12), name


def test_same_seed_gives_bit_identical_scores():
    b = batch(n=64, shape=(3, 8, 8), seed=5)
    runs = [score(nb201(ARCHS[1], seed=3), b, SEED_PROXIES) for _ in range(2)]
    assert {k: v.value for k, v in runs[0].items()} == {k: v.value for k, v in runs[1].items()}


def test_scoring_leaves_the_callers_model_untouched():
    model = nb201(ARCHS[0]).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    score(model, batch(n=64, shape=(3, 8, 8), dtype=torch.float32), ["gradsign", "gradalign_1"])
    after = model.state_dict()
    assert not model.training and all(torch.equal(before[k], after[k]) for k in before)
    assert all(isinstance(m, nn.BatchNorm2d) for m in model.modules() if "Norm" in type(m).__name__)


def test_score_works_for_a_plain_classifier_and_is_float32_by_default():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    b = ProbeBatch(torch.randn(6, 1, 8, 8), torch.tensor([0, 1, 2, 0, 1, 2]), 3)
    result = score(model, b, ["gradsign", "mgm"])
    # 4·1·3·3 + 144·3 = 468 weights; a sign sum can never exceed batch × weights
    assert 0 < result["gradsign"].value <= 6 * 468 and result["mgm"].value > 0


class InPlaceAfterConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.head = nn.Conv2d(1, 2, 3), nn.Linear(2 * 6 * 6, 2)

    def forward(self, x):
        out = self.conv(x)
        out.relu_()  # changes the recorded output in place: the fast engine must notice
        return self.head(out.flatten(1))


def test_auto_engine_falls_back_to_the_loop_when_it_must():
    torch.manual_seed(0)
    b = ProbeBatch(torch.randn(4, 1, 8, 8, dtype=torch.float64), torch.tensor([0, 1, 0, 1]), 2)
    model = InPlaceAfterConv()
    with pytest.raises(UnsupportedModel, match="in place"):
        score(model, b, ["gradsign"], engine="fast")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        auto = score(model, b, ["gradsign", "mgm"], dtype=torch.float64)
    assert any("using the loop" in str(w.message) for w in caught)
    loop = score(model, b, ["gradsign", "mgm"], dtype=torch.float64, engine="loop")
    assert auto == loop


def test_bad_input_gets_a_clear_error():
    model = nb201(ARCHS[0])
    with pytest.raises(GradnasError, match="cannot take a probe batch of shape"):
        score(model, batch(n=4, shape=(1, 16, 16)), ["gradsign"])
    with pytest.raises(GradnasError, match="label 11 is out of range"):
        score(model, ProbeBatch(torch.randn(2, 3, 16, 16), torch.tensor([0, 11]), 12), ["gradsign"])
    with pytest.raises(GradnasError, match="unknown proxy 'nope'; valid choices: .*gradsign"):
        score(model, batch(), ["nope"])
    with pytest.raises(GradnasError, match="unknown engine"):
        score(model, batch(), ["gradsign"], engine="gpu")


def test_nan_scores_keep_their_reason():
    result = score(nb201(ARCHS[0]), batch(n=8), ["knas", "gradalign_2"])
    assert math.isnan(result["knas"].value) and "50 samples" in result["knas"].reason
    assert math.isnan(result["gradalign_2"].value) == (result["gradalign_2"].reason is not None)


def _wide_net(width: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, 10),
    )


def test_auto_engine_takes_the_loop_for_wide_convolutions_only():
    b = batch(n=4, shape=(3, 4, 4))
    for width, engine in [(32, "fast"), (persample.LOOP_MIN_WIDTH + 16, "loop")]:
        probe = Probe(_wide_net(width), b, dtype=torch.float64)
        probe["sign_sum"]
        assert probe.engine_used == engine, width
    # the same values either way (float64)
    wide = _wide_net(persample.LOOP_MIN_WIDTH + 16)
    auto = score(wide, b, ["gradsign", "mgm"], dtype=torch.float64)
    fast = score(wide, b, ["gradsign", "mgm"], dtype=torch.float64, engine="fast")
    assert {k: float(v) for k, v in auto.items()} == pytest.approx({k: float(v) for k, v in fast.items()})


def test_auto_engine_keeps_the_fast_engine_when_the_loop_would_not_fit(monkeypatch):
    net = _wide_net(persample.LOOP_MIN_WIDTH + 16)
    names = persample.scored_parameter_names(net)
    numel = sum(dict(net.named_parameters())[n].numel() for n in names)
    assert persample.prefers_loop(net, names, 4, 8)
    monkeypatch.setattr(persample, "LOOP_MAX_BYTES", 4 * numel * 8 - 1)
    assert not persample.prefers_loop(net, names, 4, 8)


def test_auto_engine_choice_on_the_benchmark_networks():
    """NB201 (16-64 channels) keeps the fast engine; NB101's reference network (128-512 channels)
    and NB301's (cell inputs of 128-512 channels) take the loop at batch 128 while their per-sample
    gradients fit: a 12 M-parameter NB101 cell does not (6 GiB), so it keeps the fast engine."""
    cells = {
        "nb201": ARCHS[0],
        "nb101": "ops=conv1x1,maxpool3x3;edges=0-1,1-2,2-3",
        "nb101_big": "ops=conv3x3,conv1x1,maxpool3x3;edges=0-1,0-2,1-3,2-3,3-4",
        "nb301": str(get_space("nb301").sample(np.random.default_rng(0))),
    }
    with torch.device("meta"):
        spaces = {name: get_space(name.removesuffix("_big")) for name in cells}
        nets = {name: spaces[name].build(spaces[name].parse(text)) for name, text in cells.items()}
    chosen = {
        name: persample.prefers_loop(net, persample.scored_parameter_names(net), 128, 4)
        for name, net in nets.items()
    }
    assert chosen == {"nb201": False, "nb101": True, "nb101_big": False, "nb301": True}
