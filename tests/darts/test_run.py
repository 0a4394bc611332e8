"""The resumable search loop `run_darts` and `gradnas darts`, on tiny digits runs (C=2, N=1, 8×8)."""

import json
import math

import pytest
import torch

from gradnas.cli import main
from gradnas.darts import NB201Supernet
from gradnas.darts.data import downsample, load_search_data
from gradnas.darts.run import DartsConfig, run_darts
from gradnas.errors import GradnasError
from gradnas.spaces.nb201 import NB201Arch

TINY = {"dataset": "digits", "size": 8, "samples": 40, "batch_size": 10, "C": 2, "N": 1, "epochs": 2}
KEYS = {
    "epoch", "lr", "train_loss", "val_loss", "arch", "accuracy", "arch_exclude_none", "accuracy_exclude_none",
    "accuracy_source", "mean_none", "mean_skip", "none_weight", "skip_weight", "alpha", "seconds",
    "warmup", "g1_norm", "g2_norm", "g2_g1_ratio", "g1_g2_cos", "eta",
}  # fmt: skip


class Interrupted(Exception):
    pass


def without_seconds(log):
    return [{k: v for k, v in entry.items() if k != "seconds"} for entry in log]


def test_downsample_averages_blocks_and_never_upsamples():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    # blocks [[0,1],[4,5]] -> 2.5, [[2,3],[6,7]] -> 4.5, [[8,9],[12,13]] -> 10.5, [[10,11],[14,15]] -> 12.5
    assert torch.equal(downsample(x, 2), torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))
    assert torch.equal(downsample(x, 1), torch.full((1, 1, 1, 1), 7.5))
    assert downsample(x, 4) is x and downsample(x, 16) is x
    # 3 does not divide 4: overlapping windows of 2 (adaptive pooling); the first is rows/cols 0-1
    assert downsample(x, 3)[0, 0, 0, 0] == 2.5 and downsample(x, 3).shape == (1, 1, 3, 3)


def test_search_data_is_a_seeded_split_into_equal_disjoint_halves():
    data = load_search_data("digits", None, 41, 8, seed=3)
    (x_train, y_train), (x_val, y_val) = data.train, data.val
    assert x_train.shape == x_val.shape == (20, 1, 8, 8) and y_train.shape == (20,)
    assert data.num_classes == 10 and data.in_channels == 1
    pixels = {tuple(row.tolist()) for row in torch.cat([x_train, x_val]).flatten(1)}
    assert len(pixels) == 40  # 40 different images (digits has no duplicates among these)
    again = load_search_data("digits", None, 41, 8, seed=3)
    assert torch.equal(again.val[0], x_val) and torch.equal(again.val[1], y_val)
    other = load_search_data("digits", None, 41, 8, seed=4)
    assert not torch.equal(other.train[0], x_train)


def test_tiny_run_logs_each_epoch_and_moves_alpha(tmp_path):
    rng_before = torch.get_rng_state()
    seen = []
    log = run_darts(DartsConfig(rule="amended", **TINY), tmp_path, progress=seen.append)
    assert torch.equal(torch.get_rng_state(), rng_before)  # the caller's RNG is untouched
    assert seen == log and [e["epoch"] for e in log] == [1, 2]
    assert all(set(entry) == KEYS for entry in log)
    # cosine schedule over 2 epochs: 0.025, then 0.001 + (0.025 - 0.001)(1 + cos(π/2))/2 = 0.013
    assert log[0]["lr"] == 0.025 and log[1]["lr"] == pytest.approx(0.013, abs=1e-15)
    torch.manual_seed(0)
    initial = NB201Supernet(2, 1, num_classes=10, in_channels=1).alpha.detach()
    alphas = [torch.tensor(e["alpha"]) for e in [{"alpha": initial.tolist()}, *log]]
    assert all((a - b).abs().max() > 1e-5 for a, b in zip(alphas, alphas[1:]))
    for entry, alpha in zip(log, alphas[1:]):
        weights = torch.softmax(alpha, dim=-1)
        assert (
            entry["none_weight"] == weights[:, 0].tolist() and entry["skip_weight"] == weights[:, 1].tolist()
        )
        assert entry["mean_none"] == pytest.approx(float(weights[:, 0].mean()))
        assert entry["arch"] == str(NB201Arch(tuple(alpha.argmax(dim=1).tolist())))
        assert entry["arch_exclude_none"] == str(NB201Arch(tuple((alpha[:, 1:].argmax(dim=1) + 1).tolist())))
        assert entry["accuracy"] is None and entry["accuracy_exclude_none"] is None
        assert "no digits column" in entry["accuracy_source"]
        assert entry["warmup"] is False and entry["eta"] == 0.1
        assert entry["g1_norm"] > 0 and entry["g2_norm"] > 0 and -1 <= entry["g1_g2_cos"] <= 1
        assert math.log(10) - 0.5 < entry["train_loss"] < math.log(10) + 0.5 and entry["val_loss"] > 0
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == log
    csv_rows = (tmp_path / "log.csv").read_text().splitlines()
    assert len(csv_rows) == 3 and "none_weight_5" in csv_rows[0] and "alpha" not in csv_rows[0]
    assert (tmp_path / "alphas.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "darts_config.json").read_text())["rule"] == "amended"


def test_resumed_run_equals_an_uninterrupted_one_bit_for_bit(tmp_path):
    config = DartsConfig(rule="amended", **TINY)
    straight = run_darts(config, tmp_path / "straight")

    first = []

    def stop_after_first(entry):
        first.append(entry)
        raise Interrupted

    with pytest.raises(Interrupted):
        run_darts(config, tmp_path / "resumed", progress=stop_after_first)
    assert [json.loads(line)["epoch"] for line in (tmp_path / "resumed" / "log.jsonl").open()] == [1]
    seen = []
    resumed = run_darts(config, tmp_path / "resumed", progress=seen.append)
    assert seen == resumed and resumed[0] == first[0]  # restored, seconds too: epoch 1 did not run again
    assert without_seconds(resumed) == without_seconds(straight)
    assert resumed[-1]["alpha"] == straight[-1]["alpha"]  # JSON floats: exact
    final = [torch.load(tmp_path / d / "checkpoint.pt", weights_only=True) for d in ("straight", "resumed")]
    for name, tensor in final[0]["model"].items():
        assert torch.equal(tensor, final[1]["model"][name]), name
    assert final[0]["a_optimizer"]["state"][0]["exp_avg"].equal(
        final[1]["a_optimizer"]["state"][0]["exp_avg"]
    )
    # a finished run re-run returns its log without training (the stored epoch times come back)
    assert run_darts(config, tmp_path / "straight") == straight


def test_a_run_made_before_the_later_options_still_resumes(tmp_path):
    from gradnas.darts.run import LATER_OPTIONS

    config = DartsConfig(rule="first", **TINY)
    assert not set(LATER_OPTIONS) & set(config.identity())  # unused, so absent as in older folders
    log = run_darts(config, tmp_path / "run")
    assert run_darts(config, tmp_path / "run") == log
    used = DartsConfig(rule="first", warmup_epochs=1, **TINY)
    assert used.identity()["warmup_epochs"] == 1
    with pytest.raises(GradnasError, match="another configuration"):
        run_darts(used, tmp_path / "run")


def test_another_config_in_the_same_directory_is_an_error(tmp_path):
    run_darts(DartsConfig(**{**TINY, "epochs": 1}), tmp_path)
    with pytest.raises(GradnasError, match=r"another configuration \(eta 0.1 there, 0.2 now\)"):
        run_darts(DartsConfig(**{**TINY, "epochs": 1, "eta": 0.2}), tmp_path)
    with pytest.raises(GradnasError, match=r"epochs 1 there, 2 now; rule 'amended' there, 'first' now"):
        run_darts(DartsConfig(**{**TINY, "rule": "first"}), tmp_path)
    (tmp_path / "darts_config.json").unlink()  # the checkpoint knows its config too
    with pytest.raises(GradnasError, match=r"checkpoint.pt belongs to .* \(eta 0.1 there, 0.2 now\)"):
        run_darts(DartsConfig(**{**TINY, "epochs": 1, "eta": 0.2}), tmp_path)
    assert not (tmp_path / "darts_config.json").exists()
    # where the data lives is not part of the run's identity
    assert len(run_darts(DartsConfig(**{**TINY, "epochs": 1, "data_dir": "elsewhere"}), tmp_path)) == 1


@pytest.mark.parametrize(
    "change, message",
    [
        ({"rule": "third"}, "unknown architecture gradient rule 'third'; valid choices: amended, amended_fd"),
        ({"eta": -0.1}, "eta must be a positive number, got -0.1"),
        (
            {"dataset": "mnist"},
            "unknown differentiable search dataset 'mnist'; valid choices: cifar10, digits",
        ),
        ({"space": "nb101"}, "unknown differentiable search space 'nb101'; valid choices: darts, nb201"),
        ({"warmup_epochs": 2}, r"warmup_epochs \(2\) must be fewer than epochs \(2\)"),
        ({"eta_ratio": 0}, "eta_ratio must be a positive number, got 0"),
        ({"rule": "first", "eta_ratio": 1.0}, "eta_ratio applies to the rules amended, amended_fd only"),
        ({"beta_decay": -1.0}, "beta_decay must be a non-negative number, got -1.0"),
        ({"augment": 1}, "augment must be True or False, got 1"),
        ({"batch_size": 1}, "batch_size must be an int >= 2, got 1"),
        ({"lr_min": 0.1}, r"lr_min \(0.1\) must not exceed lr \(0.025\)"),
        ({"arch_betas": (0.5, 1.0)}, "arch_betas must be two numbers in"),
        ({"weight_decay": float("nan")}, "weight_decay must be a non-negative number, got nan"),
    ],
)
def test_bad_configs_are_refused(change, message):
    with pytest.raises(GradnasError, match=message):
        DartsConfig(**{**TINY, **change})


@pytest.mark.parametrize(
    "change, message",
    [
        ({"samples": 1800}, "digits has 1797 images, fewer than the 1800"),
        ({"batch_size": 21}, "halves of 20"),
    ],
)
def test_data_too_small_for_the_run_is_an_error_before_anything_is_written(tmp_path, change, message):
    with pytest.raises(GradnasError, match=message):
        run_darts(DartsConfig(**{**TINY, **change}), tmp_path / "out")
    assert not (tmp_path / "out").exists()


CLI_TINY = ["darts", "--dataset", "digits", "--size", "8", "--samples", "40", "--batch-size", "10",
            "--C", "2", "--epochs", "2", "--rule", "first"]  # fmt: skip


def test_cli_runs_a_tiny_search_and_a_rerun_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*CLI_TINY, "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split() == ["epoch", "train", "loss", "val", "loss", "none", "skip", "accuracy", "arch"]
    log = [json.loads(line) for line in (out / "log.jsonl").open()]
    for line, entry in zip(printed[1:3], log):
        assert line.split() == [
            str(entry["epoch"]), f"{entry['train_loss']:.4f}", f"{entry['val_loss']:.4f}",
            f"{entry['mean_none']:.3f}", f"{entry['mean_skip']:.3f}", "-", entry["arch"],
        ]  # fmt: skip
    assert printed[3].startswith("accuracy: none, as NB201 has no digits column")
    assert main([*CLI_TINY, "--out", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[:3] == printed[:3]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--rule", "third"], "unknown architecture gradient rule 'third'"),
        (["--eta", "-0.1"], "eta must be a positive number, got -0.1"),
        (["--dataset", "mnist"], "unknown differentiable search dataset 'mnist'"),
    ],
)
def test_cli_bad_input_is_a_one_line_error_with_exit_code_2(tmp_path, args, message, capsys):
    assert main([*CLI_TINY, *args, "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("gradnas: error: ") and message in captured.err
    assert captured.err.count("\n") == 1 and captured.out == ""
    assert not (tmp_path / "out").exists()


def test_cli_quiet_prints_no_epoch_table(tmp_path, capsys):
    assert main([*CLI_TINY, "--out", str(tmp_path / "run"), "--quiet"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("accuracy: none, as NB201 has no digits column") and len(printed) == 2


def test_cli_eta_is_refused_for_a_rule_that_has_no_amending_term(tmp_path, capsys):
    assert main([*CLI_TINY, "--eta", "0.5", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == "gradnas: error: --eta applies to the rules amended, amended_fd only, not 'first'\n"


@pytest.mark.parametrize("settings", [{"rule": "amended", "eta": 1e308}, {"lr": 1e30}])
def test_a_diverging_search_stops_with_the_epoch_and_keeps_the_epochs_before_it(tmp_path, settings):
    with pytest.raises(GradnasError, match="diverged in epoch 1: its loss or its architecture weights α"):
        run_darts(DartsConfig(**{**TINY, **settings}), tmp_path)
    assert not (tmp_path / "checkpoint.pt").exists()
