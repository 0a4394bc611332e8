"""One set of options shared by the commands (same names, meanings and defaults, the defaults read
from the dataclasses that define them), and `--device` through every command on this CPU."""

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

from gradnas import commands
from gradnas.cli import main, parser
from gradnas.darts.run import DartsConfig, config_from
from gradnas.devices import DEFAULT_DEVICE
from gradnas.run.tasks import ProbeSpec
from gradnas.spaces import get_space

ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|none~2|"
COMMANDS = ("score", "rank", "correlate", "search", "darts")
SHARED = ("device", "threads", "data_dir", "quiet")
PROBE = ("space", "dataset", "batch_size", "per_class", "seed", "dtype")
DARTS_TINY = ["darts", "--dataset", "digits", "--size", "8", "--samples", "40", "--batch-size", "10",
              "--C", "2", "--epochs", "1", "--rule", "first", "--quiet"]  # fmt: skip


def options(command: str) -> dict[str, str]:
    """dest -> the default that `command --help` shows, for each of its options."""
    sub = next(a for a in parser()._actions if a.dest == "command").choices[command]
    return {a.dest: str(getattr(a, "field_default", a.default)) for a in sub._actions if a.option_strings}


def test_every_command_takes_the_shared_options_with_one_default():
    shown = {c: options(c) for c in COMMANDS}
    for dest in SHARED:
        assert len({shown[c][dest] for c in COMMANDS}) == 1, dest
    assert shown["score"]["device"] == DEFAULT_DEVICE
    for dest in PROBE:
        assert len({shown[c][dest] for c in ("score", "rank", "correlate", "search")}) == 1, dest
    for dest in ("dataset", "batch_size", "per_class", "seed", "dtype"):
        assert shown["search"][dest] == str(getattr(ProbeSpec, dest))
    assert shown["rank"]["workers"] == shown["correlate"]["workers"] == "1"


def test_help_prints_the_dataclass_defaults(capsys):
    for argv, text in (
        (["rank", "--help"], "probe batch size (default: 128)"),
        (["darts", "--help"], "0.1)"),
    ):
        with pytest.raises(SystemExit):
            main(argv)
        printed = " ".join(capsys.readouterr().out.split())
        assert text in printed and "--device DEVICE" in printed and "(default: auto)" in printed


def test_darts_defaults_are_the_dataclass_defaults():
    shown = options("darts")
    args = parser().parse_args(["darts", "--out", "x"])
    assert config_from(args) == DartsConfig()
    for dest in ("rule", "eta", "epochs", "seed", "dataset", "samples", "size", "batch_size", "C", "N"):
        assert shown[dest] == str(getattr(DartsConfig, dest)), dest
    assert config_from(parser().parse_args(["darts", "--out", "x", "--eta", "0.5"])).eta == 0.5


def test_probe_options_not_given_keep_the_probe_spec_defaults():
    assert commands._spec(parser().parse_args(["search", "--algo", "rs"])) == ProbeSpec()
    given = parser().parse_args(["rank", "--seed", "4", "--dtype", "float64", "--per-class", "2"])
    assert commands._spec(given) == ProbeSpec(seed=4, dtype="float64", per_class=2)


def stored_probes(path) -> set[tuple]:
    with sqlite3.connect(path) as conn:
        return set(conn.execute("SELECT proxy, batch_size, seed, probe FROM scores").fetchall())


SEARCH = ["search", "--algo", "select", "--n", "3", "--assist", "params", "--runs", "1",
          "--batch-size", "8", "--device", "cpu", "--quiet"]  # fmt: skip


def test_search_probes_with_seed_and_dtype_and_the_deprecated_probe_seed(tmp_path):
    assert main([*SEARCH, "--seed", "3", "--dtype", "float64", "--out", str(tmp_path / "a")]) == 0
    assert stored_probes(tmp_path / "a" / "scores.sqlite") == {("params", 8, 3, "uniform-float64")}
    with pytest.warns(FutureWarning, match="--probe-seed is deprecated: --seed now seeds the probe too"):
        assert main([*SEARCH, "--seed", "3", "--probe-seed", "5", "--out", str(tmp_path / "b")]) == 0
    assert stored_probes(tmp_path / "b" / "scores.sqlite") == {("params", 8, 5, "uniform")}


def twice(argv: list[str], capsys) -> list:
    """The JSON printed by `argv` by default and with --device cpu."""
    printed = []
    for device in ([], ["--device", "cpu"]):
        assert main([*argv, *device, "--json", "--quiet"]) == 0
        printed.append(json.loads(capsys.readouterr().out))
    return printed


def test_score_gives_the_same_scores_on_cpu_as_by_default(capsys):
    argv = [
        "score",
        "--arch",
        ARCH,
        "--dataset",
        "digits",
        "--batch-size",
        "8",
        "--proxies",
        "gradsign,naswot",
    ]
    default, cpu = twice(argv, capsys)
    assert default["scores"] == cpu["scores"] and all(np.isfinite(list(cpu["scores"].values())))


def test_rank_gives_the_same_scores_on_cpu_as_by_default(capsys):
    argv = [
        "rank",
        "--archs",
        "2",
        "--dataset",
        "digits",
        "--batch-size",
        "8",
        "--proxies",
        "gradsign,params",
    ]
    default, cpu = (
        [{k: v for k, v in row.items() if k != "seconds"} for row in rows] for rows in twice(argv, capsys)
    )
    assert default == cpu and all(np.isfinite(row["gradsign"]) for row in cpu)


def test_correlate_on_cpu_equals_the_default(tmp_path):
    archs = [str(a) for a in get_space("nb201").sample_many(3, np.random.default_rng(7))]
    table = tmp_path / "bench.csv"
    pd.DataFrame({"arch": archs, "digits": [30.0, 60.0, 90.0]}).to_csv(table, index=False)
    base = ["correlate", "--benchmark", str(table), "--dataset", "digits", "--archs", "all",
            "--proxies", "gradsign", "--batch-size", "8", "--quiet"]  # fmt: skip
    assert main([*base, "--out", str(tmp_path / "default")]) == 0
    assert main([*base, "--device", "cpu", "--workers", "1", "--out", str(tmp_path / "cpu")]) == 0
    scores = [pd.read_csv(tmp_path / d / "scores.csv").sort_values("arch") for d in ("default", "cpu")]
    assert scores[0]["gradsign"].tolist() == scores[1]["gradsign"].tolist()
    assert len(scores[0]) == 3 and scores[0]["gradsign"].notna().all()


def test_darts_on_cpu_equals_the_default(tmp_path):
    assert main([*DARTS_TINY, "--out", str(tmp_path / "default")]) == 0
    assert main([*DARTS_TINY, "--device", "cpu", "--out", str(tmp_path / "cpu")]) == 0
    logs = [json.loads((tmp_path / d / "log.jsonl").read_text()) for d in ("default", "cpu")]
    assert logs[0]["alpha"] == logs[1]["alpha"] and logs[0]["train_loss"] == logs[1]["train_loss"]


INVOCATIONS = {
    "score": ["score", "--arch", ARCH],
    "rank": ["rank", "--archs", "2"],
    "correlate": ["correlate", "--archs", "2"],
    "search": ["search", "--algo", "rs"],
    "darts": ["darts"],
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("cuda", "device 'cuda' is not available here; available: cpu"),
        ("cuda:7", "device 'cuda:7' is not available here; available: cpu"),
        ("tpu", "unknown device 'tpu'; valid forms: auto, cpu, cuda, cuda:N, mps"),
        ("cuda:x", "unknown device 'cuda:x'; valid forms: auto, cpu, cuda, cuda:N, mps"),
    ],
)
def test_an_unavailable_device_is_one_line_and_exit_2(
    command, device, message, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    out = [] if command == "score" else ["--out", str(tmp_path / "out")]
    assert main([*INVOCATIONS[command], *out, "--device", device, "--quiet"]) == 2
    assert capsys.readouterr().err == f"gradnas: error: {message}\n"
    assert not (tmp_path / "out").exists()
