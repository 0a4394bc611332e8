"""Scoring one architecture: the unit of work that local workers and Ray run alike.

A task is plain data (picklable, small), so it can be shipped to another process; the probe batch
is drawn inside the worker and cached there, once per process. Its device spec is resolved where
it runs (a worker may have its own GPU): networks are built and initialized on the CPU, so every
device starts from the same weights, then moved there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

from ..data import ProbeBatch, probe_batch
from ..devices import DEFAULT_DEVICE, parse_device, resolve_device
from ..errors import GradnasError, unknown_choice
from ..proxies import Score, ThinNetwork, get_proxies, score
from ..spaces import get_space
from .store import ScoreKey, StoredScore

DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class ProbeSpec:
    """Everything that determines the probe batch and the network's initialization."""

    dataset: str = "cifar10"
    batch_size: int = 128
    seed: int = 0
    per_class: int | None = None
    dtype: str = "float32"
    data_dir: str | None = None

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise unknown_choice("dtype", self.dtype, DTYPES)

    @property
    def label(self) -> str:
        """How the batch is drawn, as stored with each score ("uniform", "balanced8-float64")."""
        draw = "uniform" if self.per_class is None else f"balanced{self.per_class}"
        return draw if self.dtype == "float32" else f"{draw}-{self.dtype}"

    def batch(self) -> ProbeBatch:
        return _cached_batch(self.dataset, self.batch_size, self.seed, self.per_class, self.data_dir)


@lru_cache(maxsize=8)
def _cached_batch(dataset, batch_size, seed, per_class, data_dir) -> ProbeBatch:
    return probe_batch(dataset, batch_size=batch_size, seed=seed, per_class=per_class, data_dir=data_dir)


def build_model(space: str, arch: str, batch: ProbeBatch, seed: int) -> nn.Module:
    """The architecture's network for the batch's input shape and classes, initialized from `seed`
    without disturbing the caller's global random state. Spaces of token networks (`inputs =
    "tokens"`) take token batches and are also given their vocabulary size; others take images."""
    searchspace = get_space(space)
    reads, holds = getattr(searchspace, "inputs", "images"), "tokens" if batch.is_tokens else "images"
    if reads != holds:
        raise GradnasError(
            f"search space {space!r} reads {reads}, but the {batch.dataset!r} probe batch holds {holds}"
        )
    options = {"vocab_size": batch.vocab_size} if batch.is_tokens else {}
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return searchspace.build(searchspace.parse(arch), batch.num_classes, batch.input_shape, **options)


def build_thin(space: str, arch: str, batch: ProbeBatch, seed: int) -> ThinNetwork | None:
    """The architecture's thin network for counting linear regions, if the space defines one."""
    searchspace = get_space(space)
    if not hasattr(searchspace, "thin"):
        return None
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return ThinNetwork(searchspace.thin(searchspace.parse(arch), batch.num_classes, batch.input_shape))


@dataclass(frozen=True)
class ScoreTask:
    space: str
    arch: str
    spec: ProbeSpec
    proxies: tuple[str, ...]
    device: str = DEFAULT_DEVICE


@dataclass(frozen=True)
class TaskResult:
    task: ScoreTask
    scores: dict[str, Score]
    seconds: float  # the whole call: one pass serves every proxy, so time is not split


def run_task(task: ScoreTask) -> TaskResult:
    """Build, probe and score one architecture; bad input errors name the architecture."""
    start = time.perf_counter()
    device = resolve_device(task.device)
    batch = task.spec.batch()
    model = build_model(task.space, task.arch, batch, task.spec.seed).to(device)
    thin = build_thin(task.space, task.arch, batch, task.spec.seed)
    try:
        scores = score(
            model, batch, task.proxies, dtype=DTYPES[task.spec.dtype], seed=task.spec.seed, thin=thin
        )
    except GradnasError as why:
        raise GradnasError(f"{task.arch}: {why}") from why
    return TaskResult(task, scores, time.perf_counter() - start)


def make_tasks(
    space: str, archs: list[str], spec: ProbeSpec, proxies: list[str], device: str = DEFAULT_DEVICE
) -> list[ScoreTask]:
    """Validate the names (and the device spec's form) once, up front, then one task per
    architecture."""
    names, device = tuple(info.name for info in get_proxies(proxies)), parse_device(device)
    searchspace = get_space(space)
    return [ScoreTask(space, searchspace.format(searchspace.parse(a)), spec, names, device) for a in archs]


def score_keys(task: ScoreTask) -> list[ScoreKey]:
    """The store keys of the task's scores, one per proxy, in the task's order."""
    spec = task.spec
    return [
        ScoreKey(
            task.space,
            task.arch,
            spec.dataset,
            info.name,
            spec.batch_size,
            spec.seed,
            spec.label,
            info.version,
        )
        for info in get_proxies(task.proxies)
    ]


def stored_rows(result: TaskResult) -> list[StoredScore]:
    """A finished task's scores as store rows (the whole call's seconds on each)."""
    return [
        StoredScore(key, s.value, s.reason, result.seconds)
        for key, s in zip(score_keys(result.task), result.scores.values())
    ]
