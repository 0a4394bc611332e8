"""The command line end to end, in-process (same code path as the console script)."""

import json
import math

import pandas as pd
import pytest

from gradnas.cli import main
from gradnas.evaluate.ensemble import parse_ensemble
from gradnas.proxies import FORWARD_PROXIES, SEED_PROXIES

ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|none~2|"


def test_rank_on_digits_prints_the_table_and_writes_csv(tmp_path, capsys):
    out = tmp_path / "rank.csv"
    args = [
        "rank",
        "--archs",
        "6",
        "--dataset",
        "digits",
        "--proxies",
        "gradsign,gradalign_1",
        "--seed",
        "0",
        "--top",
        "3",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "top 3 of 6 nb201 archs by gradsign (digits, batch 128, seed 0)" in printed
    frame = pd.read_csv(out)
    assert list(frame["rank"]) == [1, 2, 3, 4, 5, 6] and len(set(frame["arch"])) == 6
    finite = frame["gradsign"].dropna()
    assert list(finite) == sorted(finite, reverse=True)  # best first
    assert main(args) == 0  # same seed, same table
    assert pd.read_csv(out).drop(columns="seconds").equals(frame.drop(columns="seconds"))


def test_rank_on_nb201_sorts_by_the_default_ensemble_and_scores_its_members(tmp_path, capsys):
    out = tmp_path / "rank.csv"
    args = ["rank", "--archs", "5", "--dataset", "cifar10", "--batch-size", "16", "--out", str(out)]
    args.append("--quiet")
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "nb201 archs by ensemble:default (cifar10, batch 16, seed 0); higher is better; " in printed
    # the header names the member the ensemble counts against its registered orientation
    assert "ensemble:default counts gradalign_2_sign_raw reversed (lower ranks higher):" in printed
    assert "--ensemble ensemble:default" in printed  # the next command measures the same ranker
    frame = pd.read_csv(out)
    members = parse_ensemble("ensemble:default")
    assert set(members) <= set(frame.columns) and "naswot" not in frame.columns
    assert frame["ensemble:default"].is_monotonic_decreasing
    # a named proxy list without --sort-by keeps ranking by its first proxy
    assert main([*args, "--proxies", "synflow"]) == 0
    assert "by synflow" in capsys.readouterr().out and "ensemble:default" not in pd.read_csv(out)


def test_score_json_on_digits_has_the_forward_readings_by_default(capsys):
    assert main(["score", "--arch", ARCH, "--dataset", "digits", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["arch"] == ARCH and list(result["scores"]) == list(FORWARD_PROXIES)
    assert all(isinstance(v, float) and math.isfinite(v) for v in result["scores"].values())
    assert result["scores"]["gradsign"] > 0 and result["reasons"] == {}


def test_score_on_real_cifar10_prints_each_proxy(capsys):
    assert (
        main(
            [
                "score",
                "--arch",
                ARCH,
                "--dataset",
                "cifar10",
                "--batch-size",
                "64",
                "--proxies",
                "gradsign,mgm,gradalign_2",
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(ARCH) and "cifar10, batch 64 uniform" in lines[0]
    values = {line.split()[0]: float(line.split()[1]) for line in lines[1:]}
    assert set(values) == {"gradsign", "mgm", "gradalign_2"} and values["gradsign"] > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["score", "--arch", ARCH, "--proxies", "gradsing"], "unknown proxy 'gradsing'; valid choices: "),
        (["score", "--arch", ARCH, "--dataset", "mnist"], "unknown dataset 'mnist'; valid choices: cifar10"),
        (["score", "--arch", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"], "unknown NB201 op 'conv'"),
        (
            ["score", "--arch", ARCH, "--space", "nb999"],
            "unknown search space 'nb999'; valid choices: nb101, nb201, nb301, nds_amoeba",
        ),
        (["score", "--arch", ARCH, "--threads", "0"], "threads must be an int >= 1, got 0"),
        (
            ["score", "--arch", ARCH, "--data-dir", "/nonexistent/gradnas"],
            "data directory '/nonexistent/gradnas' from --data-dir does not exist",
        ),
        (["rank", "--archs", "3", "--sort-by", "mgm", "--quiet"], "cannot sort by 'mgm'"),
    ],
)
def test_bad_input_is_a_one_line_error_with_exit_code_2(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("gradnas: error: ") and message in err and err.count("\n") == 1


def test_proxies_lists_the_registry(capsys):
    assert main(["proxies"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line for line in lines if line and not line.startswith(" ")}
    assert set(SEED_PROXIES) <= set(rows)
    assert (
        "higher is better  ρ C10 +0.815 / C100 +0.800" in rows["gradsign"] and "GradSign" in rows["gradsign"]
    )
    assert "ρ C10 -0.654 / C100 -0.647" in rows["gradalign_1"]  # ranks backwards, and says so
    assert "batch 128  labels" in rows["gradsign"]
    summaries = [line.strip() for line in lines if line.startswith("    ")]
    text = " ".join(summaries)  # whole summaries, wrapped but never cut
    assert "with s_i = sign(g_i) and s̄ their mean, i.e. (1/n_c²) Σ_ij ⟨s_i, s_j⟩, unnormalized." in text
    assert len(summaries) >= len(rows) - 1 and lines[-1].startswith("ρ: signed Spearman correlation")
    assert "no labels" in rows["synflow"] and "[synflow_saliency]" in rows["synflow"]


@pytest.mark.parametrize("space", ["nb101", "nds_enas", "text"])
def test_rank_samples_and_orders_every_kind_of_space(space, tmp_path):
    dataset = "synthetic-text" if space == "text" else "digits"
    out = tmp_path / "rank.csv"
    args = [
        "rank",
        "--space",
        space,
        "--archs",
        "4",
        "--dataset",
        dataset,
        "--batch-size",
        "16",
        "--proxies",
        "params",
        "--seed",
        "1",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(args) == 0
    frame = pd.read_csv(out)
    assert len(set(frame["arch"])) == 4
    assert list(frame["params"]) == sorted(frame["params"], reverse=True)
