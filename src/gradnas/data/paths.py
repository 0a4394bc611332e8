"""Where the shared data files live.

The data is not shipped with the package: it sits in a ``shared/data`` folder beside the
repository checkout (or anywhere ``GRADNAS_DATA`` points). Resolution order:

1. the ``explicit`` argument,
2. the environment variable ``GRADNAS_DATA`` (an empty value counts as unset),
3. ``../shared/data`` relative to the current working directory,
4. ``shared/data`` beside the repository root found from this file's location.

An explicit directory or ``GRADNAS_DATA`` that does not exist is an error, never a silent
fall-through to the defaults: a typo should not quietly load other data.
"""

from __future__ import annotations

import os
from pathlib import Path

from gradnas.errors import GradnasError

ENV_VAR = "GRADNAS_DATA"

# src/gradnas/data/paths.py -> parents[3] is the repository root; shared/ lies beside it.
_REPO_DATA_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"

_HOW_TO = f"set {ENV_VAR}=/path/to/shared/data or pass data_dir explicitly"


def _forced_dir(explicit: str | os.PathLike | None) -> tuple[Path, str] | None:
    """The directory the user asked for (argument first, then env var), with its origin."""
    if explicit is not None:
        return Path(explicit).expanduser(), "explicit data_dir"
    env = os.environ.get(ENV_VAR, "")
    if env:
        return Path(env).expanduser(), f"${ENV_VAR}"
    return None


def default_candidates() -> list[Path]:
    """The default places searched when neither an argument nor ``GRADNAS_DATA`` is given."""
    return [Path.cwd() / ".." / "shared" / "data", _REPO_DATA_DIR]


def _checked_forced(path: Path, origin: str) -> Path:
    if not path.is_dir():
        what = "is not a directory" if path.exists() else "does not exist"
        raise GradnasError(f"data directory {str(path)!r} from {origin} {what}")
    return path.resolve()


def resolve_data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The data directory to use, as an absolute path (see the module docstring for the order)."""
    forced = _forced_dir(explicit)
    if forced is not None:
        return _checked_forced(*forced)
    candidates = default_candidates()
    for cand in candidates:
        if cand.is_dir():
            return cand.resolve()
    looked = ", ".join(repr(str(c.resolve())) for c in candidates)
    raise GradnasError(f"no data directory found; looked in {looked} ({ENV_VAR} unset); {_HOW_TO}")


def find_data_file(name: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> Path:
    """The path of data file ``name`` (relative to the data directory), checked to exist.

    With the default resolution every default directory is tried in turn, so a stray
    ``../shared/data`` that lacks the file does not hide the repository's own data.
    """
    rel = Path(name)
    if not str(name) or rel.is_absolute() or ".." in rel.parts:
        raise GradnasError(f"data file name must be a relative path inside the data dir: {name!r}")
    forced = _forced_dir(data_dir)
    if forced is not None:
        dirs = [_checked_forced(*forced)]
        source = forced[1]
    else:
        dirs = [c.resolve() for c in default_candidates()]
        source = f"default locations ({ENV_VAR} unset)"
    for d in dirs:
        path = d / rel
        if path.is_file():
            return path
    looked = ", ".join(repr(str(d / rel)) for d in dirs)
    raise GradnasError(f"data file {str(name)!r} not found; looked in {looked} from {source}; {_HOW_TO}")
