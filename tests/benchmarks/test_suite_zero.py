"""NAS-Bench-Suite-Zero JSON: key decoding checked by hand, duplicate merging, reference columns,
errors naming the entry, and the real tables' parameter counts reproduced by our networks."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from gradnas.benchmarks import load_benchmark, load_suite_zero
from gradnas.data.paths import find_data_file
from gradnas.errors import GradnasError
from gradnas.spaces import get_space
from gradnas.spaces.nb101 import prune_spec, spec_from_key
from gradnas.spaces.nb101_network import NB101Network
from gradnas.spaces.nb301 import to_compact


def nb101_key(edges, ops):
    """A 56-integer key: the 7×7 matrix row by row, then 7 op codes (0 in, 1 out, 2 pool, 3 1x1, 4 3x3)."""
    m = np.zeros((7, 7), int)
    for i, j in edges:
        m[i, j] = 1
    return str(tuple(int(v) for v in [*m.ravel(), *ops]))


def write(tmp_path, data, name="suite.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


# -------------------------------------------------------------- keys, decoded by hand


def test_nb201_key_follows_naslib_edges_and_codes():
    # NASLib codes: 0 skip, 1 none, 2 conv3x3, 3 conv1x1, 4 avgpool; edges (1,2) (1,3) (1,4) (2,3) (2,4) (3,4)
    nb201 = get_space("nb201")
    arch = nb201.parse("(0, 1, 2, 3, 4, 1)")
    assert str(arch) == "|skip_connect~0|+|none~0|nor_conv_1x1~1|+|nor_conv_3x3~0|avg_pool_3x3~1|none~2|"
    assert str(nb201.parse("(2,2,2,2,2,2)")) == "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|" + (
        "+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    )


def test_nb101_key_is_matrix_then_ops():
    # 0 -> 1 (conv3x3) -> 6 (out), 0 -> 2 (maxpool) -> 6; vertices 3..5 are padding (no edges)
    key = nb101_key([(0, 1), (0, 2), (1, 6), (2, 6)], [0, 4, 2, 0, 0, 0, 1])
    assert str(get_space("nb101").parse(key)) == str(
        get_space("nb101").parse("ops=conv3x3,maxpool3x3;edges=0-1,0-2,1-3,2-3")
    )
    matrix, ops = spec_from_key(key)
    assert ops == ["input", "conv3x3-bn-relu", "maxpool3x3", "output"] and matrix.shape == (4, 4)


def test_nb301_compact_genotype_is_input_then_op():
    nb301 = get_space("nb301")
    normal = [(0, 3), (1, 3), (0, 2), (2, 4), (1, 0), (3, 5), (0, 1), (4, 6)]
    reduce = [(0, 0), (1, 1), (2, 2), (0, 3), (3, 4), (1, 5), (4, 6), (2, 0)]
    arch = nb301.parse(str([normal, reduce]))
    assert arch.normal[:4] == (
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("skip_connect", 0),
        ("sep_conv_5x5", 2),
    )
    assert arch.reduce[:2] == (("max_pool_3x3", 0), ("avg_pool_3x3", 1))
    assert (arch.width, arch.depth, arch.normal_concat) == (32, 8, (2, 3, 4, 5))
    assert nb301.parse(to_compact(arch)) == arch and nb301.parse(str(arch)) == arch


@pytest.mark.parametrize(
    "space, key, message",
    [
        ("nb201", "(0, 1, 2)", "tuple of 6 op codes"),
        ("nb201", "(0, 1, 2, 3, 4, 5)", "op codes must be in 0..4"),
        ("nb201", "(0, 1, __import__('os'))", "short tuple/list of integers"),
        ("nb101", "(0, 1)", "tuple of 56 integers"),
        ("nb101", nb101_key([(0, 6)], [0, 7, 0, 0, 0, 0, 1]), "op codes must be in 0..4"),
        ("nb301", "[[(0, 1)], [(0, 1)]]", "the normal cell needs 8"),
        ("nb301", str([[(0, 9)] * 8, [(0, 1)] * 8]), "unknown op code 9"),
        ("nb301", str([[(0, 1)] * 8, [(5, 1)] * 8]), "input state must be an int in 0..1"),
        ("nb301", "[" * 3000, "short tuple/list of integers"),
    ],
)
def test_bad_keys_are_one_line_errors(space, key, message):
    with pytest.raises(GradnasError, match=message):
        get_space(space).parse(key)


def test_nb301_refuses_none_and_other_sizes():
    nb301 = get_space("nb301")
    text = str(nb301.sample(np.random.default_rng(0)))
    with pytest.raises(GradnasError, match="width 32 and depth 8"):
        nb301.parse(text.replace("depth=8", "depth=20"))
    with pytest.raises(GradnasError, match="no 'none' op"):
        nb301.parse(text.replace("sep_conv_3x3", "none", 1) if "sep_conv_3x3" in text else "x")


# -------------------------------------------------------------- the loader


def nb101_file(tmp_path):
    same_a = nb101_key([(0, 1), (0, 2), (1, 6), (2, 6)], [0, 4, 2, 0, 0, 0, 1])
    same_b = nb101_key([(0, 1), (0, 2), (1, 6), (2, 6)], [0, 2, 4, 0, 0, 0, 1])  # branches swapped
    other = nb101_key([(0, 1), (1, 6)], [0, 3, 0, 0, 0, 0, 1])
    records = {
        same_a: {"val_accuracy": 90.0, "params": 1.0, "synflow": 3.0, "jacov": -1.0},
        same_b: {"val_accuracy": 92.0, "params": 1.0, "synflow": 5.0, "jacov": -2.0},
        other: {"val_accuracy": 80.0, "params": 0.5, "synflow": 1.0, "jacov": -3.0},
    }
    return write(tmp_path, {"nasbench101": {"cifar10": records}})


def test_isomorphic_copies_are_merged_with_a_notice(tmp_path):
    with pytest.warns(UserWarning, match="2 rows describe 1 archs more than once"):
        bench = load_benchmark(nb101_file(tmp_path))
    assert len(bench) == 2
    merged = str(get_space("nb101").parse("ops=conv3x3,maxpool3x3;edges=0-1,0-2,1-3,2-3"))
    assert bench.copies == {merged: 2}
    assert bench.query(merged, "cifar10", "val_accuracy") == 91.0
    assert bench.query(merged, "cifar10", "synflow") == 4.0
    assert bench.references == ("params", "synflow", "jacov")
    # a lookup in another spelling (the key itself) finds the merged cell
    assert bench.query(nb101_key([(0, 1), (1, 6)], [0, 3, 0, 0, 0, 0, 1]), "cifar10", "val_accuracy") == 80.0


def test_nb201_file_with_several_datasets(tmp_path):
    records = {
        "cifar10": {
            "(2, 2, 2, 2, 2, 2)": {"val_accuracy": 91.0},
            "(1, 1, 1, 1, 1, 1)": {"val_accuracy": 10.0},
        },
        "cifar100": {"(2, 2, 2, 2, 2, 2)": {"val_accuracy": 70.0}},
    }
    bench = load_suite_zero(write(tmp_path, {"nasbench201": records}))
    best = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    assert bench.datasets == ("cifar10", "cifar100") and bench.references == ()
    assert bench.query(best, "cifar100", "val_accuracy") == 70.0
    assert np.isnan(
        bench.query("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "cifar100", "val_accuracy")
    )


@pytest.mark.parametrize(
    "data, message",
    [
        ({"nasbench999": {}}, "must map one of nasbench101, nasbench201, nasbench301"),
        ([1, 2], None),  # a list is NDS's layout: the NDS loader reports it
        ({"nasbench201": {"cifar10": {}}}, "must map architecture keys to records"),
        ({"nasbench201": {"cifar10": {"(0, 0, 0, 0, 0, 9)": {"val_accuracy": 1}}}}, "entry '.*': NB201"),
        (
            {"nasbench201": {"cifar10": {"(0, 0, 0, 0, 0, 0)": {"val_accuracy": "high"}}}},
            "'val_accuracy' must be a number",
        ),
        (
            {"nasbench201": {"cifar10": {"(0, 0, 0, 0, 0, 0)": {"val_accuracy": 101}}}},
            r"percentage in \[0, 100\]",
        ),
        ({"nasbench201": {"cifar10": {"(0, 0, 0, 0, 0, 0)": {"params": 1}}}}, "has no 'val_accuracy'"),
        ({"nasbench201": {"cifar10": {"(0, 0, 0, 0, 0, 0)": 5}}}, "the record must be a JSON object"),
        ({"nasbench201": {}, "nasbench101": {}}, "holds several spaces"),
    ],
)
def test_bad_files_are_one_line_errors_naming_the_entry(tmp_path, data, message):
    path = write(tmp_path, data, "bad.json")
    with pytest.raises(GradnasError, match=message or "NDS record 0 of bad.json"):
        load_benchmark(path)


# -------------------------------------------------------------- the real tables


def _shared(name):
    try:
        return find_data_file(name)
    except GradnasError as why:
        pytest.fail(f"this test needs the data directory with {name}: {why}")


def _param_count(net):
    return sum(p.numel() for p in net.parameters())


def test_nb101_networks_reproduce_every_params_entry():
    raw = json.loads(_shared("nb101_zc_250.json").read_text())["nasbench101"]["cifar10"]
    nb101 = get_space("nb101")
    canonical_differs = []
    with torch.device("meta"):
        for key, record in raw.items():
            matrix, ops = prune_spec(*spec_from_key(key))
            as_written = NB101Network(matrix, ops, 10, 3, 128, 3, 3)
            assert round(_param_count(as_written) / 1e6, 6) == record["params"], key
            canonical = nb101.build(nb101.parse(key))
            if _param_count(canonical) != _param_count(as_written):
                canonical_differs.append(key)
    # relabelling moves the channel-split remainder between vertices: 15 of 250 cells, all by < 0.04 M
    assert len(raw) == 250 and len(canonical_differs) == 15


def test_nb301_networks_reproduce_the_params_entries():
    raw = json.loads(_shared("nb301_zc_500.json").read_text())["nasbench301"]["cifar10"]
    nb301 = get_space("nb301")
    sample = list(raw.items())[::5]  # 100 of the 500 cells (all 500 match too; building them takes ~15 s)
    with torch.device("meta"):
        counts = [_param_count(nb301.build(nb301.parse(key))) for key, _ in sample]
    assert len(raw) == 500
    assert [round(c / 1e6, 6) for c in counts] == [r["params"] for _, r in sample]


def test_real_tables_load_with_val_accuracy_and_naslib_scores():
    with pytest.warns(UserWarning, match="110 rows describe 22 archs"):
        nb101 = load_benchmark(_shared("nb101_zc_250.json"))
    nb301 = load_benchmark(_shared("nb301_zc_500.json"))
    assert (len(nb101), len(nb301)) == (162, 500) and sum(nb101.copies.values()) == 110
    for bench in (nb101, nb301):
        assert "val_accuracy" in bench.metrics and "synflow" in bench.references
        values = bench.query_many(bench.archs(), "cifar10", "val_accuracy")
        assert np.isfinite(values).all() and 80 < values.mean() < 95


# -------------------------------------------------------------- correlate end to end


def test_correlate_reports_the_suites_scores_beside_ours(tmp_path, capsys):
    from gradnas.cli import main
    from gradnas.data import probe_batch
    from gradnas.run.tasks import build_model
    from gradnas.spaces.nb201 import SUITE_ZERO_EDGES, SUITE_ZERO_OPS

    nb201, rng = get_space("nb201"), np.random.default_rng(3)
    batch = probe_batch("digits", batch_size=16, seed=0)
    records = {}
    for k in range(12):
        codes = tuple(int(c) for c in rng.integers(0, 5, 6))
        arch = nb201.parse(str(codes))
        params = _param_count(build_model("nb201", str(arch), batch, 0))
        # the suite's "params" is our own count here, its "synflow" the negated count
        records[str(codes)] = {"val_accuracy": 50.0 + k, "params": params, "synflow": -params}
    assert len(SUITE_ZERO_OPS) == 5 and len(SUITE_ZERO_EDGES) == 6
    path = write(tmp_path, {"nasbench201": {"cifar10": records}})
    out = tmp_path / "study"
    args = [
        "correlate",
        "--benchmark",
        str(path),
        "--metric",
        "val_accuracy",
        "--dataset",
        "digits",
        "--target",
        "cifar10",
        "--archs",
        "all",
        "--proxies",
        "params,synflow",
        "--batch-size",
        "16",
        "--out",
        str(out),
        "--workers",
        "1",
        "--quiet",
    ]
    assert main(args) == 0
    refs = pd.read_csv(out / "references.csv").set_index("reference")
    assert refs.loc["params", "proxy"] == "params" and refs.loc["params", "agreement"] == pytest.approx(1.0)
    assert refs.loc["params", "reference_spearman"] == pytest.approx(refs.loc["params", "spearman"])
    assert refs.loc["synflow", "reference_spearman"] == pytest.approx(-refs.loc["params", "spearman"])
    assert "NAS-Bench-Suite-Zero's own scores beside gradnas's" in (out / "report.md").read_text()
    # a table of another space is refused before any scoring, naming the space to use
    capsys.readouterr()
    nb301_args = [a if a != str(path) else str(_shared("nb301_zc_500.json")) for a in args]
    assert main([*nb301_args[:-5], "--out", str(tmp_path / "other"), "--workers", "1", "--quiet"]) == 2
    assert "holds nb301 architectures, not nb201's: give space nb301" in capsys.readouterr().err


def test_every_benchmark_kind_offers_the_protocol_with_query_many(tmp_path, nb101_tiny):
    from gradnas.benchmarks import Benchmark

    kinds = [
        load_benchmark(nb101_file(tmp_path)),  # Suite-Zero JSON
        load_benchmark(nb101_tiny),  # NB101 .npz
        load_benchmark(_shared("nb301_zc_500.json")),
    ]
    for bench in kinds:
        assert isinstance(bench, Benchmark) and callable(bench.query_many)
        archs = bench.archs()[:3]
        many = bench.query_many(archs, "cifar10", bench.metrics[-1])
        assert many.tolist() == [bench.query(a, "cifar10", bench.metrics[-1]) for a in archs]
