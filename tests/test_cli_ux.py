"""A newcomer's command line: fast --help, --version, --threads, rank --json and its hints, and
Ctrl-C that ends cleanly, keeps finished work and says how to resume."""

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import tomllib
import torch

import gradnas
from gradnas import cli, commands
from gradnas.cli import main, parser
from gradnas.evaluate.ensemble import parse_ensemble
from gradnas.search import ALGORITHMS

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|none~2|"


def test_help_and_parsing_import_no_torch():
    code = (
        "import sys\n"
        "from gradnas.cli import main, parser\n"
        "for argv in (['rank'], ['correlate'], ['search', '--algo', 'rea'], ['darts', '--out', 'x']):\n"
        "    parser().parse_args(argv)\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "main(['--help'])\n"
    )
    run = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr  # --help exits 0 after printing
    assert "usage: gradnas" in run.stdout and "start with: gradnas rank" in run.stdout


def test_version_matches_the_package_metadata(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert capsys.readouterr().out.strip() == f"gradnas {version}" == f"gradnas {gradnas.__version__}"


def test_lists_kept_beside_the_parser_match_the_code():
    assert cli.ALGORITHMS == tuple(ALGORITHMS)
    args = parser().parse_args(["rank"])
    commands._rank_defaults(args)
    assert commands._spec(args).dataset == "cifar10" and args.sort_by == "ensemble:default"
    assert args.proxies == list(parse_ensemble("ensemble:default"))
    for elsewhere in (["rank", "--space", "nb101"], ["rank", "--models", "models.py:small"]):
        args = parser().parse_args(elsewhere)
        commands._rank_defaults(args)
        assert args.sort_by is None and args.proxies == ["gradsign", "synflow", "naswot"]


def test_threads_default_to_one_and_follow_the_option(monkeypatch, capsys):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    try:
        assert main(["score", "--arch", ARCH, "--dataset", "digits", "--proxies", "params", "--quiet"]) == 0
        assert torch.get_num_threads() == 1
        assert (
            main(["score", "--arch", ARCH, "--dataset", "digits", "--proxies", "params", "--threads", "2"])
            == 0
        )
        assert torch.get_num_threads() == 2
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
        assert main(["score", "--arch", ARCH, "--dataset", "digits", "--proxies", "params", "--quiet"]) == 0
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
    err = capsys.readouterr().err
    assert f"scoring {ARCH} with 1 proxies (digits, batch 128, on cpu)" in err  # progress, unless --quiet
    assert err.count("scoring") == 1


def test_rank_says_higher_is_better_ends_with_the_next_command_and_prints_json(capsys):
    argv = [
        "rank",
        "--archs",
        "4",
        "--dataset",
        "digits",
        "--batch-size",
        "16",
        "--proxies",
        "gradsign,params",
    ]
    assert main([*argv, "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "top 4 of 4 nb201 archs by gradsign (digits, batch 16, seed 0); higher is better:"
    assert lines[-1].startswith("next: gradnas proxies")  # NB201 has no digits accuracy to correlate with
    cifar10 = [a if a != "digits" else "cifar10" for a in argv]
    assert main([*cifar10, "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(
        "next: gradnas correlate --space nb201 --dataset cifar10 --archs 4 --batch-size 16 "
        "--proxies gradsign,params --seed 0 --out results/nb201-cifar10"
    )
    assert main([*argv, "--quiet", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert [r["gradsign"] for r in rows] == sorted((r["gradsign"] for r in rows), reverse=True)
    assert all(r["params"] > 0 and r["params_reason"] is None for r in rows)


def test_rank_json_keeps_nan_reasons(capsys):
    # the 30 archs of seed 0 include a dead one (every per-sample gradient is zero)
    argv = ["rank", "--archs", "30", "--dataset", "digits", "--batch-size", "8", "--proxies", "gradalign_1"]
    assert main([*argv, "--quiet", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    dead = [r for r in rows if r["gradalign_1"] is None]
    assert dead and all(
        r["gradalign_1_reason"] == "a per-sample gradient is zero, so it has no direction" for r in dead
    )
    assert rows[-1] in dead  # NaN sorts last


def test_interrupted_rank_writes_the_finished_rows(tmp_path, monkeypatch, capsys):
    real = commands.api.score_archs

    def two_then_ctrl_c(*args, **kwargs):
        for i, row in enumerate(real(*args, **kwargs)):
            if i == 2:
                raise KeyboardInterrupt
            yield row

    monkeypatch.setattr(commands.api, "score_archs", two_then_ctrl_c)
    out = tmp_path / "ranked.csv"
    argv = ["rank", "--archs", "5", "--dataset", "digits", "--batch-size", "16", "--proxies", "params"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 130
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith(
        f"gradnas: interrupted: stopped after 2/5 architectures; wrote the 2 finished rows to {out}"
    )
    assert "gradnas correlate --out DIR" in captured.err
    frame = pd.read_csv(out)
    assert list(frame["rank"]) == [1, 2] and (frame["params"] > 0).all()


def test_interrupted_score_exits_130_with_one_line(monkeypatch, capsys):
    def ctrl_c(task):
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "run_task", ctrl_c)
    assert main(["score", "--arch", ARCH, "--dataset", "digits", "--quiet"]) == 130
    err = capsys.readouterr().err
    assert (
        err == "gradnas: interrupted: nothing to keep: one architecture is scored in one pass; run it again\n"
    )


def _stored_archs(store: Path) -> int:
    if not store.exists():
        return 0
    with sqlite3.connect(store) as conn:
        try:
            return conn.execute("SELECT COUNT(DISTINCT arch) FROM scores").fetchone()[0]
        except sqlite3.OperationalError:  # the table is being created
            return 0


def test_ctrl_c_on_correlate_keeps_the_scores_and_the_rerun_resumes(tmp_path):
    out = tmp_path / "study"
    argv = [
        sys.executable,
        "-m",
        "gradnas.cli",
        "correlate",
        "--dataset",
        "digits",
        "--target",
        "cifar10",
        "--batch-size",
        "8",
        "--archs",
        "12",
        "--proxies",
        "gradsign,gradalign_1",
        "--out",
        str(out),
    ]
    child = subprocess.Popen(
        [*argv, "--quiet"], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while _stored_archs(out / "scores.sqlite") < 2 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == 130, stderr
    assert "Traceback" not in stderr and stdout == ""
    kept = _stored_archs(out / "scores.sqlite")
    assert 2 <= kept < 12
    assert stderr.splitlines()[-1] == (
        f"gradnas: interrupted: {kept}/12 architectures stored in {out / 'scores.sqlite'}; "
        "run the same command again to resume"
    )
    rerun = subprocess.run(argv, env=ENV, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"resuming: {kept}/12 architectures stored in {out / 'scores.sqlite'}" in rerun.stderr
    frame = pd.read_csv(out / "scores.csv")
    assert len(frame) == 12 and {"gradsign_reason", "gradalign_1_reason"} <= set(frame.columns)
    assert (frame["gradalign_1"].isna() == frame["gradalign_1_reason"].notna()).all()


def test_search_shows_progress_while_it_computes_scores(tmp_path):
    from gradnas.run.tasks import ProbeSpec
    from gradnas.search import StoredScores

    spec = ProbeSpec("digits", 8, 0)
    scores = StoredScores("params", tmp_path / "s.sqlite", "nb201", spec, progress=True)
    values, _ = scores([ARCH])
    assert values[0] > 0 and scores._bar is not None and scores._bar.n == 1
    assert math.isfinite(values[0])
