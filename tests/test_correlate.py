"""Correlation studies end to end: store-backed, resumable after `kill -9`, reports rebuilt."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gradnas.cli import main
from gradnas.spaces import get_space


@pytest.fixture
def table(tmp_path):
    """A small benchmark table of 40 NB201 archs with made-up accuracies (CSV, like any export)."""
    space = get_space("nb201")
    archs = [str(a) for a in space.sample_many(40, np.random.default_rng(7))]
    rng = np.random.default_rng(1)
    path = tmp_path / "bench.csv"
    pd.DataFrame({"arch": archs, "digits": rng.uniform(10, 95, 40)}).to_csv(path, index=False)
    return path


def correlate_args(table, out, archs="all", proxies="gradsign,mgm"):
    return ["correlate", "--benchmark", str(table), "--dataset", "digits", "--archs", archs,
            "--proxies", proxies, "--batch-size", "64", "--out", str(out), "--workers", "1", "--quiet"]


def stored_rows(out) -> list[tuple]:
    with sqlite3.connect(out / "scores.sqlite") as conn:
        try:
            query = "SELECT arch, proxy, value, created FROM scores ORDER BY arch, proxy"
            return conn.execute(query).fetchall()
        except sqlite3.OperationalError:  # the file exists, its table not yet
            return []


def test_correlate_writes_tables_and_plots_and_report_rebuilds_them(table, tmp_path, capsys):
    out = tmp_path / "study"
    assert main([*correlate_args(table, out, archs="12"), "--ensemble", "ensemble:gradsign+mgm"]) == 0
    printed = capsys.readouterr().out
    assert "| gradsign |" in printed and "| mgm |" in printed and "| ensemble:gradsign+mgm |" in printed
    scores = pd.read_csv(out / "scores.csv")
    assert len(scores) == 12 and set(scores.columns) >= {"arch", "gradsign", "mgm", "accuracy"}
    pct = scores[["gradsign", "mgm"]].rank(pct=True).mean(axis=1)  # mean rank percentile, by pandas
    assert np.allclose(scores["ensemble:gradsign+mgm"], pct)
    truth = pd.read_csv(table).set_index("arch")["digits"]
    assert np.allclose(scores["accuracy"], truth.loc[scores["arch"]].to_numpy())
    for name in ("scatter.png", "correlations.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    first = stored_rows(out)
    assert len(first) == 24
    (out / "report.md").unlink()
    assert main(["report", str(out)]) == 0  # from the store alone
    assert (out / "report.md").is_file()
    assert main(correlate_args(table, out, archs="12")) == 0  # nothing left to score
    assert stored_rows(out) == first


def test_a_killed_run_resumes_and_loses_no_finished_score(table, tmp_path):
    out = tmp_path / "study"
    cmd = [sys.executable, "-m", "gradnas.cli", *correlate_args(table, out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while proc.poll() is None:  # wait until some, not all, architectures are stored
        if (out / "scores.sqlite").exists() and 4 <= len(stored_rows(out)) // 2 < 40:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = stored_rows(out)
    assert 8 <= len(before) < 80 and len(before) % 2 == 0  # whole architectures only
    assert main(correlate_args(table, out)) == 0
    after = stored_rows(out)
    assert len(after) == 80 and len({(a, p) for a, p, _, _ in after}) == 80
    kept = {(a, p): (v, c) for a, p, v, c in after}
    assert all(kept[(a, p)] == (v, c) for a, p, v, c in before)  # finished scores were not redone


def test_report_on_a_directory_without_a_study_is_a_clear_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "holds no study" in capsys.readouterr().err


@pytest.mark.parametrize("metric, rho", [("val_accuracy", 1.0), ("test_accuracy", -1.0)])
def test_nb101_study_on_the_npz_fixture_compares_with_the_chosen_metric(
    nb101_tiny, tmp_path, capsys, metric, rho
):
    # The fixture's val_accuracy rises with the reference network's size and test_accuracy falls.
    out = tmp_path / metric
    args = ["correlate", "--space", "nb101", "--benchmark", str(nb101_tiny), "--metric", metric,
            "--dataset", "digits", "--target", "cifar10", "--proxies", "params", "--archs", "all",
            "--batch-size", "8", "--out", str(out), "--workers", "1", "--quiet"]
    assert main(args) == 0
    summary = pd.read_csv(out / "summary.csv").set_index("proxy")
    assert summary.loc["params", "spearman"] == pytest.approx(rho)
    assert summary.loc["params", "n_used"] == 12
    assert f"nb101_tiny.npz cifar10 {metric}" in capsys.readouterr().out


def test_an_unknown_metric_is_refused_before_scoring(nb101_tiny, tmp_path, capsys):
    args = ["correlate", "--space", "nb101", "--benchmark", str(nb101_tiny), "--metric", "top1",
            "--dataset", "digits", "--target", "cifar10", "--proxies", "params", "--out", str(tmp_path)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "unknown metric 'top1'" in err and "val_accuracy" in err
    assert not (tmp_path / "scores.sqlite").exists()


def test_archs_draws_are_nested_for_a_seed_and_the_old_draw_is_one_option_away():
    from gradnas.correlate import Study, study_archs

    class Pool:
        def archs(self):
            return [f"a{i}" for i in range(100)]

    small, large = (study_archs(Study(("gradsign",), archs=n), Pool()) for n in (5, 50))
    assert large[:5] == small and len(set(large)) == 50
    old = study_archs(Study(("gradsign",), archs=5, draw="choice"), Pool())
    assert old == [f"a{i}" for i in np.random.default_rng(0).choice(100, 5, replace=False)]
    every = Study(("gradsign",), archs="all")  # no draw: a study saved before draws existed resumes
    saved = {k: v for k, v in every.to_json().items() if k != "draw"}
    assert Study.from_json(saved, Path("study.json")) == every
    assert every == Study(("gradsign",), archs="all", draw="choice")
    assert study_archs(every, Pool()) == Pool().archs()


def test_runs_sharing_a_study_folder_merge_proxies_and_another_probe_is_refused(table, tmp_path, capsys):
    out = tmp_path / "study"
    assert main(correlate_args(table, out, archs="4", proxies="gradsign")) == 0
    assert main(correlate_args(table, out, archs="6", proxies="mgm")) == 0  # say, a concurrent run
    err = capsys.readouterr().err
    assert f"{out / 'study.json'} also covers gradsign of other runs" in err
    assert list(pd.read_csv(out / "scores.csv").columns[:2]) == ["arch", "mgm"]  # its own report
    saved = json.loads((out / "study.json").read_text())
    assert saved["proxies"] == ["gradsign", "mgm"] and saved["archs"] == 6 and saved["draw"] == "nested"
    assert main(["report", str(out)]) == 2  # gradsign is stored for 4 of the 6 archs only
    assert "2 scores of this study are not stored yet" in capsys.readouterr().err
    assert main(correlate_args(table, out, archs="6", proxies="gradsign")) == 0
    assert main(["report", str(out)]) == 0
    assert {"gradsign", "mgm"} <= set(pd.read_csv(out / "scores.csv").columns)
    before, _ = (out / "study.json").read_text(), capsys.readouterr()
    assert main([*correlate_args(table, out, archs="6", proxies="mgm"), "--batch-size", "32"]) == 2
    err = capsys.readouterr().err.strip()
    assert "belongs to a run with another configuration (probe.batch_size 64 there, 32 now)" in err
    assert len(err.splitlines()) == 1 and (out / "study.json").read_text() == before


def test_a_study_saved_before_draws_keeps_its_archs_and_a_broken_one_is_one_line(table, tmp_path, capsys):
    out = tmp_path / "study"
    assert main(correlate_args(table, out, archs="3", proxies="gradsign")) == 0
    saved = json.loads((out / "study.json").read_text())
    del saved["draw"]
    (out / "study.json").write_text(json.dumps(saved))
    from gradnas.correlate import Study

    assert Study.load(out).draw == "choice"
    assert main(correlate_args(table, out, archs="3", proxies="gradsign")) == 2
    assert "draw 'choice' there, 'nested' now" in capsys.readouterr().err
    assert main([*correlate_args(table, out, archs="3", proxies="gradsign"), "--arch-draw", "choice"]) == 0
    for broken in ('{"proxies": ["gradsign"', '{"proxies": 3}', "[1, 2]"):
        (out / "study.json").write_text(broken)
        assert main(["report", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "study.json is not a" in err, err


def test_missing_ground_truth_is_refused_before_scoring_naming_the_rows(table, tmp_path, capsys):
    frame = pd.read_csv(table)
    frame.loc[[3, 5], "digits"] = np.nan
    frame.to_csv(table, index=False)
    out = tmp_path / "study"
    assert main(correlate_args(table, out, proxies="gradsign")) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(
        f"has no digits test_accuracy (NaN) for 2 of the 40 architectures: "
        f"{frame['arch'][3]!r}, {frame['arch'][5]!r}"
    ), err
    assert not (out / "scores.sqlite").exists()


def test_a_table_can_be_labelled_as_validation_accuracy(table, tmp_path, capsys):
    out = tmp_path / "study"
    args = correlate_args(table, out, archs="3", proxies="params")
    assert main([*args, "--metric", "val_accuracy"]) == 0
    assert f"vs {table} digits val_accuracy" in (out / "report.md").read_text().splitlines()[0]
    typo = [*correlate_args(table, tmp_path / "typo", archs="3", proxies="params"), "--metric", "val_acc"]
    assert main(typo) == 2
    err = capsys.readouterr().err
    assert "unknown metric of a table 'val_acc'; valid choices: test_accuracy, val_accuracy" in err


def test_an_ensemble_brings_its_members_and_alone_only_them(table, tmp_path, capsys):
    out = tmp_path / "alone"
    args = ["correlate", "--benchmark", str(table), "--dataset", "digits", "--archs", "6", "--quiet"]
    assert main([*args, "--ensemble", "ensemble:params+mgm", "--out", str(out)]) == 0
    assert json.loads((out / "study.json").read_text())["proxies"] == ["params", "mgm"]
    both = tmp_path / "both"
    assert main([*args, "--proxies", "flops", "--ensemble", "ensemble:params+mgm", "--out", str(both)]) == 0
    assert json.loads((both / "study.json").read_text())["proxies"] == ["flops", "params", "mgm"]
