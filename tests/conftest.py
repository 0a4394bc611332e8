"""Fixtures shared across test directories."""

import importlib.util
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def nb101_tiny(tmp_path_factory) -> Path:
    """The 12-cell NB101 .npz of tests/fixtures/make_nb101_tiny.py, written once per session."""
    script = Path(__file__).parent / "fixtures" / "make_nb101_tiny.py"
    spec = importlib.util.spec_from_file_location("make_nb101_tiny", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_nb101_tiny(tmp_path_factory.mktemp("nb101") / "nb101_tiny.npz")
