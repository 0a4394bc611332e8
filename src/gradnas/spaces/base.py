"""The interface every search space offers, and a lazy name -> space registry.

The registry maps names to zero-argument factories so that this module never imports a concrete
space at import time (no import cycles); each space is built once, on first lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from importlib import import_module
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np
import torch.nn as nn

from gradnas.errors import GradnasError
from gradnas.registry import Registry
from gradnas.validate import positive_int

ArchT = TypeVar("ArchT", bound=Hashable)


@runtime_checkable
class SearchSpace(Protocol[ArchT]):
    """What searches and proxies need: parse/print, enumerate, sample, perturb, build a network."""

    name: str
    size: int | None  # number of architectures, or None when it is too large to count

    def parse(self, text: str) -> ArchT:
        """The architecture written as `text`; GradnasError if it is malformed."""
        ...

    def format(self, arch: ArchT) -> str:
        """The canonical string of `arch` (what `parse` reads back)."""
        ...

    def archs(self) -> Iterator[ArchT]:
        """Every architecture in a fixed order; NotImplementedError for spaces too large to list."""
        ...

    def sample(self, rng: np.random.Generator) -> ArchT:
        """One architecture drawn uniformly with `rng`."""
        ...

    def sample_many(self, n: int, rng: np.random.Generator, unique: bool = True) -> list[ArchT]:
        """`n` draws of `sample`, without repeats when `unique`."""
        ...

    def mutate(self, arch: ArchT, rng: np.random.Generator) -> ArchT:
        """A random single-step neighbour of `arch` (never `arch` itself)."""
        ...

    def neighbours(self, arch: ArchT) -> list[ArchT]:
        """All architectures one mutation away from `arch`."""
        ...

    def build(self, arch: ArchT, num_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
        """A freshly initialised network mapping (B, *input_shape) to logits (B, num_classes).

        Images by default; a space whose networks read token ids (input_shape (seq_len,)) says
        `inputs = "tokens"`, and its `build` also takes the batch's `vocab_size`."""
        ...


@runtime_checkable
class Categorical(Protocol[ArchT]):
    """An optional capability: architectures as a fixed number of categorical decisions, which
    REINFORCE's policy and BOHB's density model need (every space has it).

    Other optional attributes a space may declare: `inputs = "tokens"` for networks reading token
    ids (default "images")."""

    decisions: tuple[int, ...]  # the number of choices of each decision

    def encode(self, arch: ArchT) -> tuple[int, ...]:
        """The choice made at each decision."""
        ...

    def decode(self, choices: Sequence[int]) -> ArchT | None:
        """The architecture these choices spell, or None when they spell no valid one (an NB101
        cell with no input-to-output path or too many edges); searches then draw again."""
        ...


def categorical(space: SearchSpace[ArchT], algorithm: str) -> Categorical[ArchT]:
    """`space` itself if it has the `Categorical` capability, else a one-line error naming it."""
    if not isinstance(space, Categorical):
        raise GradnasError(
            f"{algorithm} draws architectures decision by decision; the {space.name} space has no "
            "categorical decisions (decisions, encode, decode): use rs, rea, hb or knas"
        )
    return space


def arch_of(arch: object, cls: type[ArchT], space: str) -> ArchT:
    """`arch` itself if it is a `cls`, or the arch its string spells (`cls.from_string`)."""
    if isinstance(arch, str):
        arch = cls.from_string(arch)
    if not isinstance(arch, cls):
        raise GradnasError(
            f"{space} arch must be a {cls.__name__} object or its string, got {type(arch).__name__}"
        )
    return arch


def sample_repeatedly(
    space: SearchSpace[ArchT], n: int, rng: np.random.Generator, unique: bool
) -> list[ArchT]:
    """`sample_many` for spaces too large to list: `n` calls of `space.sample`, repeats redrawn
    when `unique` (which must not ask for more archs than the space holds)."""
    n = positive_int(n, "number of samples", 0)
    if unique and space.size is not None and n > space.size:
        raise GradnasError(f"cannot draw {n} unique {space.name} archs; there are {space.size}")
    out: list[ArchT] = []
    seen: set[ArchT] = set()
    while len(out) < n:
        arch = space.sample(rng)
        if not (unique and arch in seen):
            seen.add(arch)
            out.append(arch)
    return out


def _lazy(module: str, attr: str) -> Callable[[], SearchSpace[Any]]:
    """A factory importing `module` only when the space is first asked for."""
    return lambda: getattr(import_module(module), attr)()


_FACTORIES: Registry[Callable[[], SearchSpace[Any]]] = Registry(
    "search space",
    {
        "nb201": _lazy("gradnas.spaces.nb201", "NB201Space"),
        "nb101": _lazy("gradnas.spaces.nb101", "NB101Space"),
        "nb301": _lazy("gradnas.spaces.nb301", "NB301Space"),
        "nds_darts": _lazy("gradnas.spaces.nds", "nds_darts"),
        "nds_enas": _lazy("gradnas.spaces.nds", "nds_enas"),
        "nds_pnas": _lazy("gradnas.spaces.nds", "nds_pnas"),
        "nds_nasnet": _lazy("gradnas.spaces.nds", "nds_nasnet"),
        "nds_amoeba": _lazy("gradnas.spaces.nds", "nds_amoeba"),
        "text": _lazy("gradnas.spaces.text", "TextSpace"),
        "text_highway": _lazy("gradnas.spaces.text", "text_highway"),
        "text_lookahead": _lazy("gradnas.spaces.text", "text_lookahead"),
        "text_densenet": _lazy("gradnas.spaces.text", "text_densenet"),
    },
)
_INSTANCES: dict[str, SearchSpace[Any]] = {}


def register_space(name: str, factory: Callable[[], SearchSpace[Any]]) -> None:
    """Make `get_space(name)` return `factory()` (built lazily, once); names must be new."""
    _FACTORIES.add(name, factory)


def space_names() -> list[str]:
    """The registered search space names, sorted."""
    return sorted(_FACTORIES)


def get_space(name: str) -> SearchSpace[Any]:
    """The search space called `name`; GradnasError listing the valid names otherwise."""
    factory = _FACTORIES.lookup(name)
    if name not in _INSTANCES:
        _INSTANCES[name] = factory()
    return _INSTANCES[name]
