"""A resumable NB201 differentiable search: DARTS's loop with any rule of `RULES`.

Each epoch shuffles both halves of the search data and, batch by batch, updates α by the rule on
(train batch, val batch) with Adam, then the weights by SGD on the train batch (DARTS's settings:
cosine learning rate 0.025 → 0.001 over the epochs, momentum 0.9, weight decay 3e-4, gradient norm
clipped to 5; Adam lr 3e-4, betas (0.5, 0.999), weight decay 1e-3). After each epoch it logs the derived
architecture and its NB201 accuracy, and checkpoints everything the rest of the run depends on, so a
re-run in the same directory continues exactly where the last finished epoch left off, on any
device: the supernet is initialised and the batches shuffled on the CPU, whatever `device` computes.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from numbers import Real
from pathlib import Path
from typing import Any

import torch

from gradnas.benchmarks import load_benchmark
from gradnas.benchmarks.nb201 import NB201_DATASETS
from gradnas.darts.architect import RULES, loss_closure, step
from gradnas.darts.data import SOURCES, SearchData, load_search_data
from gradnas.darts.supernet import NB201Supernet
from gradnas.devices import DEFAULT_DEVICE, resolve_device
from gradnas.errors import GradnasError, unknown_choice
from gradnas.rundir import claim, save_checkpoint, write_csv, write_jsonl
from gradnas.spaces import get_space
from gradnas.spaces.nb201 import OPS, NB201Arch
from gradnas.validate import positive_int

SPACES = ("nb201",)
CONFIG_FILE = "darts_config.json"
# Smallest allowed value of each whole-number setting (BatchNorm needs two samples in a batch).
_INT_MINIMUM = {"epochs": 1, "seed": 0, "samples": 2, "size": 1, "batch_size": 2, "C": 1, "N": 1}
# Real-valued settings: True where they must be > 0, False where 0 is allowed.
_REAL_POSITIVE = {
    "eta": True,
    "lr": True,
    "lr_min": False,
    "momentum": False,
    "weight_decay": False,
    "grad_clip": True,
    "arch_lr": True,
    "arch_weight_decay": False,
}


@dataclass(frozen=True)
class DartsConfig:
    """One search; the defaults are CPU-sized. `eta` is used by the amended rules only; `second`
    unrolls with ξ = the weight lr. `size` downsamples larger images to size×size; smaller ones
    (digits are 8×8) stay as they are. `data_dir` says where the data is, not what the run is, so it
    may change between resumptions."""

    rule: str = "amended"
    eta: float = 0.1
    epochs: int = 10
    seed: int = 0
    space: str = "nb201"
    dataset: str = "cifar10"
    samples: int = 2000
    size: int = 16
    batch_size: int = 64
    C: int = 8
    N: int = 1
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    arch_lr: float = 3e-4
    arch_betas: tuple[float, float] = (0.5, 0.999)
    arch_weight_decay: float = 1e-3
    data_dir: str | None = None

    def __post_init__(self) -> None:
        RULES.lookup(self.rule)
        SOURCES.lookup(self.dataset)
        if self.space not in SPACES:
            raise unknown_choice("differentiable search space", self.space, SPACES)
        for name, minimum in _INT_MINIMUM.items():
            positive_int(getattr(self, name), name, minimum)
        for name, strict in _REAL_POSITIVE.items():
            _check_real(getattr(self, name), name, strict)
        if self.lr_min > self.lr:
            raise GradnasError(f"lr_min ({self.lr_min}) must not exceed lr ({self.lr})")
        betas = self.arch_betas
        if len(betas) != 2 or not all(isinstance(b, Real) and 0 <= b < 1 for b in betas):
            raise GradnasError(f"arch_betas must be two numbers in [0, 1), got {betas!r}")

    def identity(self) -> dict[str, Any]:
        """The settings that make the run what it is, JSON-typed: every field but `data_dir`."""
        fields = asdict(self)
        del fields["data_dir"]
        fields["arch_betas"] = list(self.arch_betas)
        return fields


def config_from(namespace: object, **overrides: object) -> DartsConfig:
    """A DartsConfig from the like-named attributes of an argparse namespace, then `overrides`."""
    values = {f.name: getattr(namespace, f.name) for f in fields(DartsConfig) if hasattr(namespace, f.name)}
    return DartsConfig(**{**values, **overrides})


def _check_real(value: object, name: str, strict: bool) -> None:
    ok = not isinstance(value, bool) and isinstance(value, Real) and math.isfinite(value)
    if not ok or value < 0 or (strict and value == 0):
        raise GradnasError(
            f"{name} must be a {'positive' if strict else 'non-negative'} number, got {value!r}"
        )


Lookup = Callable[[NB201Arch], float | None]


def _accuracy_lookup(config: DartsConfig) -> tuple[Lookup, str]:
    """(arch → NB201 test accuracy on the search dataset, a note saying what the number is)."""
    if config.dataset not in NB201_DATASETS:
        note = f"none, as NB201 has no {config.dataset} column (only {', '.join(NB201_DATASETS)})"
        return (lambda arch: None), note
    benchmark, space = load_benchmark("nb201", config.data_dir), get_space(config.space)

    def lookup(arch: NB201Arch) -> float:
        return benchmark.query(space.format(arch), config.dataset)

    return lookup, f"NB201 {config.dataset} test accuracy (%)"


def rule_options(config: DartsConfig) -> dict[str, float]:
    """The keyword options `step` passes to the config's rule: η for the amended rules, none otherwise."""
    return {"eta": config.eta} if "eta" in inspect.signature(RULES[config.rule]).parameters else {}


def _train_epoch(
    model: NB201Supernet,
    data: SearchData,
    config: DartsConfig,
    optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    shuffle: torch.Generator,
) -> tuple[float, float]:
    """One pass over freshly shuffled halves in whole batches; (mean train loss, mean val loss), the
    val loss of each batch taken just before its α step, the train loss just before its weight step."""
    (x_train, y_train), (x_val, y_val) = data.train, data.val
    size, options = config.batch_size, rule_options(config)
    train_order, val_order = (torch.randperm(len(y_train), generator=shuffle) for _ in range(2))
    train_losses, val_losses = [], []
    for start in range(0, len(y_train) - size + 1, size):
        t, v = (order[start : start + size].to(x_train.device) for order in (train_order, val_order))
        train_batch, val_batch = (x_train[t], y_train[t]), (x_val[v], y_val[v])
        with torch.no_grad():
            val_losses.append(float(loss_closure(model, val_batch)()))
        loss = step(
            model, config.rule, train_batch, val_batch, *optimizers, grad_clip=config.grad_clip, **options
        )
        train_losses.append(loss)
    return sum(train_losses) / len(train_losses), sum(val_losses) / len(val_losses)


def _record(model: NB201Supernet, lookup: Lookup, note: str) -> dict[str, Any]:
    """The epoch's derived archs (argmax over all ops; and over all but `none`) and α summaries."""
    arch, arch_without_none = model.genotype(), model.genotype(exclude_none=True)
    alpha = model.alpha.detach()
    weights = torch.softmax(alpha, dim=-1)
    none, skip = weights[:, OPS.index("none")], weights[:, OPS.index("skip_connect")]
    return {
        "arch": str(arch),
        "accuracy": lookup(arch),
        "arch_exclude_none": str(arch_without_none),
        "accuracy_exclude_none": lookup(arch_without_none),
        "accuracy_source": note,
        "mean_none": float(none.mean()),
        "mean_skip": float(skip.mean()),
        "none_weight": none.tolist(),
        "skip_weight": skip.tolist(),
        "alpha": alpha.tolist(),
    }


def build_search(config: DartsConfig, data: SearchData) -> dict[str, Any]:
    """The supernet (initialised from `config.seed`), both optimizers and the learning-rate schedule,
    under the keys model, w_optimizer, a_optimizer and scheduler (their checkpoint names)."""
    with torch.random.fork_rng(devices=[]):  # the caller's global RNG is left as it was
        torch.manual_seed(config.seed)
        model = NB201Supernet(config.C, config.N, data.num_classes, data.in_channels)
    model.to(data.train[0].device)  # before the optimizers, which hold the parameters
    w_optimizer = torch.optim.SGD(
        model.weights(), config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    a_optimizer = torch.optim.Adam(
        model.arch_parameters(),
        config.arch_lr,
        betas=config.arch_betas,
        weight_decay=config.arch_weight_decay,
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(w_optimizer, config.epochs, eta_min=config.lr_min)
    return {"model": model, "w_optimizer": w_optimizer, "a_optimizer": a_optimizer, "scheduler": schedule}


def run_darts(
    config: DartsConfig,
    out_dir: str | Path,
    progress: Callable[[dict[str, Any]], None] | None = None,
    *,
    device: str | torch.device = DEFAULT_DEVICE,
) -> list[dict[str, Any]]:
    """Run (or resume) the search into `out_dir` on `device` (a spec of gradnas.devices); returns
    the per-epoch log. `progress` is called with each epoch's log entry in order, also with those
    restored from a checkpoint. Like `data_dir`, the device is not part of the run's identity."""
    device = resolve_device(device)
    data = load_search_data(config.dataset, config.data_dir, config.samples, config.size, config.seed)
    data = data.to(device)
    half = len(data.train[1])
    if half < config.batch_size:
        raise GradnasError(
            f"{config.samples} samples make halves of {half}, less than a batch of {config.batch_size}"
        )
    lookup, note = _accuracy_lookup(config)
    out, identity = Path(out_dir), config.identity()
    state = claim(out, identity, CONFIG_FILE)

    parts = build_search(config, data)
    model, w_optimizer, schedule = parts["model"], parts["w_optimizer"], parts["scheduler"]
    optimizers = (w_optimizer, parts["a_optimizer"])
    shuffle = torch.Generator().manual_seed(config.seed)  # the only randomness after initialisation

    log: list[dict[str, Any]] = []
    if state is not None:
        for name, part in parts.items():
            part.load_state_dict(state[name])
        shuffle.set_state(state["shuffle_rng"])
        log = state["log"][: state["epoch"]]
        write_jsonl(out, log)
    if progress:
        for entry in log:
            progress(entry)

    for epoch in range(len(log) + 1, config.epochs + 1):
        started, lr = time.perf_counter(), float(w_optimizer.param_groups[0]["lr"])
        train_loss, val_loss = _train_epoch(model, data, config, optimizers, shuffle)
        schedule.step()
        entry = {"epoch": epoch, "lr": lr, "train_loss": train_loss, "val_loss": val_loss}
        entry |= _record(model, lookup, note)
        entry["seconds"] = time.perf_counter() - started
        log.append(entry)
        state = {name: part.state_dict() for name, part in parts.items()}
        save_checkpoint(
            out, state | {"config": identity, "epoch": epoch, "shuffle_rng": shuffle.get_state(), "log": log}
        )
        write_jsonl(out, log)
        if progress:
            progress(entry)

    write_csv(out, log)
    from gradnas.darts.plot import plot_op_weights  # matplotlib is slow to import; only here

    title = f"{config.rule} on {config.dataset}, seed {config.seed}"
    plot_op_weights(log, out / "alphas.png", len(OPS), title)
    return log
