"""TableBenchmark on a hand-written table and on the real NB201 table."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from gradnas.benchmarks import Benchmark, TableBenchmark, load_benchmark, load_nb201
from gradnas.errors import GradnasError

CSV = """arch,cifar10,cifar100,cifar10_cost
|a~0|,90.5,70.25,100.0
|b~0|,80.0,60.0,
|c~0|,85.125,65.5,300.0
"""

BEST_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


class Named:
    """An architecture object whose str() is the canonical string."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "tiny.csv"
    path.write_text(CSV)
    return TableBenchmark.from_file(path)


def write(tmp_path, text: str, name: str = "t.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_small_table_queries(small):
    assert isinstance(small, Benchmark)
    assert small.name == "tiny"
    assert small.datasets == ("cifar10", "cifar100")
    assert small.metrics == ("test_accuracy",)
    assert small.archs() == ["|a~0|", "|b~0|", "|c~0|"]
    assert small.query("|c~0|", "cifar10") == 85.125
    assert small.query(Named("|a~0|"), "cifar100", "test_accuracy") == 70.25
    assert small.query("|a~0|", "CIFAR-10") == 90.5
    assert len(small) == 3 and "|b~0|" in small and "|z~0|" not in small


def test_query_many(small):
    got = small.query_many(["|c~0|", Named("|a~0|"), "|c~0|"], "cifar100")
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, [65.5, 70.25, 65.5])
    assert small.query_many([], "cifar10").shape == (0,)
    with pytest.raises(GradnasError, match=r"1 of 2 .*'\|z~0\|'"):
        small.query_many(["|a~0|", "|z~0|"], "cifar10")


def test_cost_columns(small, tmp_path):
    assert small.cost("|a~0|", "cifar10") == 100.0
    assert small.cost("|b~0|", "cifar10") is None  # empty cell
    assert small.cost("|c~0|", "cifar100") is None  # no cost column for this dataset
    bench = TableBenchmark.from_file(write(tmp_path, "arch,x,x_time\n|a|,1,2.5\n"))
    assert bench.datasets == ("x",) and bench.cost("|a|", "x") == 2.5


def test_unknown_names(small):
    with pytest.raises(GradnasError, match=r"not in benchmark 'tiny'.*expected the format '\|a~0\|'"):
        small.query("|z~0|", "cifar10")
    with pytest.raises(
        GradnasError, match="'tiny' has no ground truth for dataset 'svhn'; it has: cifar10, cifar100"
    ):
        small.query("|a~0|", "svhn")
    with pytest.raises(GradnasError, match="unknown metric 'valid_accuracy'"):
        small.query("|a~0|", "cifar10", "valid_accuracy")
    with pytest.raises(GradnasError, match="no ground truth for dataset 'svhn'"):
        small.cost("|a~0|", "svhn")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("arch,c10\n|a|,1\n|a|,2\n", "1 duplicate archs, e.g. '|a|'"),
        ("name,c10\n|a|,1\n", "no 'arch' column; columns: name, c10"),
        ("arch,c10\n|a|,high\n", "non-numeric columns: c10"),
        ("arch\n|a|\n", "no accuracy columns"),
        ("arch,c10\n", "no rows"),
        ("arch,c10,c100_cost\n|a|,1,2\n", "'c100_cost' of benchmark table 't' matches no dataset column"),
        ("arch,c10,c10_cost,c10_time\n|a|,1,2,3\n", "two cost columns for 'c10'"),
        ("arch,c10,C-10\n|a|,1,2\n", "differ only in case or punctuation"),
    ],
)
def test_bad_tables(tmp_path, text, match):
    with pytest.raises(GradnasError, match=re.escape(match)):
        TableBenchmark.from_file(write(tmp_path, text))


def test_bad_files(tmp_path):
    with pytest.raises(GradnasError, match="does not exist"):
        TableBenchmark.from_file(tmp_path / "missing.csv")
    with pytest.raises(GradnasError, match="must end in one of"):
        TableBenchmark.from_file(write(tmp_path, "x", "table.txt"))


def test_parquet_and_frame(tmp_path):
    frame = pd.DataFrame({"arch": ["|a|", "|b|"], "c10": [1.0, 2.0]})
    frame.to_parquet(tmp_path / "t.parquet")
    assert TableBenchmark.from_file(tmp_path / "t.parquet").query("|b|", "c10") == 2.0
    assert TableBenchmark(frame, "mem").query("|a|", "c10") == 1.0


def test_load_benchmark_errors(tmp_path):
    with pytest.raises(GradnasError, match="unknown benchmark 'nb999': valid names are nb201, or"):
        load_benchmark("nb999")
    bench = load_benchmark(str(write(tmp_path, CSV, "own.csv")))
    assert bench.name == "own" and bench.query("|a~0|", "cifar10") == 90.5


@pytest.fixture(scope="module")
def nb201():
    return load_nb201()


def test_nb201_table(nb201):
    assert isinstance(nb201, Benchmark)
    assert len(nb201.archs()) == 15_625
    assert nb201.datasets == ("cifar10", "cifar100", "imagenet16_120")
    assert "test accuracy" in nb201.description.lower()
    assert "no validation" in nb201.description
    c10 = nb201.query_many(nb201.archs(), "cifar10")
    assert nb201.archs()[int(np.argmax(c10))] == BEST_C10
    assert nb201.query(BEST_C10, "cifar10") == pytest.approx(94.3733, abs=5e-5)
    assert nb201.query_many(nb201.archs(), "cifar100").max() == pytest.approx(73.5133, abs=5e-5)
    assert nb201.query_many(nb201.archs(), "imagenet16_120").max() == pytest.approx(47.3111, abs=5e-5)
    assert nb201.cost(BEST_C10, "cifar10") is None


def test_nb201_known_rows(nb201):
    first = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    assert nb201.query(first, "cifar10") == 85.86333333333334
    assert nb201.query(first, "cifar100") == 52.913333294677734
    assert nb201.query(first, "imagenet16_120") == 26.6333332739936
    second = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
    assert nb201.query(second, "cifar10") == 93.66000000000001
    with pytest.raises(GradnasError, match="expected the format"):
        nb201.query("|nor_conv_3x3~0|", "cifar10")


def test_nb201_query_and_query_many_agree_on_every_arch(nb201):  # timing: bench/queries.py
    archs = nb201.archs()
    assert len(archs) == 15625
    one_by_one = [nb201.query(arch, "cifar10") for arch in archs]
    assert nb201.query_many(archs, "cifar10").tolist() == one_by_one


def test_load_benchmark_default_is_nb201(nb201):
    bench = load_benchmark("nb201")
    assert bench.name == "nb201" and bench.archs() == nb201.archs()


def test_duplicate_columns_and_negative_accuracies_are_refused(tmp_path):
    dup = write(tmp_path, "arch,cifar10,cifar10\na,1,2\n")
    with pytest.raises(GradnasError, match=r"has duplicate columns: cifar10$"):
        TableBenchmark.from_file(dup)
    legit = TableBenchmark.from_file(write(tmp_path, "arch,cifar10,cifar10.1\na,1,2\n", "ok.csv"))
    assert legit.datasets == ("cifar10", "cifar10.1")  # a dataset called CIFAR-10.1 is fine
    negative = write(tmp_path, "arch,cifar10,cifar10_cost\na,91.5,10\nb,-1,10\nc,-2,10\n", "neg.csv")
    with pytest.raises(GradnasError, match=r"'neg' has 2 negative cifar10 accuracies, e.g. -1.0 for 'b'$"):
        TableBenchmark.from_file(negative)
