"""Practitioners' own candidates: model factories named in a Python file, built reproducibly."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from .errors import GradnasError

Candidate = nn.Module | Callable[[], nn.Module]


def load_factory(spec: str) -> Callable[[], nn.Module]:
    """The callable `name` defined in the Python file of `spec` = "path/to/file.py:name"."""
    path_text, sep, name = str(spec).rpartition(":")
    if not sep or not path_text or not name:
        raise GradnasError(f"a model factory reads 'path/to/file.py:name', got {spec!r}")
    path = Path(path_text)
    if not path.is_file():
        raise GradnasError(f"model file {path} does not exist")
    if path.suffix != ".py":
        raise GradnasError(f"model file {path} must be a Python file (.py); gradnas runs it to find {name!r}")
    module_spec = importlib.util.spec_from_file_location(f"gradnas_user_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as err:  # the user's file: report what broke, in one line
        raise GradnasError(f"cannot import {path}: {type(err).__name__}: {err}") from err
    factory = getattr(module, name, None)
    if not callable(factory):
        raise GradnasError(f"{path} defines no callable {name!r}")
    return factory


def build_candidate(candidate: Candidate, seed: int) -> nn.Module:
    """A module as given, or a factory's result with torch seeded by `seed` (the caller's global
    random state is left untouched), so every factory initialises reproducibly."""
    if isinstance(candidate, nn.Module):
        return candidate
    if not callable(candidate):
        raise GradnasError(f"a candidate must be an nn.Module or a factory returning one, got {candidate!r}")
    name = getattr(candidate, "__name__", candidate)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            model = candidate()
        except Exception as err:  # the user's code: what broke, in one line
            first = (str(err).strip().splitlines() or [""])[0]
            raise GradnasError(f"factory {name!r} failed: {type(err).__name__}: {first}") from err
    if not isinstance(model, nn.Module):
        raise GradnasError(f"factory {name!r} returned {type(model).__name__}, not a torch.nn.Module")
    return model
