"""The one-pass probe: every ingredient a proxy needs, computed once and cached.

Per-sample-gradient ingredients ("sweeps") are reductions of the n×P per-sample gradient matrix.
All sweeps a scoring call asked for are computed together, in a single pass of the engine over
the matrix's column blocks, so nine proxies cost about what one does. Likewise the ingredients
that only watch a forward pass (`observed`) share one forward.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from ..devices import as_float64, check_dtype, float64_device, model_device, on_float64_device
from ..errors import GradnasError, unknown_choice
from .batch import (
    batch_gradients,
    fisher_terms,
    grasp_products,
    input_jacobian,
    multiply_accumulates,
    split_gradients,
    synflow_saliency,
)
from .expressivity import ThinNetwork, ntk_gram, region_count, zen_terms
from .features import fisher_spectrum, stage_terms
from .observed import OBSERVERS, observe_forward
from .persample import (
    DEFAULT_BLOCK_BYTES,
    Block,
    UnsupportedModel,
    fast_blocks,
    loop_blocks,
    prefers_loop,
    probe_copy,
    scored_parameter_names,
)
from .registry import NonFinite, Undefined, non_finite

ENGINES = ("auto", "fast", "loop")
KNAS_TENSORS, KNAS_COORDS = 11, 50  # the KNAS reference code's first 11 tensors, first 50 coords
GT_COORDS = 50  # θ in GT-NAS: coordinates sampled per layer


class UndeclaredIngredient(Exception):
    """A proxy read an ingredient its registration does not name: a bug in the proxy, never NaN."""


class _Reducer:
    """Accumulates one sweep ingredient from blocks of the parameters it `wants`."""

    wants: list[str]

    def update(self, block: Block) -> None:
        raise NotImplementedError

    def result(self):
        raise NotImplementedError


class SignSum(_Reducer):
    """Per scored layer: Σ_k |Σ_i sign(g_ik)| (GradSign's ingredient)."""

    def __init__(self, probe: Probe):
        self.wants = probe.scored
        self.acc = dict.fromkeys(self.wants, 0.0)

    def update(self, block: Block) -> None:
        self.acc[block.name] += float(block.grads.sign().sum(0).abs().sum())

    def result(self) -> dict[str, float]:
        return self.acc


class GradSum(_Reducer):
    """Per scored layer: Σ_i g_i as a float64 vector (the kernel-mean ingredient)."""

    def __init__(self, probe: Probe):
        self.wants = probe.scored
        self.acc = {n: torch.zeros(probe.numel[n], dtype=torch.float64, device=probe.f64) for n in self.wants}

    def update(self, block: Block) -> None:
        total = on_float64_device(block.grads).sum(0, dtype=torch.float64)
        self.acc[block.name][block.start : block.start + len(total)] += total

    def result(self) -> dict[str, torch.Tensor]:
        return self.acc


class GroupGram(_Reducer):
    """Per group of samples: the Gram matrix of their per-sample gradients over all scored
    parameters (float64; rows in batch order within the group). Only within-group blocks are
    formed, so per-class Grams cost about 1/classes of the full n×n matrix.

    With `signs`, the Gram matrix of sign(g_i) instead: its entries are integers, exact in
    float32 matmuls while a block has fewer than 2^24 columns."""

    def __init__(self, probe: Probe, *, by_class: bool, signs: bool = False):
        self.wants, self.signs = probe.scored, signs
        labels = probe.labels if by_class else torch.zeros_like(probe.labels)
        groups, counts = torch.unique(labels, return_counts=True)
        self.order = torch.argsort(labels, stable=True)  # samples grouped by class
        ends = counts.cumsum(0).tolist()
        self.spans = {int(c): (end - int(k), end) for c, k, end in zip(groups, counts, ends)}
        self.acc = {
            c: torch.zeros(b - a, b - a, dtype=torch.float64, device=probe.f64)
            for c, (a, b) in self.spans.items()
        }

    def update(self, block: Block) -> None:
        g = block.grads[self.order]
        if self.signs:
            g = g.sign()
        if not (self.signs and g.shape[1] < 2**24):
            g = as_float64(g)
        for c, (a, b) in self.spans.items():
            self.acc[c] += as_float64(g[a:b] @ g[a:b].T)

    def result(self) -> dict[int, torch.Tensor]:
        return self.acc


class Columns(_Reducer):
    """Chosen columns (coordinates) of chosen parameters, as float64 (n, k) matrices."""

    def __init__(self, probe: Probe, selection: dict[str, np.ndarray]):
        self.wants = list(selection)
        self.index = {
            n: torch.as_tensor(idx, dtype=torch.long, device=probe.f64) for n, idx in selection.items()
        }
        self.acc = {
            n: torch.zeros(probe.n, len(idx), dtype=torch.float64, device=probe.f64)
            for n, idx in selection.items()
        }

    def update(self, block: Block) -> None:
        idx = self.index[block.name]
        inside = (idx >= block.start) & (idx < block.start + block.grads.shape[1])
        columns = (idx[inside] - block.start).to(block.grads.device)
        self.acc[block.name][:, inside] = as_float64(block.grads[:, columns])

    def result(self) -> dict[str, torch.Tensor]:
        return self.acc


def knas_columns(probe: Probe) -> Columns:
    """KNAS reference selection: in `named_parameters()` order, skip tensors with fewer than 50
    elements, keep the first 11, and their first 50 flattened coordinates."""
    big = [n for n in probe.numel if probe.numel[n] >= KNAS_COORDS][:KNAS_TENSORS]
    return Columns(probe, {n: np.arange(KNAS_COORDS) for n in big})


def sampled_columns(probe: Probe) -> Columns:
    """GT-NAS selection: θ = 50 coordinates per scored layer, drawn once with the probe's seed."""
    rng = np.random.default_rng(probe.seed)
    selection = {}
    for name in probe.scored:
        size = probe.numel[name]
        selection[name] = np.sort(rng.choice(size, min(GT_COORDS, size), replace=False))
    return Columns(probe, selection)


SWEEPS = {
    "sign_sum": SignSum,
    "grad_sum": GradSum,
    "class_gram": lambda probe: GroupGram(probe, by_class=True),
    "class_sign_gram": lambda probe: GroupGram(probe, by_class=True, signs=True),
    "gram": lambda probe: GroupGram(probe, by_class=False),
    "knas_columns": knas_columns,
    "sampled_columns": sampled_columns,
}


# Ingredients computed on their own (not part of the per-sample sweep), each once per probe.
DIRECT = {
    "batch_grads": batch_gradients,
    "synflow_saliency": synflow_saliency,
    "input_jacobian": input_jacobian,
    "grasp_products": grasp_products,
    "fisher_terms": fisher_terms,
    "macs": multiply_accumulates,
    "ntk_gram": ntk_gram,
    "region_count": region_count,
    "zen_terms": zen_terms,
    "split_grads": split_gradients,
    "stage_terms": stage_terms,
    "fisher_spectrum": fisher_spectrum,
}


class Probe:
    """A model and a probe batch; ingredients are computed on first request and cached.

    `engine`: "fast" (one batched pass), "loop" (the batch-of-one reference), or "auto" (the loop
    for wide convolutional networks, where it is cheaper: see `prefers_loop`; else fast, falling
    back to the loop with a warning for layers the fast engine does not handle).
    The caller's model is never modified: the engines work on a copy in `dtype`, on the model's
    device, where the batch is moved too; float64 ingredients live on `f64` (see gradnas.devices).
    `thin`: the architecture's thin network, where linear regions are counted (TE-NAS).
    """

    def __init__(
        self,
        model: nn.Module,
        batch,
        *,
        dtype: torch.dtype = torch.float32,
        engine: str = "auto",
        seed: int = 0,
        block_bytes: int = DEFAULT_BLOCK_BYTES,
        thin: ThinNetwork | None = None,
    ):
        if engine not in ENGINES:
            raise unknown_choice("engine", engine, ENGINES)
        if dtype not in (torch.float32, torch.float64):
            raise GradnasError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        self.device = model_device(model)
        self.f64 = float64_device(self.device)
        check_dtype(self.device, dtype)
        self.model, self.batch = model, batch
        self.dtype, self.engine, self.seed, self.block_bytes = dtype, engine, seed, block_bytes
        self.thin = thin
        self.n = int(batch.y.shape[0])
        self.x, self.labels = batch.x.to(self.device), batch.y.to(self.device)
        self.numel = {name: p.numel() for name, p in model.named_parameters()}
        self.scored = scored_parameter_names(model)
        if not self.scored:
            raise GradnasError("the model has no Conv2d or Linear weights to score")
        self.engine_used: str | None = None
        self._required: set[str] = set()
        self._cache: dict[str, object] = {}
        self.failed: dict[str, GradnasError] = {}  # ingredient -> why this model does not allow it
        self._declared: tuple[str, ...] | None = None  # while a proxy runs: what it declared
        self._passes: dict[str, object] = {}  # see shared_pass

    @contextmanager
    def reading(self, info) -> Iterator[None]:
        """While proxy `info` runs it may read only the ingredients it declared (an undeclared one
        would cost a second engine pass, unplanned)."""
        self._declared = info.ingredients
        try:
            yield
        finally:
            self._declared = None

    @property
    def inputs(self) -> torch.Tensor:
        """The batch's inputs for a forward pass: images in the probe's dtype, token ids as int64."""
        x = self.x
        if not x.is_floating_point():
            return x
        if non_finite(x):
            raise Undefined("the probe batch holds NaN or infinite inputs")
        return x.to(self.dtype)

    def continuous_inputs(self, what: str) -> torch.Tensor:
        """`inputs`, for ingredients that differentiate or perturb them: on token ids there is no
        such thing, so the proxy is Undefined (NaN with this reason) rather than nonsense."""
        if not self.x.is_floating_point():
            raise Undefined(
                f"{what} needs continuous inputs; token ids cannot be differentiated or perturbed"
            )
        return self.inputs

    def shared_pass(self, name: str, compute: Callable[[Probe], object]) -> object:
        """The result of a pass several ingredients are read from (say the gradients of one
        backward, taken with respect to both weights and activations), computed once."""
        if name not in self._passes:
            self._passes[name] = compute(self)
        return self._passes[name]

    def require(self, *names: str) -> None:
        """Declare ingredients that will be asked for, so one sweep (or one observed forward)
        computes them all."""
        for name in names:
            if name not in SWEEPS and name not in DIRECT and name not in OBSERVERS:
                raise unknown_choice("ingredient", name, [*SWEEPS, *DIRECT, *OBSERVERS])
        self._required.update(names)

    def __getitem__(self, name: str):
        """The ingredient `name`, computed once. One this model does not allow (say, per-sample
        gradients through a BatchNorm over a 1×1 map) is Undefined: every proxy that reads it is NaN
        with the reason, and the proxies that do not read it are still computed."""
        if self._declared is not None and name not in self._declared:
            raise UndeclaredIngredient(f"a proxy read {name!r} without declaring it among its ingredients")
        if name not in self._cache and name not in self.failed:
            self.require(name)
            group = SWEEPS if name in SWEEPS else OBSERVERS if name in OBSERVERS else {name: DIRECT[name]}
            names = sorted(n for n in self._required - self._cache.keys() - self.failed.keys() if n in group)
            try:
                if name in DIRECT:
                    self._keep(name, DIRECT[name](self))
                elif name in OBSERVERS:
                    self._observe(names)
                else:
                    self._sweep(names)
            except UnsupportedModel:
                raise  # the fast engine was asked for by name
            except GradnasError as why:
                self.failed.update(dict.fromkeys(names, why))
        if name in self.failed:
            raise Undefined(str(self.failed[name]))
        return self._cache[name]

    def _keep(self, name: str, value) -> None:
        if non_finite(value):
            raise NonFinite(f"{name} holds NaN or infinite values (model output or gradients)")
        self._cache[name] = value

    def _observe(self, names: list[str]) -> None:
        """The observers of `names` watch one shared forward; each fails, or not, on its own."""
        observers = [OBSERVERS[name](self) for name in names]
        observe_forward(self, observers)
        for name, observer in zip(names, observers):
            try:
                self._keep(name, observer.result())
            except GradnasError as why:
                self.failed[name] = why

    def _sweep(self, names: list[str]) -> None:
        reducers = [SWEEPS[name](self) for name in names]
        wanted = {p for r in reducers for p in r.wants}
        order = [p for p in self.numel if p in wanted]
        for block in self._blocks(order):
            if non_finite(block.grads):
                raise NonFinite(f"the per-sample gradients of {block.name} hold NaN or infinite values")
            for r in reducers:
                if block.name in r.wants:
                    r.update(block)
        for name, r in zip(names, reducers):
            self._cache[name] = r.result()

    def _blocks(self, names: list[str]) -> Iterator[Block]:
        x, y = self.inputs, self.labels
        itemsize = torch.finfo(self.dtype).bits // 8
        wide = self.engine == "auto" and prefers_loop(self.model, names, self.n, itemsize)
        if self.engine == "fast" or (self.engine == "auto" and not wide):
            try:
                blocks = fast_blocks(probe_copy(self.model, self.dtype), x, y, names, self.block_bytes)
                self.engine_used = "fast"
                return blocks
            except UnsupportedModel as why:
                if self.engine == "fast":
                    raise
                warnings.warn(f"fast per-sample engine unavailable ({why}); using the loop", stacklevel=3)
        self.engine_used = "loop"
        return loop_blocks(probe_copy(self.model, self.dtype), x, y, names)
