"""A results store on SQLite, so score runs resume after a crash and many processes can write.

One row per :class:`ScoreKey`. Durability and concurrency choices:

- WAL journal: readers never block the writer, and writers queue on the lock (busy timeout 60 s).
- ``synchronous=FULL``: each commit is fsynced into the WAL before ``put_many`` returns, so a
  committed row survives a ``kill -9`` of the writer and also an OS crash or power loss.
  (``NORMAL`` would already survive ``kill -9``; FULL costs one fsync per ``put_many``, which is
  small next to the seconds spent computing a score.)
- ``INSERT OR IGNORE`` on the primary key: re-runs and concurrent writers never duplicate a row;
  the first value written for a key wins.
- One connection per process, opened lazily: a connection inherited through ``fork`` is never
  used (nor closed) in the child, which opens its own. SQLite's WAL needs a local filesystem.
"""

from __future__ import annotations

import functools
import math
import operator
import os
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from gradnas.errors import GradnasError, unknown_choice

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 60.0

# Primary-key order puts the fields `existing` groups by first, so its queries use the index.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    space TEXT NOT NULL,
    dataset TEXT NOT NULL,
    batch_size INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    probe TEXT NOT NULL,
    proxy TEXT NOT NULL,
    version TEXT NOT NULL,
    arch TEXT NOT NULL,
    value REAL,
    reason TEXT,
    seconds REAL,
    created TEXT NOT NULL,
    PRIMARY KEY (space, dataset, batch_size, seed, probe, proxy, version, arch)
) WITHOUT ROWID
"""

# Connections inherited through fork: kept referenced so they are never closed in the child.
_INHERITED: list[sqlite3.Connection] = []

_INT_FIELDS = ("batch_size", "seed")


def _coerce(field: str, value: object) -> int | str:
    """A key field's value as stored: integers for batch_size and seed, strings otherwise."""
    if field not in _INT_FIELDS:
        return str(value)
    try:
        return operator.index(value)
    except TypeError:
        raise GradnasError(f"ScoreKey.{field} must be an integer, got {value!r}") from None


@dataclass(frozen=True)
class ScoreKey:
    """Everything a score depends on; ``probe`` names the probe-batch draw, ``version`` the
    proxy implementation. Strings and integers are normalized on creation."""

    space: str
    arch: str
    dataset: str
    proxy: str
    batch_size: int
    seed: int
    probe: str
    version: str

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, _coerce(f.name, getattr(self, f.name)))


KEY_FIELDS = tuple(f.name for f in fields(ScoreKey))
_GROUP = ("space", "dataset", "batch_size", "seed", "probe", "proxy", "version")
_COLUMNS = (*KEY_FIELDS, "value", "reason", "seconds", "created")


@dataclass(frozen=True)
class StoredScore:
    """One score: ``value`` is NaN when it could not be computed, and then ``reason`` says why.
    ``created`` (ISO-8601 UTC) is filled in by the store."""

    key: ScoreKey
    value: float
    reason: str | None = None
    seconds: float | None = None
    created: str | None = None


def _to_db(row: StoredScore) -> tuple:
    if not isinstance(row, StoredScore):
        raise GradnasError(f"put_many takes StoredScore rows, got {type(row).__name__}")
    try:
        value = float(row.value)
        seconds = None if row.seconds is None else float(row.seconds)
    except (TypeError, ValueError):
        raise GradnasError(f"score value and seconds must be numbers: {row!r}") from None
    if math.isnan(value):
        if not row.reason:
            raise GradnasError(f"a NaN score needs a reason: {row.key}")
        value = None
    created = row.created or datetime.now(timezone.utc).isoformat()
    return (*astuple(row.key), value, row.reason, seconds, created)


def _from_db(values: tuple) -> StoredScore:
    key = ScoreKey(*values[: len(KEY_FIELDS)])
    value, reason, seconds, created = values[len(KEY_FIELDS) :]
    return StoredScore(key, math.nan if value is None else value, reason, seconds, created)


def readable(method):
    """A damaged file (not a database, a corrupted page) or a full disk is a one-line error
    naming the store."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise _unusable(self.path, exc) from None

    return wrapper


def _disk_full(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


def _unusable(path: Path, exc: sqlite3.Error) -> GradnasError:
    if _disk_full(exc):
        return GradnasError(
            f"results store {str(path)!r}: the disk is full; free space and re-run (every score "
            "stored before is kept)"
        )
    return GradnasError(
        f"results store {str(path)!r} cannot be read ({exc}); if it is damaged, move it away and "
        "re-run to recompute its scores"
    )


class Database:
    """A SQLite file at ``path`` (created if needed) holding the tables of ``schema``, opened with
    the durability and concurrency settings above; subclasses add what they store."""

    schema = _SCHEMA

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        try:  # fail early on an unusable folder; the connection itself opens on first use
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GradnasError(
                f"cannot create the folder of results store {str(self.path)!r}: {exc}"
            ) from None

    def __getstate__(self) -> dict:
        return {"path": self.path}

    def __setstate__(self, state: dict) -> None:
        self.path, self._conn, self._pid = state["path"], None, -1

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connection(self) -> sqlite3.Connection:
        """This process's connection, opened on first use; a store this call created and could
        not set up (a full disk) is removed, not left behind empty."""
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        self._drop_inherited()
        created = not self.path.exists()
        conn = None
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise GradnasError(
                    f"results store {str(self.path)!r} cannot use WAL mode "
                    f"(got {mode!r}); put it on a local filesystem"
                )
            conn.execute("PRAGMA synchronous=FULL")
            with transaction(conn):
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version == 0:
                    conn.execute(self.schema)
                    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (sqlite3.Error, GradnasError) as exc:
            if conn is not None:
                conn.close()
            if created:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            if isinstance(exc, GradnasError):
                raise
            if _disk_full(exc):
                raise _unusable(self.path, exc) from None
            raise GradnasError(f"cannot open results store {str(self.path)!r}: {exc}") from None
        if version not in (0, SCHEMA_VERSION):
            conn.close()
            raise GradnasError(
                f"results store {str(self.path)!r} has schema version {version}; "
                f"this gradnas reads version {SCHEMA_VERSION}"
            )
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _drop_inherited(self) -> None:
        """Forget a connection inherited through fork without closing it (see module docstring)."""
        if self._conn is not None and self._pid != os.getpid():
            _INHERITED.append(self._conn)
            self._conn = None

    def close(self) -> None:
        """Close this process's connection (a later call reopens it)."""
        self._drop_inherited()
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Store(Database):
    """Scores keyed by :class:`ScoreKey` in the SQLite file at ``path`` (created if needed)."""

    def put(
        self, key: ScoreKey, value: float, reason: str | None = None, seconds: float | None = None
    ) -> bool:
        """Store one score; False if ``key`` was already stored (the old value is kept)."""
        return self.put_many([StoredScore(key, value, reason, seconds)]) == 1

    @readable
    def put_many(self, rows: Iterable[StoredScore]) -> int:
        """Store ``rows`` in one transaction, skipping keys already stored; the number inserted."""
        values = [_to_db(r) for r in rows]
        if not values:
            return 0
        conn = self._connection()
        placeholders = ", ".join("?" * len(_COLUMNS))
        with transaction(conn):
            before = conn.total_changes
            conn.executemany(
                f"INSERT OR IGNORE INTO scores ({', '.join(_COLUMNS)}) VALUES ({placeholders})", values
            )
            return conn.total_changes - before

    @readable
    def get(self, key: ScoreKey) -> StoredScore | None:
        """The stored score for ``key``, or None."""
        where = " AND ".join(f"{f} = ?" for f in KEY_FIELDS)
        row = (
            self._connection()
            .execute(f"SELECT {', '.join(_COLUMNS)} FROM scores WHERE {where}", astuple(key))
            .fetchone()
        )
        return None if row is None else _from_db(row)

    @readable
    def existing(self, keys: Iterable[ScoreKey]) -> set[ScoreKey]:
        """The subset of ``keys`` already stored: one indexed query per (everything but arch)."""
        groups: dict[tuple, list[ScoreKey]] = defaultdict(list)
        for key in keys:
            groups[tuple(getattr(key, f) for f in _GROUP)].append(key)
        where = " AND ".join(f"{f} = ?" for f in _GROUP)
        conn = self._connection()
        found: set[ScoreKey] = set()
        for group, members in groups.items():
            archs = {a for (a,) in conn.execute(f"SELECT arch FROM scores WHERE {where}", group)}
            found.update(k for k in members if k.arch in archs)
        return found

    @readable
    def to_frame(self, **filters: object) -> pd.DataFrame:
        """All scores as a tidy frame, one row per score; ``filters`` are key fields, each a value
        or a list of values to keep. ``value`` is NaN where it could not be computed."""
        clauses, params = [], []
        for name, wanted in filters.items():
            if name not in KEY_FIELDS:
                raise unknown_choice("filter", name, KEY_FIELDS)
            options = list(wanted) if isinstance(wanted, (list, tuple, set)) else [wanted]
            clauses.append(f"{name} IN ({', '.join('?' * len(options))})")
            params.extend(_coerce(name, o) for o in options)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = (
            self._connection().execute(f"SELECT {', '.join(_COLUMNS)} FROM scores{where}", params).fetchall()
        )
        frame = pd.DataFrame.from_records(rows, columns=list(_COLUMNS))
        try:
            types = {"batch_size": "int64", "seed": "int64", "value": "float64", "seconds": "float64"}
            frame = frame.astype(types)
        except (TypeError, ValueError) as exc:
            raise GradnasError(
                f"results store {str(self.path)!r} holds a value that is not a number: {exc}"
            ) from None
        frame["created"] = pd.to_datetime(frame["created"], utc=True, format="ISO8601")
        return frame


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): takes the write lock up front, so a
    writer waits on the busy timeout instead of failing when it would upgrade a read lock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:  # some errors (a full disk) roll back by themselves
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
