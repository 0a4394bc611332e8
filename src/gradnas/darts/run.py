"""A resumable differentiable search (NB201 or DARTS space): DARTS's loop with any rule of `RULES`.

Each epoch shuffles both halves of the search data and, batch by batch, updates α by the rule on
(train batch, val batch) with Adam, then the weights by SGD on the train batch (DARTS's settings:
cosine learning rate 0.025 → 0.001 over the epochs, momentum 0.9, weight decay 3e-4, gradient norm
clipped to 5; Adam lr 3e-4, betas (0.5, 0.999), weight decay 1e-3). The first `warmup_epochs`
epochs update the weights only. With `augment` both batches are cropped and flipped (DARTS's search
augmentation), drawn from the shuffling generator. After each epoch it logs the derived
architecture, its NB201 accuracy (none for the DARTS space: no table), the amended rules' η
diagnostics (‖g1‖, ‖g2'‖, their ratio and cosine, and η, averaged over the epoch's α steps), and
checkpoints everything the rest of the run depends on, so a re-run in the same directory continues
exactly where the last finished epoch left off, on any device: the supernet is initialised and the
batches shuffled on the CPU, whatever `device` computes.
"""

from __future__ import annotations

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
from gradnas.darts.architect import RULES, loss_closure, step, weight_step
from gradnas.darts.darts_supernet import DARTS_OPS, DartsSupernet
from gradnas.darts.data import SOURCES, SearchData, augment, load_search_data
from gradnas.darts.supernet import NB201Supernet
from gradnas.darts.vectors import Vector, cosine, norm
from gradnas.devices import DEFAULT_DEVICE, resolve_device
from gradnas.errors import GradnasError, unknown_choice
from gradnas.rundir import claim, save_checkpoint, write_csv, write_jsonl
from gradnas.spaces import get_space
from gradnas.spaces.nb201 import OPS, NB201Arch
from gradnas.spaces.nds import NDSArch
from gradnas.validate import positive_int, positive_real

SPACES = ("nb201", "darts")
AMENDED_RULES = ("amended", "amended_fd")
CONFIG_FILE = "darts_config.json"
# Smallest allowed value of each whole-number setting (BatchNorm needs two samples in a batch).
_INT_MINIMUM = {
    "epochs": 1,
    "warmup_epochs": 0,
    "seed": 0,
    "samples": 2,
    "size": 1,
    "batch_size": 2,
    "C": 1,
    "N": 1,
}
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
    "beta_decay": False,
}


@dataclass(frozen=True)
class DartsConfig:
    """One search; the defaults are CPU-sized. `eta` is used by the amended rules only, and
    `eta_ratio` R replaces it there by the η that makes ‖g2'‖ = R·‖g1‖ at each step; `second`
    unrolls with ξ = the weight lr. `beta_decay` is β-DARTS's λ scale (λ grows linearly from 0
    over the epochs, with any rule). `N` is the cells per stage (the DARTS space has 3N + 2 cells:
    N normal cells per stage and two reduction cells). `size` downsamples larger images to
    size×size; smaller ones (digits are 8×8) stay as they are. `data_dir` says where the data is,
    not what the run is, so it may change between resumptions."""

    rule: str = "amended"
    eta: float = 0.1
    eta_ratio: float | None = None
    epochs: int = 10
    warmup_epochs: int = 0
    augment: bool = False
    beta_decay: float = 0.0
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
            positive_real(getattr(self, name), name, strict)
        if self.warmup_epochs >= self.epochs:
            raise GradnasError(
                f"warmup_epochs ({self.warmup_epochs}) must be fewer than epochs ({self.epochs})"
            )
        if self.eta_ratio is not None:
            positive_real(self.eta_ratio, "eta_ratio")
            if self.rule not in AMENDED_RULES:
                rules = ", ".join(AMENDED_RULES)
                raise GradnasError(f"eta_ratio applies to the rules {rules} only, not {self.rule!r}")
        if not isinstance(self.augment, bool):
            raise GradnasError(f"augment must be True or False, got {self.augment!r}")
        if self.lr_min > self.lr:
            raise GradnasError(f"lr_min ({self.lr_min}) must not exceed lr ({self.lr})")
        betas = self.arch_betas
        if len(betas) != 2 or not all(isinstance(b, Real) and 0 <= b < 1 for b in betas):
            raise GradnasError(f"arch_betas must be two numbers in [0, 1), got {betas!r}")

    def identity(self) -> dict[str, Any]:
        """The settings that make the run what it is, JSON-typed: every field but `data_dir`, and
        the options added later only when they are used, so runs made before them still resume."""
        fields = asdict(self)
        del fields["data_dir"]
        fields["arch_betas"] = list(self.arch_betas)
        for name, off in LATER_OPTIONS.items():
            if fields[name] == off:
                del fields[name]
        return fields


# options added after the first runs were made, with the value that means "not used"
LATER_OPTIONS = {"eta_ratio": None, "warmup_epochs": 0, "augment": False, "beta_decay": 0.0}


def config_from(namespace: object, **overrides: object) -> DartsConfig:
    """A DartsConfig from the like-named attributes of an argparse namespace, then `overrides`."""
    values = {f.name: getattr(namespace, f.name) for f in fields(DartsConfig) if hasattr(namespace, f.name)}
    return DartsConfig(**{**values, **overrides})


Lookup = Callable[[NB201Arch | NDSArch], float | None]


def _accuracy_lookup(config: DartsConfig) -> tuple[Lookup, str]:
    """(arch → NB201 test accuracy on the search dataset, a note saying what the number is)."""
    if config.space == "darts":
        note = "no table for the DARTS space (train the cells: gradnas train --space nb301)"
        return (lambda arch: None), note
    if config.dataset not in NB201_DATASETS:
        note = f"none, as NB201 has no {config.dataset} column (only {', '.join(NB201_DATASETS)})"
        return (lambda arch: None), note
    benchmark, space = load_benchmark("nb201", config.data_dir), get_space(config.space)

    def lookup(arch: NB201Arch) -> float:
        return benchmark.query(space.format(arch), config.dataset)

    return lookup, f"NB201 {config.dataset} test accuracy (%)"


def rule_options(config: DartsConfig) -> dict[str, float]:
    """The keyword options `step` passes to the config's rule: η (or the η ratio) for the amended
    rules, none otherwise."""
    if config.rule not in AMENDED_RULES:
        return {}
    return {"eta": config.eta} if config.eta_ratio is None else {"eta_ratio": config.eta_ratio}


def beta_weight(config: DartsConfig, epoch: int) -> float:
    """β-DARTS's λ in epoch `epoch` (1-based): `beta_decay` · (epoch − 1) / epochs, rising linearly
    from 0, as in the authors' code."""
    return config.beta_decay * (epoch - 1) / config.epochs


class EtaDiagnostics:
    """Per α step of an amended rule: ‖g1‖, ‖g2'‖, ‖g2'‖/‖g1‖, cos(g1, g2') and the η used; `means`
    averages each over the steps seen (None for all when there were none)."""

    KEYS = ("g1_norm", "g2_norm", "g2_g1_ratio", "g1_g2_cos", "eta")

    def __init__(self) -> None:
        self.rows: list[tuple[float, ...]] = []

    def __call__(self, g1: Vector, g2: Vector, eta: float) -> None:
        a, b = float(norm(g1)), float(norm(g2))
        self.rows.append((a, b, b / a if a > 0 else math.nan, cosine(g1, g2), eta))

    def means(self) -> dict[str, float | None]:
        if not self.rows:
            return dict.fromkeys(self.KEYS)
        # a plain sum: an overflowed step logs inf (and the run then stops) where fsum would raise
        return {key: sum(column) / len(column) for key, column in zip(self.KEYS, zip(*self.rows))}


def _train_epoch(
    model: torch.nn.Module,
    data: SearchData,
    config: DartsConfig,
    epoch: int,
    optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    rng: torch.Generator,
) -> dict[str, Any]:
    """One pass over freshly shuffled halves in whole batches: the mean train loss (each batch's just
    before its weight step), the mean val loss (each batch's just before its α step), whether α was
    frozen (warm-up), and the η diagnostics."""
    (x_train, y_train), (x_val, y_val) = data.train, data.val
    size, warmup = config.batch_size, epoch <= config.warmup_epochs
    diagnostics = EtaDiagnostics()
    options: dict[str, object] = dict(rule_options(config))
    if options:
        options["observe"] = diagnostics
    train_order, val_order = (torch.randperm(len(y_train), generator=rng) for _ in range(2))
    train_losses, val_losses = [], []
    for start in range(0, len(y_train) - size + 1, size):
        t, v = (order[start : start + size].to(x_train.device) for order in (train_order, val_order))
        train_x, val_x = x_train[t], x_val[v]
        if config.augment:
            train_x, val_x = augment(train_x, rng), augment(val_x, rng)
        train_batch, val_batch = (train_x, y_train[t]), (val_x, y_val[v])
        with torch.no_grad():
            val_losses.append(float(loss_closure(model, val_batch)()))
        if warmup:
            loss = weight_step(model, train_batch, optimizers[0], config.grad_clip)
        else:
            beta = beta_weight(config, epoch)
            loss = step(
                model, config.rule, train_batch, val_batch, *optimizers, grad_clip=config.grad_clip,
                beta=beta, **options,
            )  # fmt: skip
        train_losses.append(loss)
    return {
        "warmup": warmup,
        "train_loss": sum(train_losses) / len(train_losses),
        "val_loss": sum(val_losses) / len(val_losses),
    } | diagnostics.means()


def _check_finite(model: torch.nn.Module, entry: dict[str, Any], out: Path) -> None:
    """Stop a diverged search (α or a loss not finite) before its epoch is checkpointed."""
    losses = (entry["train_loss"], entry["val_loss"])
    alpha_ok = all(bool(torch.isfinite(a).all()) for a in model.arch_parameters())
    if not (alpha_ok and all(map(math.isfinite, losses))):
        raise GradnasError(
            f"the search diverged in epoch {entry['epoch']}: its loss or its architecture weights α became "
            f"non-finite (a step too large: lower the learning rates or η, or use eta_ratio); {out} keeps "
            "the epochs before it"
        )


def _ops(config: DartsConfig) -> tuple[str, ...]:
    return DARTS_OPS if config.space == "darts" else OPS


def _record(model: torch.nn.Module, config: DartsConfig, lookup: Lookup, note: str) -> dict[str, Any]:
    """The epoch's derived archs and α summaries. NB201: the argmax over all ops, and over all but
    `none`. DARTS space: DARTS's derivation (which never picks `none`) as an NB301 arch, both times;
    its α rows are the 14 normal edges, then the 14 reduction edges."""
    if config.space == "darts":
        arch = arch_without_none = model.genotype().nb301()
    else:
        arch, arch_without_none = model.genotype(), model.genotype(exclude_none=True)
    alpha = torch.cat([a.detach() for a in model.arch_parameters()])
    weights = torch.softmax(alpha, dim=-1)
    ops = _ops(config)
    none, skip = weights[:, ops.index("none")], weights[:, ops.index("skip_connect")]
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
        if config.space == "darts":
            model = DartsSupernet(config.C, 3 * config.N + 2, data.num_classes, data.in_channels)
        else:
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
    shuffle = torch.Generator().manual_seed(config.seed)  # order, augmentation: all randomness after init

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
        entry = {"epoch": epoch, "lr": lr} | _train_epoch(model, data, config, epoch, optimizers, shuffle)
        _check_finite(model, entry, out)
        schedule.step()
        entry |= _record(model, config, lookup, note)
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
    plot_op_weights(log, out / "alphas.png", len(_ops(config)), title)
    return log
