"""The NB101 .npz loader: the generated fixture, and clear errors for broken files."""


import numpy as np
import pytest

from gradnas.benchmarks import load_benchmark, load_nb101
from gradnas.errors import GradnasError
from gradnas.spaces import get_space

OP_NAMES = ["input", "output", "maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu"]


def write(path, **arrays):
    base = {
        "adjacency": np.array([[[0, 1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1]] + [[0] * 7] * 5], np.uint8),
        "ops": np.array([[0, 4, -1, -1, -1, -1, 1]], np.int8),
        "op_names": np.array(OP_NAMES),
        "val_accuracy": np.array([91.5]),
    }
    np.savez(path, **{**base, **arrays})
    return path


def test_fixture_loads_every_metric_by_canonical_cell(nb101_tiny):
    bench = load_benchmark(nb101_tiny)
    assert len(bench) == 12 and bench.datasets == ("cifar10",)
    assert set(bench.metrics) == {"trainable_parameters", "val_accuracy", "test_accuracy", "training_time"}
    space = get_space("nb101")
    for arch in bench.archs():
        params = bench.query(arch, "cifar10", "trainable_parameters")
        assert sum(p.numel() for p in space.build(arch).parameters()) == params
        assert bench.cost(arch, "CIFAR-10") == pytest.approx(params / 1000)
        assert space.format(space.parse(arch)) == arch


def test_padding_vertices_are_dropped_and_the_cell_found_in_any_spelling(tmp_path):
    bench = load_nb101(write(tmp_path / "one.npz"))
    assert bench.archs() == ["ops=conv3x3;edges=0-1,1-2"]
    assert bench.query("ops=conv3x3-bn-relu;edges=0-1,1-2", "cifar10", "val_accuracy") == 91.5
    assert bench.query_many(["ops=conv3x3;edges=0-1,1-2"], "cifar10", "val_accuracy").tolist() == [91.5]
    assert "ops=conv1x1;edges=0-1,1-2" not in bench and "ops=bad" not in bench
    with pytest.raises(GradnasError, match="unknown metric 'test_accuracy'; valid choices: val_accuracy"):
        bench.query(bench.archs()[0], "cifar10")


def test_isomorphic_rows_are_averaged_with_a_notice(tmp_path):
    a = np.zeros((7, 7), np.uint8)
    b = np.zeros((7, 7), np.uint8)
    for i, j in [(0, 1), (0, 2), (1, 6), (2, 6)]:
        a[i, j] = b[i, j] = 1
    ops = np.array([[0, 4, 2, -1, -1, -1, 1], [0, 2, 4, -1, -1, -1, 1]], np.int8)  # branches swapped
    path = write(tmp_path / "dup.npz", adjacency=np.stack([a, b]), ops=ops, val_accuracy=np.array([1.0, 2.0]))
    with pytest.warns(UserWarning, match="2 rows describe 1 archs more than once"):
        bench = load_nb101(path)
    assert len(bench) == 1 and bench.copies == {bench.archs()[0]: 2}
    assert bench.query(bench.archs()[0], "cifar10", "val_accuracy") == 1.5


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"ops": np.array([[0, 4, 7, -1, -1, -1, 1]], np.int8)}, "row 0: op indices must be -1 or in 0..4"),
        ({"ops": np.array([[0, -1, -1, -1, -1, -1, 1]], np.int8)}, "row 0: a padding vertex"),
        ({"op_names": np.array(["input", "output", "conv5x5", "a", "b"])}, "op_names must be"),
        ({"adjacency": np.zeros((1, 6, 6), np.uint8)}, r"adjacency must be an integer \(N, 7, 7\)"),
        ({"val_accuracy": np.array([1.0, 2.0])}, r"numeric with shape \(1,\): val_accuracy"),
        ({"val_accuracy": np.array(["x"])}, "numeric"),
        ({"adjacency": np.array(1, np.uint8)}, r"adjacency must be \(N, 7, 7\)"),
        ({"op_names": np.array("input")}, "op_names a list of 5 names"),
    ],
)
def test_broken_files_are_refused_with_the_reason(tmp_path, arrays, message):
    with pytest.raises(GradnasError, match=message):
        load_nb101(write(tmp_path / "bad.npz", **arrays))


def test_missing_arrays_and_unreadable_files(tmp_path):
    np.savez(tmp_path / "partial.npz", adjacency=np.zeros((1, 7, 7), np.uint8))
    with pytest.raises(GradnasError, match="lacks the arrays ops, op_names"):
        load_nb101(tmp_path / "partial.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(GradnasError, match="cannot read NB101 benchmark"):
        load_benchmark(tmp_path / "junk.npz")
    with pytest.raises(GradnasError, match="does not exist"):
        load_nb101(tmp_path / "absent.npz")
