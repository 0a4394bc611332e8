"""The proxy registry: each proxy is a small function of a `Probe`, registered with its metadata.

Metadata lives beside the function (direction, inputs, reference batch size, version), so no other
code needs to special-case a proxy by name.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass

from ..errors import GradnasError
from ..registry import Registry


@dataclass(frozen=True)
class Score:
    """A proxy's value; NaN comes with the reason it could not be computed."""

    value: float
    reason: str | None = None

    def __float__(self) -> float:
        return self.value

    @property
    def ok(self) -> bool:
        return self.reason is None


class Undefined(Exception):
    """Raised by a proxy whose value does not exist for this model and batch (becomes NaN)."""


class NonFinite(GradnasError):
    """An ingredient holds NaN or infinite values: the proxies that read it are NaN with this reason
    (the model and batch fit; this is not bad input)."""


@dataclass(frozen=True)
class ProxyInfo:
    name: str
    compute: Callable
    ingredients: tuple[str, ...]
    higher_is_better: bool
    needs_labels: bool
    batch_size: int
    version: str
    summary: str
    paper: str


PROXIES: Registry[ProxyInfo] = Registry("proxy")

# Every ingredient a Probe can compute (probe.py's per-sample sweeps and direct ingredients; a test
# keeps the two in step), so that a proxy naming another is refused when it is registered.
INGREDIENTS = frozenset(
    {
        "sign_sum", "grad_sum", "class_gram", "class_sign_gram", "gram", "knas_columns", "sampled_columns",
        "batch_grads", "relu_kernel", "synflow_saliency", "input_jacobian", "grasp_products", "fisher_terms",
        "macs", "ntk_gram", "region_count", "zen_terms", "split_grads", "module_correlations",
        "activation_patterns", "stage_terms", "fisher_spectrum",
    }
)  # fmt: skip


def non_finite(value) -> bool:
    """Whether an ingredient holds a NaN or an infinity anywhere (tensors, floats, containers).
    A tensor's smallest and largest values tell (NaN propagates into both): one read of it, about
    20 times cheaper than a mask of `isfinite` on CPU."""
    import torch

    if isinstance(value, torch.Tensor):
        if not value.is_floating_point() or value.numel() == 0:
            return False
        low, high = torch.aminmax(value.detach())
        return not (math.isfinite(low) and math.isfinite(high))
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(map(non_finite, value.values()))
    if isinstance(value, (list, tuple)):
        return any(map(non_finite, value))
    return False


def require_finite(tensor, what: str):
    """`tensor`, or NonFinite (the proxies reading it are NaN with the reason) if it holds NaN or ±inf."""
    if non_finite(tensor):
        raise NonFinite(f"{what} holds NaN or infinite values")
    return tensor


def first_paragraph(doc: str) -> str:
    """The text up to the first blank line, joined into one line (a whole sentence, never cut)."""
    return " ".join(doc.strip().split("\n\n")[0].split())


def proxy(
    name: str,
    *,
    ingredients: Iterable[str],
    batch_size: int = 128,
    needs_labels: bool = True,
    higher_is_better: bool = True,
    version: str = "1",
    paper: str = "",
):
    """Register `fn(probe) -> float` as proxy `name`; its docstring's first paragraph is the summary."""

    needs = tuple(ingredients)

    def register(fn: Callable) -> Callable:
        unknown = sorted(set(needs) - INGREDIENTS)
        if unknown:
            known = ", ".join(sorted(INGREDIENTS))
            raise ValueError(f"proxy {name!r} names unknown ingredients {unknown}; known: {known}")
        summary = first_paragraph(fn.__doc__ or "")
        PROXIES.add(
            name,
            ProxyInfo(name, fn, needs, higher_is_better, needs_labels, batch_size, version, summary, paper),
        )
        return fn

    return register


def get_proxies(names: Iterable[str]) -> list[ProxyInfo]:
    """The registered proxies named, in the order given; an unknown name is a clear error."""
    return [PROXIES.lookup(name) for name in names]


@contextmanager
def _nothing():
    yield


def evaluate(info: ProxyInfo, probe) -> Score:
    """Run one proxy on a probe; undefined or non-finite values become NaN with a reason."""
    import torch  # the registry itself stays importable without it

    try:
        with probe.reading(info) if probe is not None else _nothing():
            value = float(info.compute(probe))
    except Undefined as why:
        return Score(math.nan, str(why))
    except torch.linalg.LinAlgError as why:  # an eigen or determinant step that does not converge
        return Score(math.nan, f"linear algebra failed: {str(why).splitlines()[0]}")
    if not math.isfinite(value):
        return Score(math.nan, f"non-finite value ({value})")
    return Score(value)
