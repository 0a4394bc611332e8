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


NEEDS_DATA = (
    "this test needs the full data directory (../shared/data beside the checkout, or GRADNAS_DATA; "
    "see docs/data.md)"
)
NEEDS_RAY = "this test needs ray, which the README's install command brings (the dev extra)"


def _needs(error: BaseException) -> str | None:
    """What a test lacks when it failed for want of the full data or of ray, else None."""
    from gradnas.errors import DataNotFound

    if isinstance(error, DataNotFound):
        return f"{NEEDS_DATA}: {error}"
    if isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0] == "ray":
        return NEEDS_RAY
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _say_what_is_missing())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _say_what_is_missing())


def _say_what_is_missing():
    try:
        return (yield)
    except Exception as error:
        missing = _needs(error)
        if missing is None:
            raise
        pytest.fail(missing, pytrace=False)
