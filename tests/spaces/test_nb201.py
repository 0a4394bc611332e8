"""NAS-Bench-201 space: parsing, enumeration, sampling, mutation, and the benchmark network."""

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gradnas.errors import GradnasError
from gradnas.spaces import NB201Arch, NB201Space, SearchSpace, get_space
from gradnas.spaces.nb201 import OPS

SPACE = NB201Space()
ops_tuples = st.tuples(*[st.integers(0, 4)] * 6)
archs = ops_tuples.map(NB201Arch)

# Independent oracle for "is this the canonical spelling of some arch".
_OP = "(" + "|".join(OPS) + ")"
CANONICAL = re.compile(rf"\|{_OP}~0\|\+\|{_OP}~0\|{_OP}~1\|\+\|{_OP}~0\|{_OP}~1\|{_OP}~2\|")


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------- parsing


def test_canonical_string_and_index():
    arch = NB201Arch((1, 3, 0, 2, 4, 3))
    text = "|skip_connect~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|"
    assert str(arch) == text
    assert NB201Arch.from_string(text) == arch
    assert arch.index == ((((1 * 5 + 3) * 5 + 0) * 5 + 2) * 5 + 4) * 5 + 3 == 5073
    assert NB201Arch.from_index(5073) == arch
    assert NB201Arch.from_ops([OPS[o] for o in arch.ops]) == arch
    assert arch.op_names[1] == "nor_conv_3x3"
    assert NB201Arch((0,) * 6).index == 0 and NB201Arch((4,) * 6).index == 15624
    assert SPACE.parse(text) == arch and SPACE.format(arch) == text


@given(ops_tuples)
def test_roundtrips(ops):
    arch = NB201Arch.from_ops(ops)
    assert arch.ops == ops
    assert NB201Arch.from_string(str(arch)) == arch
    assert NB201Arch.from_index(arch.index) == arch
    assert NB201Arch.from_ops(arch.op_names) == arch
    assert hash(arch) == hash(NB201Arch(ops))


@given(archs, archs)
def test_order_follows_index(a, b):
    assert (a < b) == (a.index < b.index)


VALID = str(NB201Arch((1, 3, 0, 2, 4, 3)))


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "3 nodes"),
        (VALID.replace("+", "", 1), "3 nodes"),
        (VALID + "+|none~0|", "3 nodes"),
        (" " + VALID, "whitespace"),
        (VALID + "\n", "whitespace"),
        (VALID.replace("|none~1|", "| none~1|"), "whitespace"),
        (
            VALID.replace("avg_pool_3x3~1", "avg_pool_3x3~2"),
            "edge 3←1 must read from node 1, got ~2",
        ),
        (VALID.replace("skip_connect~0", "skip_connect~01"), "edge 1←0 must read from node 0"),
        (VALID.replace("none~1", "none"), "edge 2←1 must read 'op~1'"),
        (VALID.replace("nor_conv_1x1", "conv_5x5"), "edge 3←0: unknown NB201 op 'conv_5x5'"),
        (VALID.replace("none~1|", ""), "node 2 needs 2 edges, got 1"),
        (VALID.replace("|+", "|none~0|+", 1), "node 1 needs 1 edges, got 2"),
        (VALID[1:], "node 1 must be written"),
        (VALID[:-1], "node 3 must be written"),
        ("|none~0||+|none~0|none~1|+|none~0|none~1|none~2|", "node 1 needs 1 edges"),
    ],
)
def test_invalid_strings(text, message):
    with pytest.raises(GradnasError, match=re.escape(message)):
        NB201Arch.from_string(text)


@pytest.mark.parametrize(
    "ops, message",
    [
        ((0,) * 5, "needs 6 ops, got 5"),
        ((0,) * 7, "needs 6 ops, got 7"),
        ((0, 0, 5, 0, 0, 0), "edge 2←1: op index must be in 0..4, got 5"),
        ((0, 0, 0, -1, 0, 0), "edge 3←0: op index must be in 0..4, got -1"),
        ((0, 0, 0, 0, "conv", 0), "edge 3←1: unknown NB201 op 'conv'"),
        ((True, 0, 0, 0, 0, 0), "op must be an int or an op name"),
        ((0.0, 0, 0, 0, 0, 0), "op must be an int or an op name"),
        ("none", "sequence of 6 ops"),
    ],
)
def test_invalid_ops(ops, message):
    with pytest.raises(GradnasError, match=re.escape(message)):
        NB201Arch.from_ops(ops)


@pytest.mark.parametrize("bad", [-1, 15625, 2.0, "3", True])
def test_invalid_index(bad):
    with pytest.raises(GradnasError, match="NB201 index"):
        NB201Arch.from_index(bad)


def test_from_string_rejects_non_str():
    with pytest.raises(GradnasError, match="must be a str"):
        NB201Arch.from_string(b"|none~0|")


_CHARS = st.sampled_from(list("|+~0123 \t\nabnonecv_x") + ["←", "é"])


@st.composite
def mutated_strings(draw):
    text = list(str(draw(archs)))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["insert", "delete", "replace", "swap"]))
        i = draw(st.integers(0, max(len(text) - 1, 0)))
        if kind == "insert":
            text.insert(i, draw(_CHARS))
        elif text and kind == "delete":
            del text[i]
        elif text and kind == "replace":
            text[i] = draw(_CHARS)
        elif len(text) > 1:
            j = draw(st.integers(0, len(text) - 1))
            text[i], text[j] = text[j], text[i]
    return "".join(text)


@settings(max_examples=400)
@given(mutated_strings())
def test_mutated_strings_parse_iff_canonical(text):
    if CANONICAL.fullmatch(text):
        assert str(NB201Arch.from_string(text)) == text
    else:
        with pytest.raises(GradnasError):
            NB201Arch.from_string(text)


# ---------------------------------------------------------------- enumeration and sampling


def test_enumeration():
    all_archs = list(SPACE.archs())
    assert len(all_archs) == SPACE.size == 15625
    assert len(set(all_archs)) == 15625
    assert [a.index for a in all_archs] == list(range(15625))
    assert all_archs == sorted(all_archs)


def test_sampling_is_seeded():
    a = [SPACE.sample(np.random.default_rng(7)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    many = SPACE.sample_many(50, np.random.default_rng(3))
    assert many == SPACE.sample_many(50, np.random.default_rng(3))
    assert many != SPACE.sample_many(50, np.random.default_rng(4))
    assert len(set(many)) == 50


def test_sample_many_unique_and_not():
    every = SPACE.sample_many(15625, np.random.default_rng(0))
    assert len(set(every)) == 15625
    with_repl = SPACE.sample_many(20000, np.random.default_rng(0), unique=False)
    assert len(with_repl) == 20000 and len(set(with_repl)) < 15625
    assert SPACE.sample_many(0, np.random.default_rng(0)) == []
    with pytest.raises(GradnasError, match="15625"):
        SPACE.sample_many(15626, np.random.default_rng(0))
    with pytest.raises(GradnasError, match="numpy.random.Generator"):
        SPACE.sample(0)


def test_sample_is_roughly_uniform_per_edge():
    ops = np.array([a.ops for a in SPACE.sample_many(5000, np.random.default_rng(1), False)])
    counts = np.stack([np.bincount(ops[:, e], minlength=5) for e in range(6)])
    assert counts.sum() == 30000
    assert counts.min() > 850 and counts.max() < 1150  # expected 1000 each, sd ~28


@given(archs, st.integers(0, 2**32 - 1))
def test_mutate_changes_exactly_one_edge(arch, seed):
    child = SPACE.mutate(arch, np.random.default_rng(seed))
    diff = [e for e in range(6) if child.ops[e] != arch.ops[e]]
    assert len(diff) == 1
    assert child in SPACE.neighbours(arch)


def test_mutate_covers_every_neighbour():
    arch = NB201Arch((0, 1, 2, 3, 4, 0))
    rng = np.random.default_rng(0)
    seen = {SPACE.mutate(arch, rng) for _ in range(1000)}
    assert seen == set(SPACE.neighbours(arch))


@given(archs)
def test_neighbours(arch):
    nbrs = SPACE.neighbours(arch)
    assert len(nbrs) == 24 and len(set(nbrs)) == 24
    assert all(sum(a != b for a, b in zip(n.ops, arch.ops, strict=True)) == 1 for n in nbrs)


# ---------------------------------------------------------------- the network

# Fixed part (C=16, CIFAR-10): stem conv 3*16*9 = 432 + BN 2*16 = 32                  ->    464
# reduction 16->32: conv_a 16*32*9 = 4608 + 64, conv_b 32*32*9 = 9216 + 64, 1x1 16*32 = 512 -> 14464
# reduction 32->64: 32*64*9 = 18432 + 128, 64*64*9 = 36864 + 128, 32*64 = 2048             -> 57600
# head: BN 2*64 = 128, Linear 64*10 + 10 = 650                                           ->    778
FIXED = 464 + 14464 + 57600 + 778  # = 73306; none/skip/avg_pool cells add nothing
# A ReLU-conv(k)-BN op at width c has k*k*c*c + 2c parameters; 6 edges x 5 cells per stage.
CONV1 = sum(5 * 6 * (c * c + 2 * c) for c in (16, 32, 64))  # 8640 + 32640 + 126720 = 168000
CONV3 = sum(5 * 6 * (9 * c * c + 2 * c) for c in (16, 32, 64))  # 70080+278400+1109760


@pytest.mark.parametrize(
    "op, expected",
    [
        ("none", 73306),
        ("skip_connect", 73306),
        ("avg_pool_3x3", 73306),
        ("nor_conv_1x1", 73306 + 168000),
        ("nor_conv_3x3", 1531546),
    ],
)
def test_parameter_counts(op, expected):
    assert FIXED == 73306 and CONV1 == 168000 and FIXED + CONV3 == 1531546
    assert n_params(SPACE.build(NB201Arch((op,) * 6))) == expected


def test_mixed_arch_parameter_count():
    # one conv3x3 and one conv1x1 edge per cell: (9c^2+2c) + (c^2+2c) per cell, 5 cells/stage
    arch = NB201Arch(("nor_conv_3x3", "skip_connect", "none", "nor_conv_1x1", "none", "none"))
    per_cell = sum(5 * (10 * c * c + 4 * c) for c in (16, 32, 64))  # 13120+51840+206080
    assert n_params(SPACE.build(arch)) == 73306 + per_cell == 73306 + 271040


def test_module_structure():
    net = SPACE.build(VALID)
    assert [n for n, _ in net.named_children()] == [
        "stem",
        "cells",
        "lastact",
        "global_pooling",
        "classifier",
    ]
    assert len(net.cells) == 17  # 3 x 5 cells + 2 reductions
    assert not any(isinstance(m, torch.nn.ReLU) and m.inplace for m in net.modules())
    cell = net.cells[0]
    kinds = [type(m).__name__ for m in cell.edges]
    assert kinds == ["Identity", "Sequential", "Zero", "Sequential", "AvgPool2d", "Sequential"]
    assert cell.edges[1][1].kernel_size == (3, 3) and cell.edges[3][1].kernel_size == (1, 1)
    assert not cell.edges[4].count_include_pad
    assert net.cells[5].shortcut[1].kernel_size == (1, 1)
    first = next(iter(net.named_parameters()))[0]
    assert first == "stem.0.weight"
    assert list(net.named_parameters())[-1][0] == "classifier.bias"


@pytest.mark.parametrize(
    "classes, shape",
    [(10, (3, 32, 32)), (10, (1, 8, 8)), (100, (3, 16, 16)), (2, (5, 9, 12))],
)
def test_forward_shapes(classes, shape):
    torch.manual_seed(0)
    net = SPACE.build(NB201Arch((3, 1, 2, 4, 0, 3)), num_classes=classes, input_shape=shape)
    out = net(torch.randn(2, *shape))
    assert out.shape == (2, classes) and torch.isfinite(out).all()
    net(torch.randn(1, *shape))  # batch of one in train-mode BN works at H, W >= 8


def test_small_width_and_depth():
    net = SPACE.build(VALID, num_classes=3, input_shape=(3, 8, 8), C=4, N=1)
    assert len(net.cells) == 5 and net.classifier.in_features == 16
    assert net(torch.randn(2, 3, 8, 8)).shape == (2, 3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": 1}, "num_classes must be an int >= 2"),
        ({"input_shape": (0, 32, 32)}, "input channels must be an int >= 1"),
        ({"input_shape": (3, 7, 32)}, "input height must be an int >= 8"),
        ({"input_shape": (3, 32, 4)}, "input width must be an int >= 8"),
        ({"input_shape": (32, 32)}, "input_shape must be (channels, H, W)"),
        ({"C": 0}, "C must be an int >= 1"),
        ({"N": 0}, "N must be an int >= 1"),
    ],
)
def test_build_validation(kwargs, message):
    with pytest.raises(GradnasError, match=re.escape(message)):
        SPACE.build(VALID, **kwargs)


def test_none_edge_gives_zero_not_none_gradient():
    # node 1 = conv3x3(node 0) feeds only `none` edges (2<-1, 3<-1): a dead branch.
    arch = NB201Arch(
        ("nor_conv_3x3", "skip_connect", "none", "nor_conv_1x1", "none", "skip_connect")
    )
    torch.manual_seed(0)
    net = SPACE.build(arch, input_shape=(3, 8, 8), C=4, N=1)
    loss = torch.nn.functional.cross_entropy(
        net(torch.randn(4, 3, 8, 8)), torch.tensor([0, 1, 2, 3])
    )
    loss.backward()
    dead = net.cells[0].edges[0][1].weight.grad
    assert dead is not None and dead.shape == (4, 4, 3, 3)
    assert torch.count_nonzero(dead) == 0
    live = net.cells[0].edges[3][1].weight.grad
    assert live is not None and torch.count_nonzero(live) > 0


# ---------------------------------------------------------------- registry


def test_registry():
    space = get_space("nb201")
    assert space is get_space("nb201")
    assert isinstance(space, NB201Space) and isinstance(space, SearchSpace)
    assert space.name == "nb201" and space.size == 15625
    with pytest.raises(GradnasError, match=r"unknown search space 'nope'; valid choices: .*nb201"):
        get_space("nope")
