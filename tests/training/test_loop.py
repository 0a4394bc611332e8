"""The training loop: bit-exact resume, schedule, reuse from the store, NaN losses, bad input."""

import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from gradnas.errors import GradnasError
from gradnas.training import MODEL_SPACE, TrainJob, TrainStore, get_recipe, learning_rate, run_training
from gradnas.training.data import load_train_data
from gradnas.training.loop import STORE_FILE, digest, steps_per_epoch

MODELS = Path(__file__).parent / "tiny_models.py"
RECIPE = get_recipe("quick", epochs=2, batch_size=64, crop_padding=1, cutout=2)


class Killed(Exception):
    pass


def job(name="noisy", recipe=RECIPE, **options) -> TrainJob:
    return TrainJob(MODEL_SPACE, f"{MODELS}:{name}", "digits", recipe, seed=3, **options)


def without_seconds(log):
    return [{k: v for k, v in entry.items() if k != "seconds"} for entry in log]


def final_weights(out: Path, key) -> dict:
    return torch.load(out / "runs" / digest(key) / "checkpoint.pt", weights_only=True)["model"]


def test_a_resumed_training_is_bit_identical_to_an_uninterrupted_one(tmp_path):
    whole, whole_reused = run_training(job(), tmp_path / "whole")

    def kill_after_first(entry):
        if entry["epoch"] == 1:
            raise Killed

    with pytest.raises(Killed):
        run_training(job(), tmp_path / "killed", on_epoch=kill_after_first)
    assert (
        not (tmp_path / "killed" / STORE_FILE).exists()
        or TrainStore(tmp_path / "killed" / STORE_FILE).get(job().key()) is None
    )
    seen = []
    resumed, resumed_reused = run_training(job(), tmp_path / "killed", on_epoch=seen.append)
    assert not whole_reused and not resumed_reused
    assert [e["epoch"] for e in seen] == [1, 2]  # the restored epoch, then the trained one
    assert without_seconds(resumed.log) == without_seconds(whole.log)
    assert (resumed.val_accuracy, resumed.test_accuracy) == (whole.val_accuracy, whole.test_accuracy)
    a, b = final_weights(tmp_path / "whole", whole.key), final_weights(tmp_path / "killed", whole.key)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # the same training without an output directory (no checkpoints) gives the same log
    rerun = run_training(job(), None)[0]
    assert without_seconds(rerun.log) == without_seconds(whole.log)


def test_evaluating_only_the_last_epoch_changes_nothing_but_the_earlier_epochs_accuracies(tmp_path):
    every, _ = run_training(job(), tmp_path / "every")
    last, _ = run_training(job(), tmp_path / "last", every_epoch=False)
    assert (last.val_accuracy, last.test_accuracy) == (every.val_accuracy, every.test_accuracy)
    assert [e["train_loss"] for e in last.log] == [e["train_loss"] for e in every.log]
    assert math.isnan(last.log[0]["val_accuracy"]) and math.isnan(last.log[0]["test_accuracy"])
    assert not math.isnan(every.log[0]["val_accuracy"])
    a, b = final_weights(tmp_path / "every", every.key), final_weights(tmp_path / "last", every.key)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_callers_random_states_are_left_as_they_were():
    torch.manual_seed(11)
    np.random.seed(11)
    random.seed(11)
    before = torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()
    run_training(job(recipe=get_recipe("quick", epochs=1, batch_size=256)), None)
    assert torch.equal(torch.get_rng_state(), before[0])
    assert np.array_equal(np.random.get_state()[1], before[1]) and random.getstate() == before[2]


def test_each_epoch_logs_the_schedules_rate_at_its_first_step():
    recipe = get_recipe("quick", epochs=3, batch_size=100, warmup_epochs=1, lr=0.2)
    result, _ = run_training(job(recipe=recipe), None)
    steps = steps_per_epoch(len(load_train_data("digits", 0.5, 3).train[1]), 100)
    assert steps == 8  # 719 training samples: 7 full batches and one of 19
    total = 3 * steps
    expected = [learning_rate(recipe, e * steps, total) for e in range(3)]
    assert [e["lr"] for e in result.log] == pytest.approx(expected)
    assert expected == pytest.approx([0.2 / 8, 0.2, 0.1])


def test_a_stored_result_is_reused_and_a_different_recipe_is_not(tmp_path):
    short = job(recipe=get_recipe("quick", epochs=1, batch_size=128))
    first, reused = run_training(short, tmp_path)
    again, reused_again = run_training(short, tmp_path)
    assert not reused and reused_again and again == first
    other = job(recipe=get_recipe("quick", epochs=1, batch_size=128, lr=0.05))
    assert not run_training(other, tmp_path)[1]
    assert TrainStore(tmp_path / STORE_FILE).get(other.key()).key.recipe != first.key.recipe


def test_a_nan_loss_stops_the_training_with_its_epoch_and_keeps_the_earlier_ones(tmp_path):
    bomb = job("bomb", recipe=get_recipe("quick", epochs=3, batch_size=100))  # 8 steps per epoch
    result, _ = run_training(bomb, tmp_path)
    assert result.reason == "the training loss became nan at epoch 2, step 3"
    assert math.isnan(result.val_accuracy) and math.isnan(result.test_accuracy) and not result.ok
    assert [e["epoch"] for e in result.log] == [1] and result.epochs == 1
    assert math.isfinite(result.log[0]["val_accuracy"])
    stored = TrainStore(tmp_path / STORE_FILE).get(bomb.key())
    assert stored.reason == result.reason and stored.log == result.log
    assert (
        torch.load(tmp_path / "runs" / digest(bomb.key()) / "checkpoint.pt", weights_only=True)["epoch"] == 1
    )


def test_the_split_is_seeded_disjoint_and_the_test_set_fixed():
    a, b = load_train_data("digits", 0.25, 0), load_train_data("digits", 0.25, 1)
    assert (len(a.train[1]), len(a.val[1]), len(a.test[1])) == (1078, 360, 359)  # 1797 = 1438 + 359
    assert torch.equal(a.test[0], b.test[0]) and not torch.equal(a.val[0], b.val[0])
    rows = {tuple(r.tolist()) for part in (a.train, a.val, a.test) for r in part[0].flatten(1)}
    assert len(rows) == 1797  # every image in exactly one part (digits has no duplicate images)


NB201 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda: get_recipe("slow"), "unknown recipe 'slow'"),
        (lambda: TrainJob("nb201", NB201, "mnist", RECIPE), "unknown training dataset 'mnist'"),
        (lambda: get_recipe("quick", epochs=0), "epochs must be an int >= 1"),
        (lambda: TrainJob("nb201", "|conv~0|", "digits", RECIPE), "NB201"),
        (lambda: TrainJob("nb201", NB201, "digits", RECIPE, val_fraction=1.0), "val_fraction"),
        (
            lambda: run_training(TrainJob("nb201", NB201, "digits", get_recipe("quick", batch_size=800))),
            "batch size 800 is larger than the 719 training samples of digits",
        ),
        (
            lambda: run_training(TrainJob("text", "highway:6", "digits", RECIPE)),
            "does not build for digits",
        ),
    ],
)
def test_bad_input_is_a_one_line_error(make, says):
    with pytest.raises(GradnasError, match=says) as info:
        make()
    assert "\n" not in str(info.value)


def test_an_unwritable_out_is_an_error_before_training(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(GradnasError, match="is a file, not a directory"):
        run_training(job(), tmp_path / "file")


def test_gradnas_train_is_the_api(tmp_path):
    import gradnas
    import gradnas.training.loop  # the package is `training`, so importing it leaves `train` alone

    result = gradnas.train(model=f"{MODELS}:noisy", dataset="digits", epochs=1, batch_size=128, out=tmp_path)
    assert result.ok and result.epochs == 1 and 0 <= result.val_accuracy <= 100
    assert gradnas.train is gradnas.training.train
    with pytest.raises(GradnasError, match="give an architecture"):
        gradnas.train("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", model=f"{MODELS}:noisy")
