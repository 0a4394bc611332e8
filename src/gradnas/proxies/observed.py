"""Ingredients that only watch one forward pass: NASWOT's ReLU kernel, SWAP's sample-wise activation
patterns and MeCo's channel correlations. Each reads the probe batch going through a train-mode
copy of the network (no gradients, batch-statistics BN), so the ones a scoring asks for share that
one forward: each is an Observer whose hooks record what it needs, and whose failure (a NaN, a
model it cannot read) fails it alone.
"""

from __future__ import annotations

from contextlib import ExitStack

import numpy as np
import torch
from torch import nn

from ..devices import as_float64
from ..errors import GradnasError
from .persample import forward_checked, hooked, probe_copy
from .registry import require_finite

MECO_OPT_CHANNELS = 8  # MeCo_opt's sampled channels per feature map
PATTERN_WORD = 62  # samples packed per int64 word when SWAP's patterns are compared


class Observer:
    """Hooks on some modules during the shared forward, then a value. A GradnasError raised while
    observing is kept and raised by `result`, so it fails this ingredient and no other."""

    pre = False  # forward pre-hooks: they see a module's input before an in-place op overwrites it

    def __init__(self, probe) -> None:
        self.probe = probe
        self.error: GradnasError | None = None

    def modules(self, model: nn.Module) -> list[nn.Module]:
        raise NotImplementedError

    def observe(self, module: nn.Module, inputs: tuple, output=None) -> None:
        raise NotImplementedError

    def value(self):
        raise NotImplementedError

    def hook(self, module: nn.Module, inputs: tuple, output=None) -> None:
        if self.error is None:
            try:
                self.observe(module, inputs, output)
            except GradnasError as why:
                self.error = why

    def result(self):
        if self.error is not None:
            raise self.error
        return self.value()


def observe_forward(probe, observers: list[Observer]) -> None:
    """One no-grad forward of the probe batch through a train-mode copy with every observer's hooks."""
    model = probe_copy(probe.model, probe.dtype)
    with ExitStack() as hooks, torch.no_grad():
        for observer in observers:
            hooks.enter_context(hooked(observer.modules(model), observer.hook, pre=observer.pre))
        forward_checked(model, probe.inputs)


def _relus(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.ReLU)]


class ReluKernel(Observer):
    """NASWOT's kernel: K_ij = Σ over ReLUs and units of [c_i = c_j], c = (ReLU input > 0),
    i.e. Σ [c cᵀ + (1−c)(1−c)ᵀ], accumulated per ReLU call in float64."""

    pre = True  # an in-place ReLU has not overwritten its input yet

    def __init__(self, probe) -> None:
        super().__init__(probe)
        self.kernel = torch.zeros(probe.n, probe.n, dtype=torch.float64, device=probe.f64)

    modules = staticmethod(_relus)

    def observe(self, module, inputs, output=None) -> None:
        x = require_finite(inputs[0], "a ReLU's input").detach()
        c = (x.reshape(self.probe.n, -1) > 0).to(torch.float32)
        if c.shape[1] >= 2**24:  # counts stay exact integers in float32 below 2^24
            c = as_float64(c)
        on = as_float64(c.sum(1))  # whole numbers below 2^24: exact in float32
        # agreements = both on + both off = 2·ccᵀ + D − r_i − r_j, with r the number of units on
        self.kernel.add_(2 * as_float64(c @ c.T) + c.shape[1] - on[:, None] - on[None, :])

    def value(self) -> torch.Tensor:
        return self.kernel


def _packed(codes: torch.Tensor) -> torch.Tensor:
    """(n, D) booleans -> (D, words) int64: each unit's pattern over the samples as bit words."""
    n, d = codes.shape
    words = -(-n // PATTERN_WORD)
    padded = torch.zeros(words * PATTERN_WORD, d, dtype=torch.int64, device=codes.device)
    padded[:n] = codes.to(torch.int64)
    bits = 2 ** torch.arange(PATTERN_WORD, dtype=torch.int64, device=codes.device)
    return (padded.T.reshape(d, words, PATTERN_WORD) * bits).sum(2)


def _distinct_rows(rows: torch.Tensor) -> torch.Tensor:
    """The distinct rows of an integer matrix in lexicographic order, as `torch.unique(rows, dim=0)`
    gives them, but by one stable sort per column (over ten times faster for SWAP's patterns)."""
    order = torch.arange(len(rows), device=rows.device)
    for column in reversed(range(rows.shape[1])):
        order = order[torch.sort(rows[order, column], stable=True).indices]
    ordered = rows[order]
    first = torch.ones(len(ordered), dtype=torch.bool, device=rows.device)
    first[1:] = (ordered[1:] != ordered[:-1]).any(1)
    return ordered[first]


class ActivationPatterns(Observer):
    """SWAP: the number of distinct sample-wise patterns, i.e. distinct columns of the (n, units)
    on/off matrix of every nn.ReLU whose input is 4-d (its output > 0), over all such ReLUs."""

    def __init__(self, probe) -> None:
        super().__init__(probe)
        self.patterns: list[torch.Tensor] = []

    modules = staticmethod(_relus)

    def observe(self, module, inputs, output=None) -> None:
        if inputs[0].dim() == 4:
            on = require_finite(output.detach(), "a ReLU's output").reshape(len(output), -1) > 0
            self.patterns.append(_distinct_rows(_packed(on)))

    def value(self) -> int:
        if not self.patterns:
            raise GradnasError("swap needs nn.ReLU modules on 4-d feature maps, and the model has none")
        return len(_distinct_rows(torch.cat(self.patterns)))


def _min_correlation_eigenvalue(rows: torch.Tensor) -> float:
    """λ_min of the Pearson correlation matrix of `rows` (float64); an undefined entry (a constant
    row) counts as 0, as in the MeCo reference code, so rows of one value give 0."""
    if rows.shape[1] < 2:
        return 0.0
    corr = torch.nan_to_num(torch.corrcoef(rows.to(torch.float64)), nan=0.0, posinf=0.0, neginf=0.0)
    return float(torch.linalg.eigvalsh(corr)[0])


class ModuleCorrelations(Observer):
    """Per call of every module (containers and the model itself included, as MeCo's hooks):
    (λ_min over all channels, λ_min over 8 seeded channels × c/8) of the channel correlation
    matrix of the first sample's output, reshaped (c, rest). A map with at most 8 channels uses
    all of them (factor 1); 0-d outputs are skipped."""

    def __init__(self, probe) -> None:
        super().__init__(probe)
        self.rng = np.random.default_rng(probe.seed)
        self.terms: list[tuple[float, float]] = []

    def modules(self, model: nn.Module) -> list[nn.Module]:
        return list(model.modules())

    def observe(self, module, inputs, output=None) -> None:
        if not isinstance(output, torch.Tensor) or output.dim() < 2:
            return
        rows = require_finite(output[0].detach(), "a module's output").reshape(output.shape[1], -1)
        full = _min_correlation_eigenvalue(rows)
        c = rows.shape[0]
        if c <= MECO_OPT_CHANNELS:
            self.terms.append((full, full))
            return
        pick = np.sort(self.rng.choice(c, MECO_OPT_CHANNELS, replace=False))
        sampled = _min_correlation_eigenvalue(rows[torch.as_tensor(pick, device=rows.device)])
        self.terms.append((full, sampled * c / MECO_OPT_CHANNELS))

    def value(self) -> list[tuple[float, float]]:
        return self.terms


OBSERVERS: dict[str, type[Observer]] = {
    "relu_kernel": ReluKernel,
    "activation_patterns": ActivationPatterns,
    "module_correlations": ModuleCorrelations,
}
