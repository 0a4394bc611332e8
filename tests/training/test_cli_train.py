"""`gradnas train` end to end, its one-line errors, and the options listed without importing torch."""

import json
from pathlib import Path

import pytest

from gradnas import cli
from gradnas.cli import main
from gradnas.training import DATASETS, OVERRIDABLE, RECIPES, TrainStore, make_job, run_training
from gradnas.training.loop import STORE_FILE

NB201 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
MODELS = Path(__file__).parent / "tiny_models.py"


def test_train_nb201_on_digits_end_to_end_then_reuse(tmp_path, capsys):
    args = ["train", "--space", "nb201", "--arch", NB201, "--dataset", "digits", "--epochs", "1",
            "--out", str(tmp_path), "--quiet"]  # fmt: skip
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "epoch   1  lr 0.1  train loss" in first and "s of training; stored in" in first
    (log,) = [json.loads(line) for line in next(tmp_path.glob("runs/*/log.jsonl")).read_text().splitlines()]
    assert set(log) == {"epoch", "lr", "train_loss", "val_accuracy", "test_accuracy", "seconds"}
    assert next(tmp_path.glob("runs/*/log.csv")).read_text().startswith("epoch,lr,train_loss,")
    assert f"validation accuracy {log['val_accuracy']:.2f}%" in first
    assert main([*args, "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["val_accuracy"] == log["val_accuracy"] and again["key"]["arch"] == NB201
    assert main(args) == 0 and "reused from the store" in capsys.readouterr().out


def test_train_says_which_epochs_a_reused_search_training_did_not_evaluate(tmp_path, capsys):
    run_training(make_job(NB201, dataset="digits", epochs=2), tmp_path, every_epoch=False)
    args = ["train", "--space", "nb201", "--arch", NB201, "--dataset", "digits", "--epochs", "2",
            "--out", str(tmp_path), "--quiet"]  # fmt: skip
    assert main(args) == 0
    first, last = capsys.readouterr().out.splitlines()[:2]
    assert "val not evaluated  test not evaluated" in first
    assert "val not evaluated" not in last and "%  test " in last


def test_train_a_users_model_with_recipe_overrides(tmp_path, capsys):
    args = ["train", "--models", f"{MODELS}:noisy", "--dataset", "digits", "--recipe", "darts",
            "--epochs", "1", "--batch-size", "32", "--cutout", "2", "--no-flip", "--out", str(tmp_path),
            "--quiet"]  # fmt: skip
    assert main(args) == 0
    capsys.readouterr()
    conn = TrainStore(tmp_path / STORE_FILE)._connection()
    ((space, arch, recipe),) = conn.execute("SELECT space, arch, recipe FROM trainings").fetchall()
    assert space == "model" and arch.startswith(f"{MODELS}:noisy@")  # keyed by the file's content too
    recipe = json.loads(recipe)
    assert (recipe["name"], recipe["batch_size"], recipe["cutout"], recipe["flip"], recipe["lr"]) == (
        "darts", 32, 2, False, 0.025
    )  # fmt: skip


@pytest.mark.parametrize(
    "extra, says",
    [
        (["--recipe", "slow"], "invalid choice: 'slow'"),
        (["--dataset", "mnist"], "invalid choice: 'mnist'"),
        (["--epochs", "0"], "expected an integer of at least 1, got 0"),
        (["--batch-size", "5000"], "batch size 5000 is larger than the 719 training samples of digits"),
        (["--arch", "|conv~0|"], "NB201 arch string"),
        (["--models", f"{MODELS}:noisy"], "give --arch (with --space) or --models"),
        (["--val-fraction", "1.5"], "expected a number between 0 and 1"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, extra, says):
    args = ["train", "--arch", NB201, "--dataset", "digits", "--out", str(tmp_path), "--quiet"]
    if "--arch" in extra:
        args[2] = extra[1]
        extra = []
    try:
        code = main([*args, *extra])
    except SystemExit as stop:  # argparse's own checks
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err
    assert says in err and err.strip().splitlines()[-1].startswith(
        ("gradnas: error:", "gradnas train: error:")
    )


def test_unwritable_out_exits_2(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    args = ["train", "--arch", NB201, "--dataset", "digits", "--out", str(tmp_path / "file"), "--quiet"]
    assert main(args) == 2
    assert "is a file, not a directory" in capsys.readouterr().err


def test_the_cli_lists_what_the_train_package_has():
    assert set(cli.RECIPES) == set(RECIPES) and set(cli.TRAIN_DATASETS) == set(DATASETS)
    options = {a.dest for a in cli.parser()._subparsers._group_actions[0].choices["train"]._actions}
    assert set(OVERRIDABLE) <= options
