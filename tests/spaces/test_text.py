"""Text skip-connection spaces: the wiring each pattern gives, strings, mutation, and networks."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from gradnas.cli import main
from gradnas.errors import GradnasError
from gradnas.spaces import SearchSpace, get_space
from gradnas.spaces.text import PATTERNS, TextArch, TextSpace, connections

ALL = TextSpace()
CHAIN = tuple((j - 1,) for j in range(1, 13))


def chain_except(changes: dict[int, tuple[int, ...]]) -> tuple[tuple[int, ...], ...]:
    """The plain chain of 12 layers with the inputs of the layers in `changes` replaced."""
    return tuple(changes.get(j, (j - 1,)) for j in range(1, 13))


# ---------------------------------------------------------------- wiring


@pytest.mark.parametrize(
    "arch, expected",
    [
        # cells 1-5, 6-10, 11-12: each last layer also reads its cell's first layer
        ("highway:5", chain_except({5: (1, 4), 10: (6, 9)})),
        # ... or every earlier layer of its cell
        ("lookahead:5", chain_except({5: (1, 2, 3, 4), 10: (6, 7, 8, 9)})),
        # each cell's first layer reads the embedding and every earlier cell's output
        ("densenet:5", chain_except({6: (0, 5), 11: (0, 5, 10)})),
        ("highway:11", chain_except({11: (1, 10)})),
        ("lookahead:11", chain_except({11: tuple(range(1, 11))})),
        ("densenet:11", chain_except({12: (0, 11)})),
        ("densenet:4", chain_except({5: (0, 4), 9: (0, 4, 8)})),
        ("highway:2", CHAIN),  # first layer = previous layer: nothing to average
        ("lookahead:2", CHAIN),
        ("highway:3", chain_except({3: (1, 2), 6: (4, 5), 9: (7, 8), 12: (10, 11)})),
        ("lookahead:3", chain_except({3: (1, 2), 6: (4, 5), 9: (7, 8), 12: (10, 11)})),
    ],
)
def test_connections_follow_the_pattern(arch, expected):
    assert connections(TextArch.from_string(arch)) == expected


class AddConstant(nn.Module):
    """Stands in for encoder layer j: adds j, so each output is the embedding plus a known offset."""

    def __init__(self, j: int):
        super().__init__()
        self.j = j

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.j


@pytest.mark.parametrize(
    "arch, offset",
    [
        # h1..h3 = e+1, e+3, e+6; h4 = mean(h1, h3) + 4 = e+7.5; h5 = h4 + 5
        ("highway:4", 12.5),
        # h4 = mean(h1, h2, h3) + 4 = e + 10/3 + 4; h5 = h4 + 5
        ("lookahead:4", 10 / 3 + 9),
        # h1, h2 = e+1, e+3; h3 = mean(e, h2) + 3 = e+4.5; h4 = e+8.5; h5 = mean(e, h2, h4) + 5
        ("densenet:2", 11.5 / 3 + 5),
    ],
)
def test_network_averages_the_outputs_it_is_wired_to(arch, offset):
    net = ALL.build(arch, 2, (5,), vocab_size=7, num_layers=5)
    net.layers = nn.ModuleList(AddConstant(j) for j in range(1, 6))
    tokens = torch.tensor([[0, 3, 6, 1, 2], [4, 4, 4, 4, 4]])
    embedded = net.embedding(tokens) + net.position(torch.arange(5))
    torch.testing.assert_close(net.encode(tokens), embedded + offset)


# ---------------------------------------------------------------- networks


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("length", [2, 6, 11])
def test_network_runs_forward_and_backward(pattern, length):
    torch.manual_seed(0)
    net = ALL.build(f"{pattern}:{length}", 3, (10,), vocab_size=50, d_model=16, heads=4, ffn=32)
    assert len(net.layers) == 12 and net.sources == connections(TextArch(pattern, length))
    logits = net(torch.randint(50, (4, 10)))
    assert logits.shape == (4, 3) and bool(torch.isfinite(logits).all())
    nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 0])).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and bool(p.grad.abs().sum() > 0), name


def test_build_defaults_and_init():
    net = ALL.build("lookahead:4", 2, (32,), vocab_size=100)
    assert net.embedding.weight.shape == (100, 64) and net.position.weight.shape == (32, 64)
    attention = net.layers[0].attention
    assert attention.heads == 2 and net.layers[0].feedforward[0].weight.shape == (128, 64)
    bound = (6 / (64 + 64)) ** 0.5  # Xavier uniform
    weight, bias = attention.query.weight.detach(), attention.query.bias.detach()
    assert (
        float(weight.abs().max()) <= bound < 1 and float(weight.std()) > bound / 2 and bool((bias == 0).all())
    )
    assert sum(p.numel() for p in net.parameters()) == 100 * 64 + 32 * 64 + 12 * 33_472 + 130


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_shape": (3, 32, 32)}, r"input_shape must be \(seq_len,\), got \(3, 32, 32\)"),
        ({"vocab_size": None}, "need vocab_size"),
        ({"heads": 3}, "d_model 64 is not divisible by 3 heads"),
        ({"num_layers": 4}, "cell length 6 exceeds the 4 layers"),
        ({"num_classes": 1}, "num_classes must be an int >= 2"),
        ({"arch": "ring:6"}, "unknown text connection pattern 'ring'"),
    ],
)
def test_build_rejects_bad_input(kwargs, message):
    args = {"arch": "highway:6", "num_classes": 2, "input_shape": (8,), "vocab_size": 10, **kwargs}
    with pytest.raises(GradnasError, match=message):
        ALL.build(**args)


# ---------------------------------------------------------------- strings and the spaces


@pytest.mark.parametrize(
    "name, size", [("text_highway", 10), ("text_lookahead", 10), ("text_densenet", 10), ("text", 30)]
)
def test_registered_spaces_round_trip_every_arch(name, size):
    space = get_space(name)
    assert isinstance(space, SearchSpace) and space.name == name and space.size == size
    archs = list(space.archs())
    assert len(set(archs)) == size
    for arch in archs:
        text = space.format(arch)
        assert space.parse(text) == arch and str(arch) == text
        assert space.decode(space.encode(arch)) == arch


def test_string_form():
    assert str(TextArch("densenet", 7)) == "densenet:7"
    assert TextArch.from_string("lookahead:11") == TextArch("lookahead", 11)
    assert [str(a) for a in get_space("text_highway").archs()][:3] == ["highway:2", "highway:3", "highway:4"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("highway", "reads 'pattern:length'"),
        ("highway:", "reads 'pattern:length'"),
        ("highway: 6", "reads 'pattern:length'"),
        ("highway:-3", "reads 'pattern:length'"),
        ("highway:6:2", "reads 'pattern:length'"),
        ("highway:06", "did you mean 'highway:6'"),
        ("highway:²", "reads 'pattern:length'"),  # a digit to str.isdigit, not to int
        ("highway:1", r"length must be an int in 2\.\.11, got 1"),
        ("highway:12", r"length must be an int in 2\.\.11, got 12"),
        ("Highway:6", "unknown text connection pattern 'Highway'"),
        (6, "must be a str"),
    ],
)
def test_parse_rejects_malformed_strings(text, message):
    with pytest.raises(GradnasError, match=message):
        ALL.parse(text)


def test_single_pattern_space_rejects_other_patterns():
    with pytest.raises(GradnasError, match="text_highway holds highway archs, not 'lookahead:6'"):
        get_space("text_highway").parse("lookahead:6")
    with pytest.raises(GradnasError, match="unknown text connection pattern 'ring'"):
        TextSpace("ring")
    with pytest.raises(GradnasError, match="must not repeat"):
        TextSpace("highway", "highway")


@pytest.mark.parametrize("name", ["text_densenet", "text"])
def test_mutate_changes_exactly_one_choice(name):
    space, rng = get_space(name), np.random.default_rng(0)
    changed = set()
    for arch in space.archs():
        for _ in range(5):
            child = space.mutate(arch, rng)
            diff = [d for d, (a, b) in enumerate(zip(space.encode(arch), space.encode(child))) if a != b]
            assert len(diff) == 1 and child in space.neighbours(arch)
            changed.add(diff[0])
    assert changed == ({1} if name == "text_densenet" else {0, 1})


def test_neighbours():
    assert get_space("text_highway").neighbours("highway:2") == [TextArch("highway", n) for n in range(3, 12)]
    near = ALL.neighbours("lookahead:5")
    assert near[:2] == [TextArch("highway", 5), TextArch("densenet", 5)] and len(near) == 2 + 9


def test_sampling_is_seeded_and_uniform_over_the_space():
    draws = ALL.sample_many(30, np.random.default_rng(1))
    assert sorted(draws) == sorted(ALL.archs())  # 30 distinct of 30
    assert ALL.sample_many(5, np.random.default_rng(2)) == ALL.sample_many(5, np.random.default_rng(2))
    lengths = [get_space("text_lookahead").sample(np.random.default_rng(s)).length for s in range(200)]
    assert set(lengths) == set(range(2, 12))
    with pytest.raises(GradnasError, match="cannot draw 31 unique text archs; there are 30"):
        ALL.sample_many(31, np.random.default_rng(0))
    with pytest.raises(GradnasError, match="numpy.random.Generator"):
        ALL.sample(0)


# ---------------------------------------------------------------- end to end


def test_cli_scores_a_text_arch(capsys):
    args = [
        "score",
        "--space",
        "text_highway",
        "--dataset",
        "synthetic-text",
        "--arch",
        "highway:6",
        "--batch-size",
        "16",
        "--proxies",
        "gradsign,grad_norm,snip,jacob_cov",
        "--json",
    ]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["arch"] == "highway:6" and result["scores"]["jacob_cov"] is None
    assert all(result["scores"][p] > 0 for p in ("gradsign", "grad_norm", "snip"))
    assert "token ids" in result["reasons"]["jacob_cov"]


def test_cli_rejects_mismatched_space_and_data(capsys):
    assert main(["score", "--space", "text", "--dataset", "synthetic", "--arch", "highway:6"]) == 2
    assert (
        "search space 'text' reads tokens, but the 'synthetic' probe batch holds images"
        in capsys.readouterr().err
    )
