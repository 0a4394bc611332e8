"""NDS spaces: the text form, family checks, sampling and mutation, and the genotype networks."""

from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gradnas.errors import GradnasError
from gradnas.spaces import SearchSpace, get_space
from gradnas.spaces.nds import ALL_OPS, FAMILIES, NDSArch, NDSSpace, loose_ends
from gradnas.spaces.nds_network import OPS, NDSNetwork

NAMES = [f"nds_{family}" for family in FAMILIES]

# One hand-written genotype per family, each reading both cell inputs (so every parameter is on
# a path to the loss) and together using every op but `none`.
# fmt: off
GENOTYPES = {
    "nds_darts": (
        [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("skip_connect", 0), ("dil_conv_3x3", 2),
         ("sep_conv_5x5", 1), ("avg_pool_3x3", 3), ("max_pool_3x3", 0), ("dil_conv_5x5", 4)],
        (2, 3, 4, 5),
        [("max_pool_3x3", 0), ("sep_conv_5x5", 1), ("skip_connect", 2), ("avg_pool_3x3", 1),
         ("dil_conv_3x3", 0), ("sep_conv_3x3", 3), ("skip_connect", 4), ("max_pool_3x3", 1)],
        (2, 3, 4, 5),
    ),
    "nds_enas": (
        [("sep_conv_3x3", 0), ("skip_connect", 1), ("sep_conv_5x5", 1), ("avg_pool_3x3", 0),
         ("max_pool_3x3", 2), ("sep_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_5x5", 3),
         ("avg_pool_3x3", 1), ("sep_conv_3x3", 0)],
        (4, 5, 6),
        [("max_pool_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_3x3", 2), ("avg_pool_3x3", 0),
         ("skip_connect", 1), ("max_pool_3x3", 3), ("sep_conv_3x3", 4), ("sep_conv_5x5", 0),
         ("avg_pool_3x3", 1), ("skip_connect", 2)],
        (5, 6),
    ),
    "nds_pnas": (
        [("sep_conv_7x7", 0), ("conv_7x1_1x7", 1), ("dil_conv_3x3", 1), ("max_pool_3x3", 2),
         ("sep_conv_3x3", 0), ("skip_connect", 3), ("sep_conv_5x5", 4), ("avg_pool_3x3", 1),
         ("skip_connect", 0), ("max_pool_3x3", 5)],
        (2, 3, 4, 5, 6),
        [("conv_7x1_1x7", 0), ("skip_connect", 1), ("sep_conv_7x7", 1), ("avg_pool_3x3", 2),
         ("dil_conv_3x3", 0), ("sep_conv_5x5", 3), ("max_pool_3x3", 1), ("sep_conv_3x3", 4),
         ("skip_connect", 5), ("dil_conv_3x3", 0)],
        (2, 3, 4, 5, 6),
    ),
    "nds_nasnet": (
        [("conv_1x1", 0), ("conv_3x3", 1), ("conv_3x1_1x3", 1), ("max_pool_5x5", 0),
         ("max_pool_7x7", 2), ("sep_conv_7x7", 0), ("conv_7x1_1x7", 3), ("dil_conv_3x3", 1),
         ("sep_conv_5x5", 0), ("avg_pool_3x3", 2)],
        (4, 5, 6),
        [("sep_conv_3x3", 0), ("max_pool_7x7", 1), ("conv_3x3", 0), ("skip_connect", 1),
         ("conv_3x1_1x3", 2), ("max_pool_5x5", 1), ("conv_1x1", 3), ("sep_conv_7x7", 0),
         ("dil_conv_3x3", 4), ("max_pool_3x3", 0)],
        (5, 6),
    ),
    "nds_amoeba": (
        [("dil_sep_conv_3x3", 0), ("conv_7x1_1x7", 1), ("sep_conv_7x7", 1), ("avg_pool_3x3", 0),
         ("skip_connect", 2), ("max_pool_3x3", 1), ("sep_conv_3x3", 3), ("sep_conv_5x5", 0),
         ("dil_sep_conv_3x3", 2), ("skip_connect", 1)],
        (4, 5, 6),
        [("conv_7x1_1x7", 0), ("dil_sep_conv_3x3", 1), ("max_pool_3x3", 2), ("sep_conv_7x7", 0),
         ("skip_connect", 1), ("sep_conv_3x3", 3), ("avg_pool_3x3", 4), ("sep_conv_5x5", 2),
         ("skip_connect", 0), ("dil_sep_conv_3x3", 5)],
        (6,),
    ),
}
# fmt: on


def arch_of(name: str, width: int = 8, depth: int = 5) -> NDSArch:
    return NDSArch(*GENOTYPES[name], width, depth)


DARTS = arch_of("nds_darts", 16, 20)
DARTS_TEXT = (
    "normal=sep_conv_3x3~0+sep_conv_3x3~1,skip_connect~0+dil_conv_3x3~2,sep_conv_5x5~1+avg_pool_3x3~3,"
    "max_pool_3x3~0+dil_conv_5x5~4;normal_concat=2,3,4,5;"
    "reduce=max_pool_3x3~0+sep_conv_5x5~1,avg_pool_3x3~1+skip_connect~2,dil_conv_3x3~0+sep_conv_3x3~3,"
    "max_pool_3x3~1+skip_connect~4;reduce_concat=2,3,4,5;width=16;depth=20"
)


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------- registry and families


def test_registered_spaces_follow_the_protocol():
    for name in NAMES:
        space = get_space(name)
        assert isinstance(space, SearchSpace) and isinstance(space, NDSSpace)
        assert space.name == name and space.size is None
        with pytest.raises(NotImplementedError, match="too large"):
            space.archs()
    assert [FAMILIES[n.removeprefix("nds_")].nodes for n in NAMES] == [4, 5, 5, 5, 5]
    assert [len(FAMILIES[n.removeprefix("nds_")].ops) for n in NAMES] == [7, 5, 8, 13, 8]


def test_hand_genotypes_cover_every_op_and_every_op_builds_at_both_strides():
    used = {op for cells in GENOTYPES.values() for cell in cells[::2] for op, _ in cell}
    assert used | {"none"} == set(ALL_OPS) == set(OPS)
    x = torch.randn(2, 6, 9, 9)  # odd size: every stride-2 op must agree on ceil(9 / 2) = 5
    for name, build in OPS.items():
        for affine in (True, False):
            assert build(6, 1, affine)(x).shape == (2, 6, 9, 9), name
            assert build(6, 2, affine)(x).shape == (2, 6, 5, 5), name


# ---------------------------------------------------------------- text form


def test_canonical_string_round_trips():
    assert str(DARTS) == DARTS_TEXT
    space = get_space("nds_darts")
    assert space.parse(DARTS_TEXT) == DARTS and space.format(DARTS) == DARTS_TEXT
    assert space.format(DARTS_TEXT) == DARTS_TEXT
    assert DARTS.nodes == 4 and DARTS.normal[3] == ("dil_conv_3x3", 2)
    # a node sums its two pairs: either order is the same network, printed in (state, op) order
    swapped = DARTS_TEXT.replace("avg_pool_3x3~1+skip_connect~2", "skip_connect~2+avg_pool_3x3~1")
    assert space.parse(swapped) == DARTS and space.format(swapped) == DARTS_TEXT
    # JSON-style lists are normalised to the same (hashable) arch
    as_lists = NDSArch(
        [list(p) for p in DARTS.normal], [2, 3, 4, 5], [list(p) for p in DARTS.reduce], [2, 3, 4, 5], 16, 20
    )
    assert as_lists == DARTS and hash(as_lists) == hash(DARTS)


@pytest.mark.parametrize("name", NAMES)
def test_sampled_archs_round_trip_and_follow_the_family(name):
    space, family = get_space(name), FAMILIES[name.removeprefix("nds_")]
    rng = np.random.default_rng(7)
    for _ in range(30):
        arch = space.sample(rng)
        assert space.parse(space.format(arch)) == arch
        assert arch.nodes == family.nodes and arch.width in (16, 24, 32) and arch.depth in (4, 8, 12, 16, 20)
        assert {op for op, _ in arch.normal + arch.reduce} <= set(family.ops)
        for cell in ("normal", "reduce"):
            pairs, concat = getattr(arch, cell), getattr(arch, f"{cell}_concat")
            expected = loose_ends(pairs) if family.loose_end else tuple(range(2, 2 + family.nodes))
            assert concat == expected


def test_loose_ends_are_the_nodes_nobody_reads():
    assert loose_ends(GENOTYPES["nds_enas"][0]) == (4, 5, 6)
    assert loose_ends(GENOTYPES["nds_amoeba"][2]) == (6,)


def test_sampling_is_uniform_over_ops_and_states():
    space = NDSSpace("enas", widths=(8,), depths=(5,))
    archs = space.sample_many(400, np.random.default_rng(0))
    assert len(set(archs)) == 400 and {(a.width, a.depth) for a in archs} == {(8, 5)}
    ops = [op for a in archs for op, _ in a.normal]
    counts = np.array([ops.count(op) for op in FAMILIES["enas"].ops])
    assert counts.sum() == 4000 and np.all(np.abs(counts - 800) < 100)  # 5 ops, 800 each expected
    last = [state for a in archs for _, state in a.normal[8:]]  # node 6 reads states 0..5
    assert np.all(np.abs(np.bincount(last, minlength=6) - 800 / 6) < 50)


VALID = str(arch_of("nds_darts"))


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "needs 6 fields separated by ';'"),
        (VALID.replace(";depth=5", ""), "needs 6 fields"),
        (VALID.replace("normal_concat=", "concat="), "expected 'normal_concat=...', got 'concat=2,3,4,5'"),
        (" " + VALID, "whitespace"),
        (VALID.replace("dil_conv_5x5", "conv_9x9"), "normal cell, node 5: unknown NDS op 'conv_9x9'"),
        (VALID.replace("dil_conv_3x3~2", "dil_conv_3x3~3"), "node 3: input state must be an int in 0..2"),
        (VALID.replace("sep_conv_3x3~1,", "sep_conv_3x3~1+none~0,", 1), "node 2: expected 'op~state+op~st"),
        (VALID.replace("sep_conv_3x3~1,", "sep_conv_3x3,", 1), "node 2: expected 'op~state', got 'sep_conv"),
        (VALID.replace("~1,", "~x,", 1), "input state must be a non-negative integer"),
        (VALID.replace("normal_concat=2,3,4,5", "normal_concat=3,2"), "increasing order, got [3, 2]"),
        (VALID.replace("normal_concat=2,3,4,5", "normal_concat=2,6"), "nodes are numbered 2..5, got 6"),
        (VALID.replace("normal_concat=2,3,4,5", "normal_concat="), "normal_concat must be a non-negative"),
        (VALID.replace("width=8", "width=1"), "width must be an int >= 2, got 1"),
        (VALID.replace("width=8", "width=-8"), "width must be a non-negative integer"),
        (VALID.replace("width=8", "width=08"), "without leading zeros"),
        (VALID.replace("depth=5", "depth=2"), "depth must be an int >= 3, got 2"),
        (VALID.replace("depth=5", "depth=99999999"), "depth must be an int <= 200, got 99999999"),
        (VALID.replace("width=8", "width=99999999"), "width must be an int <= 1024, got 99999999"),
        (VALID.replace(",max_pool_3x3~0+dil_conv_5x5~4;", ";", 1), "same number of nodes, got 3 and 4"),
    ],
)
def test_malformed_strings_say_what_is_wrong(text, message):
    with pytest.raises(GradnasError, match=message.replace("[", r"\[").replace("+", r"\+")):
        get_space("nds_darts").parse(text)


def test_each_space_accepts_only_its_ops_and_node_count():
    darts, enas, nasnet = (get_space(n) for n in ("nds_darts", "nds_enas", "nds_nasnet"))
    with pytest.raises(GradnasError, match="nds_enas cells have 5 nodes, got 4"):
        enas.parse(VALID)
    text = str(arch_of("nds_nasnet"))
    assert nasnet.parse(text) == arch_of("nds_nasnet")
    with pytest.raises(GradnasError, match="normal cell, node 2: unknown nds_enas op 'conv_1x1'"):
        enas.parse(text)
    # an ENAS-op genotype is the same network in every 5-node family that contains its ops
    enas_text = str(arch_of("nds_enas"))
    five_nodes = NAMES[1:]
    assert all(get_space(n).parse(enas_text) == arch_of("nds_enas") for n in five_nodes)
    # `none` parses in DARTS (pycls lists it) but is never drawn; no other family knows it
    with_none = VALID.replace("max_pool_3x3~0+dil", "none~0+dil")
    assert darts.parse(with_none).normal[6] == ("none", 0)
    normal, normal_concat, reduce, reduce_concat = GENOTYPES["nds_enas"]
    with pytest.raises(GradnasError, match="normal cell, node 2: unknown nds_enas op 'none'"):
        enas.check(NDSArch([("none", 0), *normal[1:]], normal_concat, reduce, reduce_concat, 8, 5))
    with pytest.raises(GradnasError, match="nds_darts arch must be a NDSArch object or its string"):
        darts.format(42)
    with pytest.raises(GradnasError, match="unknown NDS family 'bogus'"):
        NDSSpace("bogus")


# ---------------------------------------------------------------- mutation


def _differences(a: NDSArch, b: NDSArch) -> list[tuple[str, int, int]]:
    """(cell, pair, component) for every op (0) or input (1) that differs, comparing each node's
    pairs as a multiset (a node sums its two pairs, so their order is not part of the network)."""
    found = []
    for cell in ("normal", "reduce"):
        pa, pb = getattr(a, cell), getattr(b, cell)
        for k in range(0, len(pa), 2):
            na, nb = Counter(pa[k : k + 2]), Counter(pb[k : k + 2])
            old, new = sorted((na - nb).elements()), sorted((nb - na).elements())
            if old or new:
                assert len(old) == len(new) == 1, (old, new)
                found += [(cell, pb.index(new[0], k), c) for c in (0, 1) if old[0][c] != new[0][c]]
    return found


@pytest.mark.parametrize("name", NAMES)
def test_mutate_changes_exactly_one_op_or_input(name):
    space, family = get_space(name), FAMILIES[name.removeprefix("nds_")]
    rng = np.random.default_rng(3)
    kinds = set()
    for _ in range(60):
        arch = space.sample(rng)
        child = space.mutate(arch, rng)
        diff = _differences(arch, child)
        assert child != arch and len(diff) == 1
        cell, k, component = diff[0]
        kinds.add(component)
        assert (child.width, child.depth) == (arch.width, arch.depth)
        assert getattr(child, cell)[k][0] in family.ops
        if component == 1 and family.loose_end:
            assert getattr(child, f"{cell}_concat") == loose_ends(getattr(child, cell))
        else:
            assert (child.normal_concat, child.reduce_concat) == (arch.normal_concat, arch.reduce_concat)
        assert child in space.neighbours(arch)
    assert kinds == {0, 1}


def test_neighbours_are_every_single_op_or_input_change():
    space = get_space("nds_darts")
    arch = arch_of("nds_darts")
    neighbours = space.neighbours(arch)
    # per cell: 8 pairs with 6 other ops each, plus (node - 1) other states, nodes 2..5 twice each
    assert len(neighbours) == 2 * (8 * 6 + 2 * (1 + 2 + 3 + 4)) == 136
    assert len(set(neighbours)) == 136 and arch not in neighbours
    assert all(len(_differences(arch, n)) == 1 for n in neighbours)
    assert len(get_space("nds_nasnet").neighbours(arch_of("nds_nasnet"))) == 2 * (10 * 12 + 2 * 15)


# ---------------------------------------------------------------- networks


@pytest.mark.parametrize("name", NAMES)
def test_network_runs_forward_and_backward(name):
    torch.manual_seed(0)
    net = get_space(name).build(arch_of(name), num_classes=10, input_shape=(3, 16, 16))
    x, y = torch.randn(4, 3, 16, 16), torch.tensor([0, 3, 7, 9])
    logits = net(x)
    assert logits.shape == (4, 10)
    loss = F.cross_entropy(logits, y)
    assert torch.isfinite(loss)
    loss.backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname


def _op_params(op: str, C: int, stride: int) -> int:
    """Parameters of one op, counted from the layer shapes (affine BN: 2 per channel)."""
    bn = 2 * C
    k = int(op[-1]) if op[-1].isdigit() else 0
    if op in ("none", "avg_pool_3x3") or op.startswith("max_pool") or (op == "skip_connect" and stride == 1):
        return 0
    if op == "skip_connect":  # factorized reduce: two 1x1 convs to C/2 channels each
        return C * C + bn
    if op in ("conv_1x1", "conv_3x3"):
        return k * k * C * C + bn
    if op in ("conv_3x1_1x3", "conv_7x1_1x7"):
        return 2 * k * C * C + bn
    if op.startswith("dil_conv"):
        return k * k * C + C * C + bn
    return 2 * (k * k * C + C * C + bn)  # sep_conv_kxk, dil_sep_conv_3x3


def _expected_params(arch: NDSArch, num_classes: int, in_channels: int) -> int:
    C, total = arch.width, 0
    total += in_channels * 3 * C * 9 + 2 * 3 * C  # stem
    c_pp = c_p = 3 * C
    for i in range(arch.depth):
        reduction = i in (arch.depth // 3, 2 * arch.depth // 3)
        C *= 2 if reduction else 1
        pairs, concat = (arch.reduce, arch.reduce_concat) if reduction else (arch.normal, arch.normal_concat)
        total += (c_pp * C + 2 * C) + (c_p * C + 2 * C)  # preprocessing (both forms have c_in * C weights)
        total += sum(_op_params(op, C, 2 if reduction and s < 2 else 1) for op, s in pairs)
        c_pp, c_p = c_p, len(concat) * C
    return total + c_p * num_classes + num_classes


def test_parameter_count_of_a_tiny_darts_network_by_hand():
    space = get_space("nds_darts")
    arch = space.parse(
        "normal=sep_conv_3x3~0+skip_connect~1,max_pool_3x3~2+avg_pool_3x3~1,skip_connect~3+max_pool_3x3~0,"
        "avg_pool_3x3~4+skip_connect~2;normal_concat=2,3,4,5;"
        "reduce=dil_conv_3x3~0+max_pool_3x3~1,skip_connect~2+avg_pool_3x3~0,max_pool_3x3~3+skip_connect~2,"
        "avg_pool_3x3~4+max_pool_3x3~3;reduce_concat=2,3,4,5;width=4;depth=3"
    )
    net = space.build(arch, 10, (3, 32, 32))
    # stem 3*12*9 + 24 = 348
    # cell 0 normal C=4: pre0, pre1 12->4 (48 + 8 each) = 112; sep_conv_3x3: 2 * (36 + 16 + 8) = 120
    # cell 1 reduce C=8: pre0 12->8 = 112, pre1 16->8 = 144; dil_conv_3x3 stride 2: 72 + 64 + 16 = 152
    # cell 2 reduce C=16: pre0 factorized reduce 16->16 = 256 + 32, pre1 32->16 = 544; dil_conv: 432
    # head: Linear(64, 10) = 650
    assert n_params(net) == 348 + 232 + 408 + 1264 + 650 == 2902


@pytest.mark.parametrize("name", NAMES)
def test_parameter_count_matches_a_count_from_layer_shapes(name):
    arch = arch_of(name, width=16, depth=8)
    assert n_params(get_space(name).build(arch, 100, (3, 32, 32))) == _expected_params(arch, 100, 3)
    sampled = get_space(name).sample(np.random.default_rng(1))
    assert n_params(NDSNetwork(sampled, 10, 1)) == _expected_params(sampled, 10, 1)


def test_darts_v2_at_the_darts_evaluation_size_has_the_published_parameter_count():
    """DARTS (2nd order) genotype, 36 channels, 20 cells: DARTS's training log reports
    "param size = 3.349342MB", counted without the auxiliary head, which we do not build."""
    net = get_space("nds_darts").build(
        "normal=sep_conv_3x3~0+sep_conv_3x3~1,sep_conv_3x3~0+sep_conv_3x3~1,sep_conv_3x3~1+skip_connect~0,"
        "skip_connect~0+dil_conv_3x3~2;normal_concat=2,3,4,5;"
        "reduce=max_pool_3x3~0+max_pool_3x3~1,skip_connect~2+max_pool_3x3~1,max_pool_3x3~0+skip_connect~2,"
        "skip_connect~2+max_pool_3x3~1;reduce_concat=2,3,4,5;width=36;depth=20"
    )
    assert n_params(net) == 3_349_342


def test_build_rejects_bad_arguments():
    space = get_space("nds_darts")
    with pytest.raises(GradnasError, match="num_classes must be an int >= 2"):
        space.build(DARTS, 1, (3, 32, 32))
    with pytest.raises(GradnasError, match="input height must be an int >= 8"):
        space.build(DARTS, 10, (3, 4, 32))
    with pytest.raises(GradnasError, match="input_shape must be"):
        space.build(DARTS, 10, (32, 32))
    with pytest.raises(GradnasError, match="nds_darts cells have 4 nodes, got 5"):
        space.build(arch_of("nds_enas"), 10, (3, 32, 32))
