"""The NDS JSON loader on small fixtures written in the released files' layout."""

import json
import shutil
from pathlib import Path

import pytest

from gradnas.benchmarks import TableBenchmark, load_benchmark
from gradnas.benchmarks.nds import load_nds
from gradnas.errors import GradnasError
from gradnas.spaces import get_space

FIXTURES = Path(__file__).parent.parent / "fixtures"
TINY = FIXTURES / "nds_tiny.json"  # 3 DARTS records
MIXED = FIXTURES / "nds_mixed.json"  # the first two DARTS records of TINY, then an ENAS record


def records(path: Path = MIXED) -> list:
    return json.loads(path.read_text())


def write(tmp_path: Path, data: object, name: str = "bad.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_tiny_file_gives_100_minus_the_final_test_error():
    bench = load_benchmark(TINY)  # dispatched on the .json suffix
    assert isinstance(bench, TableBenchmark) and bench.name == "nds_tiny"
    assert bench.datasets == ("cifar10",) and bench.metrics == ("test_accuracy",)
    space = get_space("nds_darts")
    archs = bench.archs()
    assert [space.format(space.parse(a)) for a in archs] == archs  # canonical: `correlate` finds them
    assert [(space.parse(a).width, space.parse(a).depth) for a in archs] == [(16, 8), (16, 4), (24, 4)]
    assert [bench.query(a, "cifar10") for a in archs] == [100 - 12.25, 100 - 18.5, 100 - 9.75]
    assert bench.query(archs[0], "CIFAR-10") == 87.75
    first = records(TINY)[0]["net"]["genotype"]
    assert space.parse(archs[0]).normal == tuple(tuple(pair) for pair in first["normal"])
    assert "3 records (nds_darts: 3)" in bench.description


def test_families_are_detected_per_record_from_their_ops():
    bench = load_nds(MIXED, dataset="cifar100")
    assert bench.datasets == ("cifar100",) and len(bench) == 3
    assert "nds_darts: 2, nds_enas: 1" in bench.description
    enas = bench.archs()[2]
    assert get_space("nds_enas").parse(enas).normal_concat == (4, 5, 6)
    assert bench.query(enas, "cifar100") == 86.0
    with pytest.raises(GradnasError, match="nds_darts cells have 4 nodes, got 5"):
        get_space("nds_darts").parse(enas)


def test_the_space_argument_or_the_file_name_fixes_the_family(tmp_path):
    with pytest.raises(
        GradnasError, match=r"NDS record 2 of nds_mixed.json: nds_darts cells have 4 nodes, got 5"
    ):
        load_nds(MIXED, space="nds_darts")
    with pytest.raises(
        GradnasError, match="NDS record 0 of nds_mixed.json: nds_enas cells have 5 nodes, got 4"
    ):
        load_nds(MIXED, space="nds_enas")
    with pytest.raises(GradnasError, match="unknown NDS space 'nb201'"):
        load_nds(MIXED, space="nb201")
    named = tmp_path / "DARTS_fix-w-d.json"  # NDS's own naming: the family comes first
    shutil.copy(MIXED, named)
    with pytest.raises(GradnasError, match="NDS record 2 of DARTS_fix-w-d.json: nds_darts cells have 4"):
        load_nds(named)
    assert len(load_nds(shutil.copy(TINY, tmp_path / "DARTS.json"))) == 3


def test_top_mid_layout_and_duplicate_archs_are_averaged(tmp_path):
    data = records(TINY)
    again = json.loads(json.dumps(data[0]))
    again["test_ep_top1"][-1] = 20.25  # the same arch trained again: 79.75 vs 87.75
    bench = load_nds(write(tmp_path, {"top": data[:2], "mid": [data[2], again]}, "split.json"))
    assert len(bench) == 3 and "4 records (nds_darts: 4), 3 distinct archs" in bench.description
    assert bench.query(bench.archs()[0], "cifar10") == (87.75 + 79.75) / 2


def _with(index: int, change) -> list:
    data = records()
    change(data[index])
    return data


@pytest.mark.parametrize(
    "data, message",
    [
        ([], "holds no records"),
        ({"net": {}}, "must hold a JSON list of records, got dict"),
        ([1], "NDS record 0 of bad.json: the record must be a JSON object, got int"),
        (
            _with(1, lambda r: r.pop("net")),
            "NDS record 1 of bad.json: the record has no 'net'; it has 'optim'",
        ),
        (_with(0, lambda r: r["net"].pop("genotype")), "record 0 of bad.json: net has no 'genotype'"),
        (
            _with(2, lambda r: r["net"]["genotype"].pop("reduce_concat")),
            "record 2 .*net.genotype has no 'reduce_c",
        ),
        (_with(1, lambda r: r["net"].pop("width")), "record 1 of bad.json: net has no 'width'"),
        (
            _with(1, lambda r: r["net"].update(depth=0)),
            "record 1 of bad.json: depth must be an int >= 3, got 0",
        ),
        (_with(2, lambda r: r.pop("test_ep_top1")), "record 2 of bad.json: the record has no 'test_ep_top1'"),
        (_with(0, lambda r: r.update(test_ep_top1=[])), "record 0 .*test_ep_top1 must be a non-empty list"),
        (_with(0, lambda r: r.update(test_ep_top1=[12, 101])), r"error % in \[0, 100\], got 101"),
        (_with(0, lambda r: r.update(test_ep_top1=["7"])), r"error % in \[0, 100\], got '7'"),
        (
            _with(1, lambda r: r["net"]["genotype"]["normal"][2].__setitem__(0, "conv_9x9")),
            "NDS record 1 of bad.json: normal cell, node 3: unknown NDS op 'conv_9x9'",
        ),
        (
            _with(1, lambda r: r["net"]["genotype"]["reduce"][0].__setitem__(1, 2)),
            "record 1 of bad.json: reduce cell, node 2: input state must be an int in 0..1",
        ),
        (
            # a DARTS-only op in a 5-node cell
            _with(2, lambda r: r["net"]["genotype"]["normal"][0].__setitem__(0, "dil_conv_5x5")),
            "record 2 of bad.json: fits no NDS family .*nds_darts: nds_darts cells have 4 nodes, got 5; "
            "nds_pnas: normal cell, node 2: unknown nds_pnas op 'dil_conv_5x5'",
        ),
    ],
)
def test_malformed_files_name_the_record(tmp_path, data, message):
    with pytest.raises(GradnasError, match=message):
        load_nds(write(tmp_path, data))


def test_unreadable_files(tmp_path):
    with pytest.raises(GradnasError, match="does not exist"):
        load_nds(tmp_path / "missing.json")
    bad = tmp_path / "broken.json"
    bad.write_text('[{"net": ')
    with pytest.raises(GradnasError, match="cannot read JSON benchmark .*broken.json.* as JSON"):
        load_benchmark(bad)
    with pytest.raises(GradnasError, match="dataset must be a non-empty column name"):
        load_nds(TINY, dataset="arch")
