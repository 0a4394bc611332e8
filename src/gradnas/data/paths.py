"""Where the data files live.

Small public data ships inside the package (``gradnas/data/shipped``: the NAS-Bench-201 accuracy
table and the exact-pixel CIFAR-10 / CIFAR-100 images, see its PROVENANCE.md); everything else is
read from a data directory. Resolution order:

1. the ``explicit`` argument (``data_dir=``; ``--data-dir`` on the command line),
2. the environment variable ``GRADNAS_DATA`` (an empty value counts as unset),
3. ``../shared/data`` relative to the current working directory,
4. ``shared/data`` beside the repository root, when running from a source checkout,
5. the shipped copy, for the files it holds.

An explicit directory or ``GRADNAS_DATA`` is used alone: one that does not exist or lacks the file
is an error, never a silent fall-through to other data (a typo should not quietly load other data).
"""

from __future__ import annotations

import os
from pathlib import Path

from gradnas.errors import DataNotFound, GradnasError

ENV_VAR = "GRADNAS_DATA"

SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"

# src/gradnas/data/paths.py -> parents[3] is the repository root of a source checkout; shared/ lies
# beside it. In an installed package there is no such root, and the place is not looked at.
_ROOT = Path(__file__).resolve().parents[3]
_REPO_DATA_DIR: Path | None = (
    _ROOT / ".." / "shared" / "data" if (_ROOT / "pyproject.toml").is_file() else None
)

DOCS = "docs/data.md"


def how_to() -> str:
    return f"pass data_dir=DIR or set {ENV_VAR}=DIR to the full data (see {DOCS})"


def _forced_dir(explicit: str | os.PathLike | None) -> tuple[Path, str] | None:
    """The directory the user asked for (argument first, then env var), with its origin."""
    if explicit is not None:
        return Path(explicit).expanduser(), "data_dir"
    env = os.environ.get(ENV_VAR, "")
    if env:
        return Path(env).expanduser(), f"${ENV_VAR}"
    return None


def default_candidates() -> list[Path]:
    """The data directories searched when neither an argument nor ``GRADNAS_DATA`` is given,
    before the shipped copy."""
    places = [Path.cwd() / ".." / "shared" / "data"]
    return places + ([_REPO_DATA_DIR] if _REPO_DATA_DIR is not None else [])


def _checked_forced(path: Path, origin: str) -> Path:
    if not path.is_dir():
        what = "is not a directory" if path.exists() else "does not exist"
        raise DataNotFound(f"data directory {str(path)!r} from {origin} {what}")
    return path.resolve()


def resolve_data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The full data directory to use, as an absolute path (see the module docstring for the order;
    the shipped copy is not a data directory)."""
    forced = _forced_dir(explicit)
    if forced is not None:
        return _checked_forced(*forced)
    candidates = default_candidates()
    for cand in candidates:
        if cand.is_dir():
            return cand.resolve()
    looked = ", ".join(repr(str(c.resolve())) for c in candidates)
    raise DataNotFound(f"no data directory found; looked in {looked} ({ENV_VAR} unset); {how_to()}")


def find_data_file(name: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> Path:
    """The path of data file ``name`` (relative to the data directory), checked to exist.

    With the default resolution every default directory is tried in turn, then the shipped copy,
    so a stray ``../shared/data`` that lacks the file does not hide other data.
    """
    rel = Path(name)
    if not str(name) or rel.is_absolute() or ".." in rel.parts:
        raise GradnasError(f"data file name must be a relative path inside the data dir: {name!r}")
    forced = _forced_dir(data_dir)
    if forced is not None:
        dirs = [_checked_forced(*forced)]
        source = f"from {forced[1]}"
    else:
        dirs = [c.resolve() for c in default_candidates()] + [SHIPPED_DIR]
        source = f"({ENV_VAR} unset; the last is the copy shipped with gradnas)"
    for d in dirs:
        path = d / rel
        if path.is_file():
            return path
    looked = ", ".join(repr(str(d / rel)) for d in dirs)
    raise DataNotFound(f"data file {str(name)!r} not found; looked in {looked} {source}; {how_to()}")


def is_shipped(path: str | os.PathLike) -> bool:
    """Whether ``path`` is one of the files shipped inside the package."""
    return Path(path).resolve().parent == SHIPPED_DIR
