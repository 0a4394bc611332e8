"""Proxies on token batches (the text spaces): weight-gradient proxies match a plain loop,
input-gradient proxies are NaN with a reason, and token ids are never cast to floats."""

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from tiny_nets import full_matrices

from gradnas.data import ProbeBatch
from gradnas.proxies import PROXIES, Probe, score
from gradnas.proxies.persample import (
    UnsupportedModel,
    fast_blocks,
    loop_blocks,
    probe_copy,
    scored_parameter_names,
)
from gradnas.proxies.registry import evaluate
from gradnas.spaces import get_space

INPUT_PROXIES = ("jacob_cov", "epe_nas", "synflow", "zen", "linear_regions")
# proxies read from the stem and cells, or from ReLUs on image maps, which a text network lacks
IMAGE_NETWORK_PROXIES = {
    "az_expressivity": "the AZ-NAS proxies need a model with a `stem` module and a `cells` ModuleList",
    "az_progressivity": "the AZ-NAS proxies need a model with a `stem` module and a `cells` ModuleList",
    "az_trainability": "the AZ-NAS proxies need a model with a `stem` module and a `cells` ModuleList",
    "swap": "swap needs nn.ReLU modules on 4-d feature maps, and the model has none",
}


def tokens(n=6, length=5, vocab=11, classes=3, seed=0) -> ProbeBatch:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(vocab, (n, length), generator=gen)
    return ProbeBatch(x, torch.arange(n) % classes, classes, vocab_size=vocab)


def text_net(arch="lookahead:3", seed=0, batch=None):
    batch = batch or tokens()
    torch.manual_seed(seed)
    model = get_space("text").build(
        arch, batch.num_classes, batch.input_shape, vocab_size=batch.vocab_size, d_model=8, heads=2, ffn=16
    )
    return model.double()


def scored(model):
    params = dict(model.named_parameters())
    return [params[n] for n in scored_parameter_names(model)]


@pytest.mark.parametrize("arch", ["highway:4", "densenet:2"])
def test_gradsign_equals_a_plain_per_sample_loop_in_float64(arch):
    model, b = text_net(arch), tokens()
    signs = None
    for i in range(len(b)):
        loss = F.cross_entropy(model(b.x[i : i + 1]), b.y[i : i + 1])
        grads = torch.autograd.grad(loss, scored(model))
        s = torch.cat([g.flatten().sign() for g in grads])
        signs = s if signs is None else signs + s
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fast engine takes this model: no fallback warning
        result = score(model, b, ["gradsign"], dtype=torch.float64, engine="auto")
    assert result["gradsign"].value == float(signs.abs().sum()) > 0


def test_grad_norm_and_snip_equal_a_plain_batch_gradient_in_float64():
    model, b = text_net(), tokens()
    weights = scored(model)
    grads = torch.autograd.grad(F.cross_entropy(model(b.x), b.y), weights)
    result = score(model, b, ["grad_norm", "snip"], dtype=torch.float64)
    assert result["grad_norm"].value == pytest.approx(sum(float(g.norm()) for g in grads), rel=1e-12)
    assert result["snip"].value == pytest.approx(
        sum(float((w.detach() * g).abs().sum()) for w, g in zip(weights, grads)), rel=1e-12
    )


def test_knas_reads_the_embedding_through_the_fast_engine_with_the_loops_value():
    model, b = text_net(), tokens(n=50)
    probe = Probe(model, b, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback: embeddings and LayerNorms are supported
        fast = evaluate(PROXIES["knas"], probe)
    assert probe.engine_used == "fast"
    assert next(iter(probe["knas_columns"])) == "embedding.weight"  # 11 ids × 8 ≥ 50: read first
    loop = score(model, b, ["knas"], dtype=torch.float64, engine="loop")["knas"]
    assert fast.value == pytest.approx(loop.value, rel=1e-10) and loop.value != 0


def test_fast_engine_equals_the_loop_on_every_parameter_of_a_text_network():
    model, b = text_net("densenet:2"), tokens(n=7)
    names = [n for n, _ in model.named_parameters()]  # embeddings, attention, LayerNorms, biases
    fast = full_matrices(fast_blocks(probe_copy(model, torch.float64), b.x, b.y, names, block_bytes=2_000))
    loop = full_matrices(loop_blocks(probe_copy(model, torch.float64), b.x, b.y, names))
    assert fast.keys() == loop.keys() == set(names)
    for name in names:
        torch.testing.assert_close(fast[name], loop[name], rtol=1e-10, atol=1e-12, msg=name)


@pytest.mark.parametrize("name", INPUT_PROXIES)
def test_input_gradient_proxies_are_nan_with_a_reason(name):
    result = score(text_net(), tokens(), [name])[name]
    assert math.isnan(result.value)
    assert name in result.reason
    assert result.reason.endswith("needs continuous inputs; token ids cannot be differentiated or perturbed")


def test_every_other_proxy_is_finite_on_tokens():
    names = [n for n in PROXIES if n not in INPUT_PROXIES]
    b = tokens(n=50, classes=2)
    result = score(text_net(batch=b), b, names, dtype=torch.float64)
    bad = {n: s.reason for n, s in result.items() if not math.isfinite(s.value)}
    assert bad == IMAGE_NETWORK_PROXIES


def test_probe_inputs_cast_images_only():
    b = tokens()
    assert Probe(text_net(), b, dtype=torch.float64).inputs is b.x  # int64 ids, untouched
    images = ProbeBatch(torch.zeros(2, 1, 2, 2), torch.tensor([0, 1]), 2)
    linear = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    assert Probe(linear, images, dtype=torch.float64).inputs.dtype == torch.float64


class SharedPositions(torch.nn.Module):
    """Position ids of shape (L,) broadcast over the batch: no per-sample rows to split."""

    def __init__(self, vocab=11, length=5, width=4, classes=3):
        super().__init__()
        self.tokens = torch.nn.Embedding(vocab, width)
        self.positions = torch.nn.Embedding(length, width)
        self.head = torch.nn.Linear(width, classes)

    def forward(self, x):
        return self.head((self.tokens(x) + self.positions(torch.arange(x.shape[1]))).mean(1))


def test_inputs_shared_by_the_batch_are_refused_by_the_fast_engine():
    # the Probe then falls back to the loop, as for any UnsupportedModel
    torch.manual_seed(0)
    model, b = SharedPositions().double(), tokens()
    with pytest.raises(UnsupportedModel, match=r"Embedding input \(5,\) is shared by the batch"):
        fast_blocks(probe_copy(model, torch.float64), b.x, b.y, ["positions.weight"])
    rows = full_matrices(loop_blocks(probe_copy(model, torch.float64), b.x, b.y, ["positions.weight"]))
    assert rows["positions.weight"].shape == (6, 20)


class StockEncoder(torch.nn.Module):
    """PyTorch's own encoder layer, batch first or second: its attention uses `out_proj.weight`
    without calling the module, and batch-second layers split their rows by position."""

    def __init__(self, batch_first, vocab=11, width=8, classes=3):
        super().__init__()
        self.batch_first = batch_first
        self.tokens = torch.nn.Embedding(vocab, width)
        self.layer = torch.nn.TransformerEncoderLayer(width, 2, 16, dropout=0.0, batch_first=batch_first)
        self.head = torch.nn.Linear(width, classes)

    def forward(self, x):
        h = self.tokens(x) if self.batch_first else self.tokens(x).transpose(0, 1)
        h = self.layer(h)
        return self.head((h if self.batch_first else h.transpose(0, 1)).mean(1))


@pytest.mark.parametrize(
    "batch_first, length, message",
    [
        (True, 5, "layer.self_attn.out_proj.weight: used outside its module's forward"),
        (False, 8, "Linear output rows do not follow the samples"),  # length == batch size
    ],
)
def test_stock_transformer_layers_go_to_the_loop_with_the_loops_values(batch_first, length, message):
    torch.manual_seed(0)
    net, b = StockEncoder(batch_first).double(), tokens(n=8, length=length)
    with pytest.raises(UnsupportedModel, match=message):
        fast_blocks(probe_copy(net, torch.float64), b.x, b.y, scored_parameter_names(net))
    with pytest.warns(UserWarning, match="using the loop"):
        auto = score(net, b, ["gradsign", "mgm"], dtype=torch.float64)
    loop = score(net, b, ["gradsign", "mgm"], dtype=torch.float64, engine="loop")
    assert {k: s.value for k, s in auto.items()} == {k: s.value for k, s in loop.items()}


def test_an_input_shared_by_the_batch_is_caught_even_when_its_length_equals_the_batch_size():
    torch.manual_seed(0)
    net, b = SharedPositions(length=8).double(), tokens(n=8, length=8)
    with pytest.raises(UnsupportedModel, match="Embedding output rows do not follow the samples"):
        fast_blocks(probe_copy(net, torch.float64), b.x, b.y, ["positions.weight"])


def test_embedding_rows_with_padding_match_the_loop_across_vocabulary_chunks():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Embedding(11, 4, padding_idx=3),
        torch.nn.LayerNorm(4),
        torch.nn.Flatten(),
        torch.nn.Linear(20, 3),
    ).double()
    b = tokens(n=6, length=5)
    assert (b.x == 3).any()  # the padding id occurs, so its zero row is tested
    names = ["0.weight", "1.weight", "1.bias"]
    fast = full_matrices(fast_blocks(probe_copy(net, torch.float64), b.x, b.y, names, block_bytes=600))
    loop = full_matrices(loop_blocks(probe_copy(net, torch.float64), b.x, b.y, names))
    for name in names:
        torch.testing.assert_close(fast[name], loop[name], rtol=1e-10, atol=1e-12, msg=name)
    assert fast["0.weight"].reshape(6, 11, 4)[:, 3].abs().sum() == 0
