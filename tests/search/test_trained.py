"""Searches that evaluate by real training: the measured seconds are charged, failures recorded."""

import math

import numpy as np
import pytest

from gradnas.cli import main
from gradnas.errors import GradnasError
from gradnas.search import Observation, SearchConfig, Training, parse_evaluate, search_once, trained
from gradnas.search.objective import Objective
from gradnas.spaces import get_space
from gradnas.training import TrainJob, TrainStore, get_recipe
from gradnas.training.loop import STORE_FILE


def by_name_length(archs):
    """A stand-in proxy: deterministic, no probe."""
    return np.array([float(len(a)) for a in archs]), 0.0


def test_knas_with_training_charges_the_measured_seconds_and_reports_the_test_accuracy(tmp_path):
    config = SearchConfig("knas", dataset="digits", budget=None, max_evals=10, assist="x", runs=1,
                          options={"m": 4, "k": 2}, evaluate="train:1:quick")  # fmt: skip
    training = Training("nb201", tmp_path)
    history, pools = search_once(
        get_space("nb201"), config, trained(training, "digits", 1, "quick"), by_name_length, run=0
    )
    assert pools == [4] and len(history) == 2
    store = TrainStore(tmp_path / STORE_FILE)
    clock = 0.0
    for record in history:
        key = TrainJob("nb201", record.arch, "digits", get_recipe("quick", epochs=1)).key()
        result = store.get(key)
        clock += result.seconds
        assert result.seconds == pytest.approx(sum(e["seconds"] for e in result.log)) and result.seconds > 0
        assert record.clock == pytest.approx(clock)  # the clock moved by exactly the measured seconds
        assert (record.accuracy, record.test_accuracy) == (result.val_accuracy, result.test_accuracy)
    pick = Objective.pick_from(history)
    assert pick.accuracy == max(r.accuracy for r in history) and pick.reported == pick.test_accuracy


def test_a_failed_training_is_recorded_and_the_search_goes_on():
    def observe(arch, fidelity):
        if arch.startswith("|none~0|"):  # as a diverged training reports itself
            return Observation(math.nan, 2.0, math.nan, "the training loss became nan at epoch 1, step 2")
        return Observation(50.0 + len(arch) % 7, 3.0, 40.0)

    config = SearchConfig("rs", dataset="cifar10", budget=None, max_evals=60, runs=1)
    history, _ = search_once(get_space("nb201"), config, observe, None, run=0)
    failed = [r for r in history if r.reason]
    assert len(history) == 60 and failed  # the search kept going after each failure
    assert all(math.isnan(r.accuracy) and r.arch.startswith("|none~0|") for r in failed)
    assert history[-1].clock == pytest.approx(2.0 * len(failed) + 3.0 * (60 - len(failed)))
    assert not Objective.pick_from(history).reason  # a failure is never the answer


def test_evaluate_specs():
    assert parse_evaluate("table") is None
    assert parse_evaluate("train:3") == (3, "quick") and parse_evaluate("train:2:nb201") == (2, "nb201")
    for bad in ("train", "train:0", "train:x:quick", "lookup"):
        with pytest.raises(GradnasError, match="use 'table' or 'train:EPOCHS"):
            parse_evaluate(bad)
    with pytest.raises(GradnasError, match="unknown recipe 'slow'"):
        parse_evaluate("train:3:slow")


def test_search_cli_trains_and_summarises(tmp_path, capsys):
    out = tmp_path / "search"
    args = ["search", "--algo", "knas", "--assist", "params", "--m", "3", "--k", "1", "--dataset",
            "digits", "--batch-size", "8", "--evaluate", "train:1", "--budget", "none", "--max-evals", "5",
            "--runs", "1", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "KNAS[params] k=1 m=3 train:1" in printed and "measured" in printed
    assert (out / "train" / STORE_FILE).exists()
    assert main(["train:1:slow" if a == "train:1" else a for a in args]) == 2
    assert "unknown recipe 'slow'" in capsys.readouterr().err
