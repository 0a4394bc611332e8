"""Output directories shared by `correlate`, `search` and `darts`: files replaced atomically, and one
resume guard, so a re-run resumes its own work and never silently takes over another configuration's.

A directory's configuration file is claimed under an exclusive lock: the first run writes it, a run
with the same configuration resumes, one that can be merged with it (a correlation study with more
proxies) extends it, and any other is a one-line error naming the differences, with nothing written.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import GradnasError

LOCK_FILE = ".gradnas.lock"


def atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write `path` through a temporary file and `os.replace`: readers see the old or the new file."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def differences(found: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """'key <there> there, <now> now' for each key whose values differ."""
    return [
        f"{k} {found.get(k)!r} there, {wanted.get(k)!r} now"
        for k in sorted(found.keys() | wanted.keys())
        if found.get(k) != wanted.get(k)
    ]


def refuse(where: Path, found: dict[str, Any], wanted: dict[str, Any]) -> GradnasError:
    return GradnasError(
        f"{where} belongs to a run with another configuration ({'; '.join(differences(found, wanted))}); "
        "use another output directory"
    )


def read_config(path: Path) -> dict[str, Any]:
    """A configuration file as a dict; an unreadable one is a one-line error naming it."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise GradnasError(f"{path} is not a readable configuration: {err}") from err
    if not isinstance(found, dict):
        raise GradnasError(f"{path} is not a readable configuration: a JSON object is expected")
    return found


def make_dir(out: Path) -> Path:
    """`out` as a directory that this process can write into (created if needed), or a one-line
    error saying why not (a file of that name, no permission, a full disk)."""
    if out.exists() and not out.is_dir():
        raise GradnasError(f"{out} is a file, not a directory: choose a directory for the results")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise GradnasError(f"cannot create the directory {out}: {err.strerror or err}") from err
    if not os.access(out, os.W_OK | os.X_OK):
        raise GradnasError(f"cannot write into {out}: permission denied")
    return out


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """An exclusive lock on the directory `out` (created if needed) for the `with` block."""
    try:
        handle = (make_dir(out) / LOCK_FILE).open("a")
    except OSError as err:
        raise GradnasError(f"cannot write into {out}: {err.strerror or err}") from err
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def claim(
    path: Path,
    config: dict[str, Any],
    *,
    merge: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Make the file `path` hold `config` (JSON-typed: lists, not tuples) and return what it holds
    then. Another configuration there is an error naming the differences, unless `merge(found,
    config)` combines them (it raises when they cannot be): then the combination is written."""
    with locked(path.parent):
        found = read_config(path) if path.exists() else None
        if found == config:
            return found
        if found is None:
            wanted = config
        elif merge is None:
            raise refuse(path, found, config)
        else:
            wanted = merge(found, config)
        if wanted != found:
            write_text(path, json.dumps(wanted, indent=2) + "\n")
    return wanted


def drop_torn_tail(path: Path) -> None:
    """Cut a line-per-record file back to its last complete line (a kill can tear the one being
    written), so that the next record starts on a line of its own."""
    if not path.exists():
        return
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    if keep < len(data):
        with path.open("r+b") as handle:
            handle.truncate(keep)


def append_line(path: Path, line: str) -> None:
    """Append one record with a single write call, so it is never interleaved or split."""
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        data = (line + "\n").encode("utf-8")
        if os.write(descriptor, data) != len(data):
            raise GradnasError(f"{path}: the disk is full or the write was cut short")
    finally:
        os.close(descriptor)
