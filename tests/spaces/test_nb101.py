"""NAS-Bench-101 cells: pruning, canonical labelling and hashing, the reference network."""

import itertools

import numpy as np
import pytest
import torch

from gradnas.errors import GradnasError
from gradnas.spaces import get_space
from gradnas.spaces.nb101 import OPS, NB101Arch, fingerprint
from gradnas.spaces.nb101_network import vertex_channels

C3, C1, MP = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"
# The Inception-like cell of the benchmark's README; its table entry has 2,694,282 trainable parameters.
README_MATRIX = [
    [0, 1, 1, 1, 0, 1, 0],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 1, 0, 0],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 0],
]
README_OPS = ["input", C1, C3, C3, C3, MP, "output"]
space = get_space("nb101")


def relabelled(arch: NB101Arch, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """The same cell under a random topological relabelling of its interior vertices."""
    m, names, size = arch.matrix, arch.op_names, arch.num_vertices
    orders = [
        p
        for p in itertools.permutations(range(1, size - 1))
        if all(p.index(i) < p.index(j) for i, j in arch.edges if 0 < i and j < size - 1)
    ]
    order = [0, *orders[rng.integers(len(orders))], size - 1]  # new vertex k is old vertex order[k]
    new = np.zeros_like(m)
    for a, b in itertools.product(range(size), repeat=2):
        new[a, b] = m[order[a], order[b]]
    return new, [names[v] for v in order]


def test_relabelled_cells_are_equal_and_hash_alike():
    rng = np.random.default_rng(0)
    cells = {space.sample(rng) for _ in range(60)}
    for arch in cells:
        matrix, ops = relabelled(arch, rng)
        labels = [-1, *(OPS.index(o) for o in ops[1:-1]), -2]
        assert NB101Arch.from_spec(matrix, ops) == arch
        assert str(NB101Arch.from_spec(matrix, ops)) == str(arch)
        assert fingerprint(matrix, labels) == arch.fingerprint()
    # distinct cells get distinct hashes, so the hash and the canonical text agree on equality
    assert len({a.fingerprint() for a in cells}) == len(cells)


def test_swapping_two_parallel_branches_is_the_same_cell():
    a = NB101Arch.from_spec(
        [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], ["input", C3, MP, "output"]
    )
    b = NB101Arch.from_spec(
        [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], ["input", MP, C3, "output"]
    )
    chain = NB101Arch.from_spec(
        [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]], ["input", C3, MP, "output"]
    )
    assert a == b and a.fingerprint() == b.fingerprint()
    assert chain != a and chain.fingerprint() != a.fingerprint()


def test_pruning_drops_vertices_off_every_input_output_path():
    # vertex 2 never reaches the output; vertex 3 is unreachable from the input
    matrix = [
        [0, 1, 1, 0, 0],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0],
    ]
    pruned = NB101Arch.from_spec(matrix, ["input", C1, C3, MP, "output"])
    assert str(pruned) == "ops=conv1x1;edges=0-1,1-2"
    assert pruned.num_vertices == 3 and pruned.op_names == ("input", C1, "output")


def test_ten_edges_are_fine_when_pruning_leaves_nine():
    m = np.zeros((7, 7), int)
    for i, j in [(0, 1), (1, 2), (2, 3), (3, 4), (4, 6), (0, 6), (1, 6), (2, 6), (3, 6), (0, 5)]:
        m[i, j] = 1  # vertex 5 is a dead end: its edge goes when it is pruned
    arch = NB101Arch.from_spec(m, ["input", C3, C3, C3, C3, MP, "output"])
    assert len(arch.edges) == 9
    m[0, 2] = 1
    with pytest.raises(GradnasError, match="10 edges after pruning; at most 9"):
        NB101Arch.from_spec(m, ["input", C3, C3, C3, C3, MP, "output"])


@pytest.mark.parametrize(
    "matrix, ops, message",
    [
        ([[0, 0], [0, 0]], ["input", "output"], "no path from the input"),
        ([[0, 1], [1, 0]], ["input", "output"], "strictly upper-triangular"),
        ([[0, 2], [0, 0]], ["input", "output"], "0 or 1"),
        ([[0, 1], [0, 0]], ["input", C3, "output"], "2×2 matrix but 3 ops"),
        ([[0, 1], [0, 0]], ["output", "input"], "start with 'input'"),
        ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "conv5x5", "output"], "unknown NB101 op 'conv5x5'"),
        (np.zeros((8, 8), int), ["input"] + [C3] * 6 + ["output"], "2 <= V <= 7"),
    ],
)
def test_bad_specs_are_refused_clearly(matrix, ops, message):
    with pytest.raises(GradnasError, match=message):
        NB101Arch.from_spec(matrix, ops)


def test_text_round_trips_and_reads_any_labelling_and_long_names():
    arch = NB101Arch.from_spec(README_MATRIX, README_OPS)
    assert space.parse(space.format(arch)) == arch
    text = "ops=maxpool3x3-bn-relu;edges=0-1,1-2"
    with pytest.raises(GradnasError, match="unknown NB101 op"):
        space.parse(text)
    long = space.parse("ops=conv3x3-bn-relu,maxpool3x3;edges=0-1,0-2,1-3,2-3")
    short = space.parse("ops=maxpool3x3,conv3x3;edges=0-1,0-2,1-3,2-3")
    assert long == short and space.format(long) == "ops=conv3x3,maxpool3x3;edges=0-1,0-2,1-3,2-3"
    assert space.format(space.parse("ops=;edges=0-1")) == "ops=;edges=0-1"


@pytest.mark.parametrize(
    "text, message",
    [
        ("conv3x3;0-1", "must read 'ops=...;edges=i-j"),
        ("ops=conv3x3;edges=0-1;edges=1-2", "must read"),
        ("ops=conv3x3;edges=1-0,1-2", "0 <= i < j < 3"),
        ("ops=conv3x3;edges=0-x", "0 <= i < j < 3"),
        ("ops=" + ",".join(["conv3x3"] * 6) + ";edges=0-7", "8 vertices; at most 7"),
        (3, "must be a str"),
        ("ops=conv3x3,,conv1x1;edges=0-1,1-4", "unknown NB101 op ''"),
        ("ops=conv3x3;edges=0-1,1-2,0-1", "lists an edge twice"),
        ("ops=conv3x3;edges=0-1,1-²", "0 <= i < j < 3"),  # a digit to str.isdigit, not to int
    ],
)
def test_malformed_text_is_refused_clearly(text, message):
    with pytest.raises(GradnasError, match=message):
        space.parse(text)


def test_the_reference_network_has_the_benchmark_parameter_count():
    net = space.build(NB101Arch.from_spec(README_MATRIX, README_OPS))
    assert sum(p.numel() for p in net.parameters()) == 2_694_282


def test_parameter_count_by_hand_for_a_one_conv_cell():
    # stem 3->4 conv3x3 + BN; stack 1: one cell at 4 channels, stack 2 (after max-pool): 8 channels.
    # A cell input->conv3x3->output: projection conv1x1 c_in->c_out + BN, conv3x3 c_out->c_out + BN.
    arch = space.parse("ops=conv3x3;edges=0-1,1-2")
    net = space.build(arch, num_classes=5, stem_channels=4, stacks=2, cells_per_stack=1)
    stem = 3 * 4 * 9 + 2 * 4
    cell1 = (4 * 4 + 2 * 4) + (4 * 4 * 9 + 2 * 4)
    cell2 = (4 * 8 + 2 * 8) + (8 * 8 * 9 + 2 * 8)
    head = 8 * 5 + 5
    assert sum(p.numel() for p in net.parameters()) == stem + cell1 + cell2 + head


def test_vertex_channels_split_the_output_and_take_the_widest_successor():
    # 1 -> 2, 1 -> 3; 2, 3, 4 feed the output; 10 channels over 3 vertices: 4, 3, 3
    m = np.zeros((6, 6), int)
    for i, j in [(0, 1), (1, 2), (1, 3), (0, 4), (2, 5), (3, 5), (4, 5)]:
        m[i, j] = 1
    assert vertex_channels(7, 10, m) == [7, 4, 4, 3, 3, 10]


def test_input_to_output_edge_adds_a_projection_to_the_concatenation():
    arch = space.parse("ops=maxpool3x3;edges=0-1,0-2,1-2")
    net = space.build(
        arch, num_classes=3, input_shape=(2, 6, 6), stem_channels=3, stacks=1, cells_per_stack=1
    )
    cell = net.features[1]
    x = torch.randn(2, 3, 6, 6)
    pooled = torch.nn.functional.max_pool2d(cell.projections["1"](x), 3, 1, 1)
    assert torch.allclose(cell(x), pooled + cell.projections["2"](x))


def test_networks_run_forward_and_backward():
    rng = np.random.default_rng(1)
    for arch in [space.sample(rng) for _ in range(4)] + [space.parse("ops=;edges=0-1")]:
        net = space.build(arch, num_classes=4, input_shape=(3, 9, 9), stem_channels=8)
        out = net(torch.randn(2, 3, 9, 9))
        assert out.shape == (2, 4)
        out.sum().backward()
        assert all(p.grad is not None for p in net.parameters())


def test_sampling_is_seeded_and_valid():
    a = [space.sample(np.random.default_rng(5)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    draws = [space.sample(np.random.default_rng(s)) for s in range(40)]
    assert all(2 <= d.num_vertices <= 7 and len(d.edges) <= 9 for d in draws)
    assert len(set(draws)) > 30


def test_neighbours_are_one_edit_away_and_mutation_picks_one():
    arch = space.parse("ops=conv3x3;edges=0-1,1-2")
    near = space.neighbours(arch)
    assert arch not in near and len(set(near)) == len(near)
    texts = {space.format(n) for n in near}
    # 2 other ops; the direct edge 0-2 added; removing 0-1 or 1-2 leaves no path, so no such cell
    assert {"ops=conv1x1;edges=0-1,1-2", "ops=maxpool3x3;edges=0-1,1-2"} <= texts
    assert "ops=conv3x3;edges=0-1,0-2,1-2" in texts and "ops=;edges=0-1" not in texts
    # a new vertex on a new path i -> v -> j: 3 pairs × 3 ops, 9 different cells
    assert "ops=conv3x3,maxpool3x3;edges=0-1,1-2,1-3,2-3" in texts  # 1 -> new -> output
    assert "ops=conv1x1,conv3x3;edges=0-1,0-2,1-2,2-3" in texts  # 0 -> new -> 1
    assert len(near) == 3 + 9
    rng = np.random.default_rng(0)
    assert all(space.mutate(arch, rng) in near for _ in range(20))


def test_mutation_can_grow_the_smallest_cell_to_seven_vertices_and_shrink_it_back():
    rng = np.random.default_rng(3)
    arch, sizes = space.parse("ops=;edges=0-1"), set()
    for _ in range(300):
        arch = space.mutate(arch, rng)
        sizes.add(arch.num_vertices)
    assert sizes == {2, 3, 4, 5, 6, 7}


def test_inputs_too_small_for_the_last_stack_are_refused():
    arch = space.parse("ops=conv3x3;edges=0-1,1-2")
    with pytest.raises(GradnasError, match="input height must be an int >= 8"):
        space.build(arch, input_shape=(3, 4, 32))
    with pytest.raises(GradnasError, match=r"input_shape must be \(channels, H, W\)"):
        space.build(arch, input_shape=(32, 32))
    assert space.build(arch, input_shape=(3, 4, 4), stacks=2, stem_channels=4)(
        torch.randn(2, 3, 4, 4)
    ).shape == (2, 10)


def test_arch_objects_hold_only_pruned_canonical_cells():
    canonical = space.parse("ops=conv3x3,conv1x1;edges=0-1,0-2,1-3,2-3")
    assert NB101Arch(canonical.ops, canonical.edges) == canonical
    with pytest.raises(GradnasError, match="pruned cell in canonical labelling"):
        NB101Arch(canonical.ops[::-1], canonical.edges)  # the same cell, other labelling
    with pytest.raises(GradnasError, match="op codes must be ints in 0..2"):
        NB101Arch((5,), ((0, 1), (1, 2)))
    with pytest.raises(GradnasError, match="edges must be pairs i < j of the 3 vertices"):
        NB101Arch((0,), ((0, 1), (1, 3)))


def test_too_few_channels_to_split_over_the_output_is_a_clear_error():
    arch = space.parse("ops=conv3x3,conv3x3,conv3x3;edges=0-1,0-2,0-3,1-4,2-4,3-4")
    with pytest.raises(GradnasError, match="2 channels cannot be split over the 3 vertices"):
        space.build(arch, stem_channels=2)
