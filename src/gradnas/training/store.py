"""Training results on SQLite, beside the score store and with its durability (see run/store.py):
one row per key, the first result written for a key wins, so re-runs reuse what was trained."""

from __future__ import annotations

import json
import math
from dataclasses import astuple, dataclass, fields
from datetime import datetime, timezone

from ..run.store import Database, readable, transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trainings (
    space TEXT NOT NULL,
    arch TEXT NOT NULL,
    dataset TEXT NOT NULL,
    recipe TEXT NOT NULL,
    split TEXT NOT NULL,
    seed INTEGER NOT NULL,
    dtype TEXT NOT NULL,
    version TEXT NOT NULL,
    val_accuracy REAL,
    test_accuracy REAL,
    train_loss REAL,
    epochs INTEGER NOT NULL,
    seconds REAL NOT NULL,
    reason TEXT,
    log TEXT NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (space, arch, dataset, recipe, split, seed, dtype, version)
) WITHOUT ROWID
"""


@dataclass(frozen=True)
class TrainKey:
    """Everything a training result depends on: `recipe` is the recipe's fields as canonical JSON
    (epochs included), `split` how the data was divided, `version` the trainer's."""

    space: str
    arch: str
    dataset: str
    recipe: str
    split: str
    seed: int
    dtype: str
    version: str


@dataclass(frozen=True)
class TrainResult:
    """A finished training, or one stopped by a non-finite loss: then the accuracies are NaN,
    `reason` says at which epoch and why, and `log` holds the epochs finished before it."""

    key: TrainKey
    val_accuracy: float
    test_accuracy: float
    train_loss: float
    epochs: int
    seconds: float
    reason: str | None
    log: list[dict]

    @property
    def ok(self) -> bool:
        return self.reason is None


_KEY = tuple(f.name for f in fields(TrainKey))
_VALUES = ("val_accuracy", "test_accuracy", "train_loss", "epochs", "seconds", "reason", "log")


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value


class TrainStore(Database):
    """Training results keyed by :class:`TrainKey` in the SQLite file at `path`."""

    schema = _SCHEMA

    @readable
    def get(self, key: TrainKey) -> TrainResult | None:
        where = " AND ".join(f"{name} = ?" for name in _KEY)
        row = (
            self._connection()
            .execute(f"SELECT {', '.join(_VALUES)} FROM trainings WHERE {where}", astuple(key))
            .fetchone()
        )
        if row is None:
            return None
        val, test, loss, epochs, seconds, reason, log = row
        nan = math.nan
        return TrainResult(
            key,
            nan if val is None else val,
            nan if test is None else test,
            nan if loss is None else loss,
            epochs,
            seconds,
            reason,
            json.loads(log),
        )

    @readable
    def put(self, result: TrainResult) -> bool:
        """Store `result`; False when its key was already stored (the old one is kept)."""
        values = (
            *astuple(result.key),
            _number(result.val_accuracy),
            _number(result.test_accuracy),
            _number(result.train_loss),
            result.epochs,
            result.seconds,
            result.reason,
            json.dumps(result.log),
            datetime.now(timezone.utc).isoformat(),
        )
        conn = self._connection()
        columns = (*_KEY, *_VALUES, "created")
        marks = ", ".join("?" * len(columns))
        insert = f"INSERT OR IGNORE INTO trainings ({', '.join(columns)}) VALUES ({marks})"
        with transaction(conn):
            before = conn.total_changes
            conn.execute(insert, values)
            return conn.total_changes > before
