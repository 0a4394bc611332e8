"""Training networks for real: recipes, seeded augmentation, a resumable loop, a result store.

`gradnas.train(arch, space=..., dataset=..., recipe=..., out=...)` trains one network and returns
its :class:`TrainResult`; searches evaluate by it with `evaluate="train:EPOCHS[:RECIPE]"`.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import GradnasError
from .data import SOURCES as DATASETS
from .data import TrainData, load_train_data
from .loop import MODEL_SPACE, TrainJob, run_training
from .recipes import OVERRIDABLE, RECIPES, Recipe, get_recipe, learning_rate
from .store import TrainKey, TrainResult, TrainStore

__all__ = [
    "DATASETS",
    "MODEL_SPACE",
    "OVERRIDABLE",
    "RECIPES",
    "Recipe",
    "TrainData",
    "TrainJob",
    "TrainKey",
    "TrainResult",
    "TrainStore",
    "get_recipe",
    "learning_rate",
    "load_train_data",
    "make_job",
    "run_with_progress",
    "run_training",
    "train",
]


def make_job(
    arch: str | None = None,
    *,
    space: str = "nb201",
    model: str | None = None,
    dataset: str = "cifar10",
    recipe: str = "quick",
    seed: int = 0,
    val_fraction: float = 0.5,
    dtype: str = "float32",
    data_dir: str | None = None,
    **overrides,
) -> TrainJob:
    """The training of `arch` of `space` (or of the factory `model` = "file.py:name") on `dataset`
    by the preset `recipe`, any recipe field overridden by keyword (epochs=3, lr=0.05, ...)."""
    if (arch is None) == (model is None):
        raise GradnasError("train one network: give an architecture (with its space) or a model factory")
    network = (MODEL_SPACE, model) if model is not None else (space, arch)
    return TrainJob(*network, dataset, get_recipe(recipe, **overrides), seed, val_fraction, dtype, data_dir)


def run_with_progress(
    job: TrainJob, out: str | Path | None, *, device: str = "cpu", progress: bool = False
) -> tuple[TrainResult, bool]:
    """`run_training` with a progress bar over the epochs on stderr when `progress` is on."""
    from gradnas.progress import progress_bar

    with progress_bar(progress, total=job.recipe.epochs, desc="training", unit="epoch") as bar:

        def advance(entry: dict) -> None:
            bar.set_postfix(loss=f"{entry['train_loss']:.3f}", val=f"{entry['val_accuracy']:.2f}")
            bar.update()

        return run_training(job, out, device=device, on_epoch=advance)


def train(
    arch: str | None = None,
    *,
    out: str | Path | None = None,
    device: str = "cpu",
    progress: bool = False,
    **options,
) -> TrainResult:
    """Train one network (the options are :func:`make_job`'s) and return its result. With `out`,
    the result is stored there and reused by the same call, and an interrupted training resumes
    from its last finished epoch; a loss that turns non-finite gives NaN accuracies and the reason."""
    return run_with_progress(make_job(arch, **options), out, device=device, progress=progress)[0]
