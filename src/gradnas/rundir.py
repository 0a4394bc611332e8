"""The files of a resumable run's directory (a differentiable search, a training), each replaced atomically
(written to a temporary file, then `os.replace`d), so a run killed at any moment leaves either the old or
the new version, never half.

- a configuration file (`darts_config.json`, `train_config.json`): a re-run with another configuration in
  the same directory is an error.
- `checkpoint.pt`: everything needed to continue after the last finished epoch (it holds the config too).
- `log.jsonl` (one JSON line per epoch), `log.csv` (per-edge lists spread over columns).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import torch

from gradnas.outdir import atomic, refuse, write_text
from gradnas.outdir import claim as claim_config

CHECKPOINT_FILE = "checkpoint.pt"


def save_checkpoint(out: Path, state: dict[str, Any]) -> None:
    atomic(out / CHECKPOINT_FILE, lambda tmp: torch.save(state, tmp))


def claim(out: Path, config: dict[str, Any], config_file: str) -> dict[str, Any] | None:
    """Make `out` this run's directory (its configuration in `config_file`) and return its checkpoint
    (None before the first one). An error, with nothing written, when `out` holds a config or a
    checkpoint of another configuration.
    `config` must be JSON-typed (lists, not tuples) so that it compares equal to its stored copy."""
    checkpoint_path = out / CHECKPOINT_FILE
    state = None
    if checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)  # any device resumes
        if state["config"] != config:
            raise refuse(checkpoint_path, state["config"], config)
    claim_config(out / config_file, config)
    return state


def write_jsonl(out: Path, log: list[dict[str, Any]]) -> None:
    write_text(out / "log.jsonl", "".join(json.dumps(entry) + "\n" for entry in log))


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
    write_text(out / "log.csv", buffer.getvalue())
