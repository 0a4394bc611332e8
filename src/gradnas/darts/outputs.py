"""The files of a search's output directory, each replaced atomically (written to a temporary file, then
`os.replace`d), so a run killed at any moment leaves either the old or the new version, never half.

- `darts_config.json`: the run's configuration; a re-run with another one in the same directory is an error.
- `checkpoint.pt`: everything needed to continue after the last finished epoch (it holds the config too).
- `log.jsonl` (one JSON line per epoch), `log.csv` (per-edge lists spread over columns).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gradnas.errors import GradnasError

CONFIG_FILE = "darts_config.json"
CHECKPOINT_FILE = "checkpoint.pt"


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    write(temporary)
    os.replace(temporary, path)


def _write_text(path: Path, text: str) -> None:
    _atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _check_same(found: dict[str, Any], wanted: dict[str, Any], where: Path) -> None:
    differ = [
        f"{k} {found.get(k)!r} there, {wanted.get(k)!r} now"
        for k in sorted(found.keys() | wanted.keys())
        if found.get(k) != wanted.get(k)
    ]
    if differ:
        raise GradnasError(
            f"{where} belongs to a run with another configuration ({'; '.join(differ)}); "
            "use another output directory"
        )


def save_checkpoint(out: Path, state: dict[str, Any]) -> None:
    _atomic(out / CHECKPOINT_FILE, lambda tmp: torch.save(state, tmp))


def claim(out: Path, config: dict[str, Any]) -> dict[str, Any] | None:
    """Make `out` this run's directory and return its checkpoint (None before the first one). An
    error, with nothing written, when `out` holds a config or a checkpoint of another configuration.
    `config` must be JSON-typed (lists, not tuples) so that it compares equal to its stored copy."""
    config_path, checkpoint_path = out / CONFIG_FILE, out / CHECKPOINT_FILE
    if config_path.exists():
        _check_same(json.loads(config_path.read_text(encoding="utf-8")), config, config_path)
    state = None
    if checkpoint_path.exists():
        state = torch.load(checkpoint_path, weights_only=True)
        _check_same(state["config"], config, checkpoint_path)
    if not config_path.exists():
        out.mkdir(parents=True, exist_ok=True)
        _write_text(config_path, json.dumps(config, indent=2) + "\n")
    return state


def write_jsonl(out: Path, log: list[dict[str, Any]]) -> None:
    _write_text(out / "log.jsonl", "".join(json.dumps(entry) + "\n" for entry in log))


def _flat_row(entry: dict[str, Any]) -> dict[str, Any]:
    """Scalars as they are, lists of numbers as NAME_0, NAME_1, ...; nested lists (α) left out."""
    row: dict[str, Any] = {}
    for key, value in entry.items():
        if not isinstance(value, list):
            row[key] = value
        elif not any(isinstance(v, list) for v in value):
            row.update({f"{key}_{i}": v for i, v in enumerate(value)})
    return row


def write_csv(out: Path, log: list[dict[str, Any]]) -> None:
    rows = [_flat_row(entry) for entry in log]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _write_text(out / "log.csv", buffer.getvalue())
