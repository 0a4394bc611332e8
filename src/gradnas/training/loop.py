"""Training one network by a recipe, resumable bit for bit on CPU, its result stored for reuse.

Under an output directory `out`: `train.sqlite` holds every finished result, and each training
in progress keeps `runs/<digest of its key>/` with `train_config.json`, `checkpoint.pt` (model,
optimizer, scheduler, and the random states of torch, numpy, Python and the data order, written
atomically after each epoch), `log.jsonl` and `log.csv`. Killed at any moment, the same call
continues after the last finished epoch and ends with the same weights and log as a run that was
never stopped.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..devices import resolve_device
from ..errors import GradnasError, unknown_choice
from ..models import build_candidate, load_factory
from ..outdir import make_dir
from ..run.tasks import DTYPES, build_model
from ..rundir import claim, save_checkpoint, write_csv, write_jsonl
from ..spaces import get_space
from ..validate import check_seed
from .augment import cutout, random_crop, random_flip
from .data import SOURCES, TrainData, check_fraction, load_train_data
from .recipes import Recipe, learning_rate
from .store import TrainKey, TrainResult, TrainStore

VERSION = "1"  # of the training loop: part of every stored result's key
MODEL_SPACE = "model"  # the space of a user's factory, whose arch is "file.py:name@<file digest>"
STORE_FILE = "train.sqlite"
CONFIG_FILE = "train_config.json"
EVAL_BATCH = 500


@dataclass(frozen=True)
class TrainJob:
    """One training: the network (`space` and `arch`, or space "model" and a factory "file.py:name"),
    the data, the recipe, the seed of the split, initialization, data order and augmentation.
    `data_dir` says where the data is, not what the training is, so it is not part of the key."""

    space: str
    arch: str
    dataset: str
    recipe: Recipe
    seed: int = 0
    val_fraction: float = 0.5
    dtype: str = "float32"
    data_dir: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        check_seed(self.seed)
        check_fraction(self.val_fraction)
        SOURCES.lookup(self.dataset)
        if self.dtype not in DTYPES:
            raise unknown_choice("dtype", self.dtype, DTYPES)
        if self.space != MODEL_SPACE:
            space = get_space(self.space)
            object.__setattr__(self, "arch", space.format(space.parse(self.arch)))

    def key(self) -> TrainKey:
        arch = self.arch
        if self.space == MODEL_SPACE:
            path = Path(self.arch.rpartition(":")[0])
            arch += "@" + hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else ""
        recipe = json.dumps(self.recipe.identity(), sort_keys=True)
        split = f"val{self.val_fraction:g}"
        return TrainKey(self.space, arch, self.dataset, recipe, split, self.seed, self.dtype, VERSION)


class Diverged(Exception):
    """The training loss stopped being finite."""


def digest(key: TrainKey) -> str:
    return hashlib.sha256(json.dumps(astuple(key)).encode()).hexdigest()[:16]


def _build(job: TrainJob, data: TrainData) -> nn.Module:
    """The job's network, initialized from its seed; one that cannot be built is a GradnasError."""
    if job.space == MODEL_SPACE:
        return build_candidate(load_factory(job.arch), job.seed)
    try:
        return build_model(job.space, job.arch, data.example(), job.seed)
    except GradnasError as why:
        raise GradnasError(f"{job.arch} does not build for {job.dataset}: {why}") from why


@contextmanager
def _random_states(seed: int) -> Iterator[None]:
    """torch's, numpy's and Python's global generators seeded for the block (a model may draw from
    any of them) and given back to the caller as they were afterwards."""
    saved = torch.get_rng_state(), np.random.get_state(), random.getstate()
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    try:
        yield
    finally:
        torch.set_rng_state(saved[0])
        np.random.set_state(saved[1])
        random.setstate(saved[2])


def _global_states() -> dict:
    """The global random states as tensors and numbers (what `torch.load(weights_only=True)` reads)."""
    _, keys, position, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss],
        "python": torch.tensor(random.getstate()[1], dtype=torch.int64),
    }


def _set_global_states(states: dict) -> None:
    keys, position, has_gauss, gauss = states["numpy"]
    torch.set_rng_state(states["torch"])
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    random.setstate((3, tuple(states["python"].tolist()), None))


def augment(x: torch.Tensor, recipe: Recipe, generator: torch.Generator) -> torch.Tensor:
    """The recipe's augmentation of an image batch, in a fixed order: crop, flip, cutout."""
    x = random_crop(x, recipe.crop_padding, generator)
    x = random_flip(x, generator) if recipe.flip else x
    return cutout(x, recipe.cutout, generator)


def steps_per_epoch(samples: int, batch_size: int) -> int:
    """Batches in one pass; a last batch of one sample is dropped (BatchNorm cannot train on it)."""
    return samples // batch_size + (samples % batch_size > 1)


def accuracy(model: nn.Module, pair: tuple[torch.Tensor, torch.Tensor], dtype, device) -> float:
    """Top-1 accuracy in percent, in eval mode."""
    x, y = pair
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(y), EVAL_BATCH):
            inputs = _to(x[start : start + EVAL_BATCH], dtype, device)
            correct += int((model(inputs).argmax(1).cpu() == y[start : start + EVAL_BATCH]).sum())
    return 100.0 * correct / len(y)


def _to(x: torch.Tensor, dtype, device) -> torch.Tensor:
    return x.to(device=device, dtype=dtype if x.is_floating_point() else x.dtype)


class Trainer:
    """A job's network, optimizer, learning-rate schedule and data-order generator, one epoch at a time."""

    def __init__(self, job: TrainJob, data: TrainData, device: str = "cpu"):
        device = resolve_device(device)
        recipe, samples = job.recipe, len(data.train[1])
        if recipe.batch_size > samples:
            raise GradnasError(
                f"batch size {recipe.batch_size} is larger than the {samples} training samples "
                f"of {job.dataset}"
            )
        self.job, self.data, self.device, self.dtype = job, data, device, DTYPES[job.dtype]
        self.model = _build(job, data).to(device=device, dtype=self.dtype)
        self.steps = steps_per_epoch(samples, recipe.batch_size)
        total = self.steps * recipe.epochs
        self.optimizer = torch.optim.SGD(
            self.model.parameters(),
            lr=recipe.lr,
            momentum=recipe.momentum,
            nesterov=recipe.nesterov,
            weight_decay=recipe.weight_decay,
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: learning_rate(recipe, step, total) / recipe.lr
        )
        self.order = torch.Generator().manual_seed(job.seed)  # data order and augmentation

    def parts(self) -> dict:
        return {"model": self.model, "optimizer": self.optimizer, "scheduler": self.scheduler}

    def epoch(self, number: int, evaluate: bool = True) -> dict:
        """One pass over the shuffled training samples; the epoch's log entry (its accuracies NaN
        unless `evaluate`: evaluation draws no random numbers, so skipping it changes nothing
        else), or Diverged."""
        started, recipe = time.perf_counter(), self.job.recipe
        x_all, y_all = self.data.train
        lr = self.optimizer.param_groups[0]["lr"]
        order = torch.randperm(len(y_all), generator=self.order)
        self.model.train()
        total_loss, seen = 0.0, 0
        for step in range(self.steps):
            batch = order[step * recipe.batch_size : (step + 1) * recipe.batch_size]
            x, y = x_all[batch], y_all[batch]
            if self.data.is_images:
                x = augment(x, recipe, self.order)
            loss = F.cross_entropy(self.model(_to(x, self.dtype, self.device)), y.to(self.device))
            if not torch.isfinite(loss):
                raise Diverged(f"the training loss became {loss.item()} at epoch {number}, step {step + 1}")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if recipe.grad_clip:
                nn.utils.clip_grad_norm_(self.model.parameters(), recipe.grad_clip)
            self.optimizer.step()
            self.scheduler.step()
            total_loss, seen = total_loss + loss.item() * len(y), seen + len(y)
        return {
            "epoch": number,
            "lr": lr,
            "train_loss": total_loss / seen,
            "val_accuracy": self._accuracy(self.data.val) if evaluate else math.nan,
            "test_accuracy": self._accuracy(self.data.test) if evaluate else math.nan,
            "seconds": time.perf_counter() - started,
        }

    def _accuracy(self, pair: tuple[torch.Tensor, torch.Tensor]) -> float:
        return accuracy(self.model, pair, self.dtype, self.device)


def _result(key: TrainKey, log: list[dict], reason: str | None) -> TrainResult:
    last = log[-1] if log and reason is None else {}
    return TrainResult(
        key,
        last.get("val_accuracy", math.nan),
        last.get("test_accuracy", math.nan),
        log[-1]["train_loss"] if log else math.nan,
        len(log),
        sum(entry["seconds"] for entry in log),
        reason,
        log,
    )


def run_training(
    job: TrainJob,
    out: str | Path | None = None,
    *,
    device: str = "cpu",
    on_epoch: Callable[[dict], None] | None = None,
    every_epoch: bool = True,
) -> tuple[TrainResult, bool]:
    """Train `job` (or resume it, or reuse its stored result when `out` is given); the result and
    whether it was reused. `on_epoch` sees each epoch's log entry, restored ones included. A loss
    that turns non-finite ends the training with the reason, keeping the epochs before it. Without
    `every_epoch` only the last epoch is evaluated (the others log NaN accuracies): the same
    result in less time (ten NB201 epochs on CIFAR-10: 1.68x less), for callers that use only the end."""
    key = job.key()
    store = None if out is None else TrainStore(make_dir(Path(out)) / STORE_FILE)
    stored = None if store is None else store.get(key)
    if stored is not None:
        return stored, True
    trainer = Trainer(job, load_train_data(job.dataset, job.val_fraction, job.seed, job.data_dir), device)
    folder = None if out is None else make_dir(Path(out) / "runs" / digest(key))
    identity = {"key": list(astuple(key))}
    state = None if folder is None else claim(folder, identity, CONFIG_FILE)
    log: list[dict] = []
    reason = None
    with _random_states(job.seed):
        if state is not None:
            for name, part in trainer.parts().items():
                part.load_state_dict(state[name])
            trainer.order.set_state(state["order"])
            _set_global_states(state["random"])
            log = state["log"][: state["epoch"]]
        for entry in log:
            if on_epoch:
                on_epoch(entry)
        for number in range(len(log) + 1, job.recipe.epochs + 1):
            try:
                entry = trainer.epoch(number, evaluate=every_epoch or number == job.recipe.epochs)
            except Diverged as why:
                reason = str(why)
                break
            log.append(entry)
            if folder is not None:
                parts = {name: part.state_dict() for name, part in trainer.parts().items()}
                extra = {"order": trainer.order.get_state(), "random": _global_states(), "log": log}
                save_checkpoint(folder, parts | extra | {"config": identity, "epoch": number})
                write_jsonl(folder, log)
                write_csv(folder, log)
            if on_epoch:
                on_epoch(entry)
    result = _result(key, log, reason)
    if store is not None:
        store.put(result)
    return result, False
