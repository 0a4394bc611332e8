"""Argument checks shared by spaces, data and search, so each reports bad input the same way."""

from __future__ import annotations

import ast
import math
from collections.abc import Sequence
from numbers import Real

import numpy as np

from gradnas.errors import GradnasError


def positive_int(value: object, what: str, minimum: int = 1, maximum: int | None = None) -> int:
    """`value` as an int, if it is an integer (not a bool) of at least `minimum` (and at most
    `maximum`)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise GradnasError(f"{what} must be an int >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise GradnasError(f"{what} must be an int <= {maximum}, got {value!r}")
    return int(value)


def positive_real(value: object, what: str, strict: bool = True) -> float:
    """`value` as a float, if it is a finite real number (not a bool) above 0 (`strict`) or at
    least 0."""
    ok = not isinstance(value, bool) and isinstance(value, Real) and math.isfinite(value)
    if not ok or value < 0 or (strict and value == 0):
        raise GradnasError(
            f"{what} must be a {'positive' if strict else 'non-negative'} number, got {value!r}"
        )
    return float(value)


MAX_SEED = 2**32 - 1  # torch, numpy and the store agree on every seed up to here


def check_seed(seed: object, what: str = "seed") -> int:
    """`seed` as an int, if it is an integer (not a bool) in [0, MAX_SEED]."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise GradnasError(f"{what} must be an integer from 0 to {MAX_SEED}, got {seed!r}")
    return int(seed)


def check_rng(rng: object) -> np.random.Generator:
    """`rng` itself, if it is a numpy Generator (seeding is the caller's choice, never implicit)."""
    if not isinstance(rng, np.random.Generator):
        raise GradnasError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def image_shape(input_shape: object, min_size: int) -> tuple[int, int, int]:
    """`input_shape` as (channels, H, W) ints, with H and W at least `min_size` (a network's
    coarsest stage must still hold more than one value for batch-of-one BatchNorm)."""
    if not isinstance(input_shape, Sequence) or isinstance(input_shape, str) or len(input_shape) != 3:
        raise GradnasError(f"input_shape must be (channels, H, W), got {input_shape!r}")
    return (
        positive_int(input_shape[0], "input channels", 1),
        positive_int(input_shape[1], "input height", min_size),
        positive_int(input_shape[2], "input width", min_size),
    )


_LITERAL_CHARS = frozenset("0123456789,()[] ")
MAX_LITERAL = 2000  # characters: Suite-Zero keys are a few hundred


def int_literal(text: object, what: str) -> object:
    """The nested tuples/lists of non-negative ints written in `text` (as NAS-Bench-Suite-Zero
    writes its keys, e.g. "(0, 1, 4)" or "[[(0, 4), (1, 3)], ...]"); GradnasError for anything
    else. Only digits, commas, brackets and spaces are read, and at most MAX_LITERAL of them."""
    if not isinstance(text, str) or not text.strip():
        raise GradnasError(f"{what} must be a non-empty string, got {text!r}")
    if len(text) > MAX_LITERAL or not set(text) <= _LITERAL_CHARS:
        raise GradnasError(f"{what} must be a short tuple/list of integers, got {text[:80]!r}")
    try:
        return ast.literal_eval(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        raise GradnasError(f"{what} is not a tuple/list of integers: {text[:80]!r}") from exc
