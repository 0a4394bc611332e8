"""Evaluation by real training: `train:EPOCHS[:RECIPE]` trains each architecture the search asks
for (Hyperband's fidelity f trains round(f·EPOCHS) epochs, at least one), stores the result for
reuse, and charges the clock the training's measured seconds. The search sees the validation
accuracy; its pick is reported by its test accuracy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import GradnasError
from ..training import TrainJob, get_recipe, run_training
from .objective import Observation, Observe

TABLE = "table"
DEFAULT_RECIPE = "quick"


@dataclass(frozen=True)
class Training:
    """Where and how a search's trainings run: the space's networks on `dataset`, seeded by
    `seed`, results and checkpoints under `out`."""

    space: str
    out: Path
    seed: int = 0
    dtype: str = "float32"
    data_dir: str | None = None
    device: str = "cpu"


def parse_evaluate(spec: str) -> tuple[int, str] | None:
    """None for `table` (the benchmark's lookup), or (epochs, recipe) for `train:EPOCHS[:RECIPE]`."""
    if spec == TABLE:
        return None
    kind, _, rest = str(spec).partition(":")
    epochs_text, _, recipe = rest.partition(":")
    if kind != "train" or not epochs_text.isdigit() or int(epochs_text) < 1:
        raise GradnasError(
            f"unknown evaluation {spec!r}: use 'table' or 'train:EPOCHS[:RECIPE]' with EPOCHS >= 1, "
            "e.g. train:3:quick"
        )
    recipe = recipe or DEFAULT_RECIPE
    get_recipe(recipe, epochs=int(epochs_text))  # an unknown recipe fails here, before any search
    return int(epochs_text), recipe


def trained(training: Training, dataset: str, epochs: int, recipe: str) -> Observe:
    """The observation of an arch: its training for `epochs` of `recipe` (scaled by the fidelity),
    evaluated once, after its last epoch (a search sees only that)."""

    def observe(arch: str, fidelity: float) -> Observation:
        length = max(1, round(fidelity * epochs))
        job = TrainJob(
            training.space,
            arch,
            dataset,
            get_recipe(recipe, epochs=length),
            training.seed,
            dtype=training.dtype,
            data_dir=training.data_dir,
        )
        result, _ = run_training(job, training.out, device=training.device, every_epoch=False)
        return Observation(result.val_accuracy, result.seconds, result.test_accuracy, result.reason)

    return observe
