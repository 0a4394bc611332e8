"""Sharing a long bench study between processes: each takes every N-th job from its K-th."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def part(jobs: list[T], spec: str | None) -> list[T]:
    """Every N-th job from the K-th (1-based) for `K/N`; all of them for None."""
    if spec is None:
        return jobs
    k, _, n = spec.partition("/")
    if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise SystemExit(f"--part reads K/N with 1 <= K <= N, got {spec!r}")
    return jobs[int(k) - 1 :: int(n)]
