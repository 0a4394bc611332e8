"""The public workflow: rank your own models, or architectures of a search space, on a probe batch.

`device` is a spec of gradnas.devices ("auto": the first accelerator available, else the CPU)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from .data import ProbeBatch
from .devices import DEFAULT_DEVICE, resolve_device
from .errors import GradnasError
from .evaluate.ensemble import ensemble_values, is_ensemble, parse_ensemble
from .models import Candidate, build_candidate
from .proxies import get_proxies, score
from .run.executor import execute
from .run.tasks import ProbeSpec, make_tasks
from .spaces import get_space
from .validate import check_seed


def sample_archs(space: str, n: int, seed: int) -> list[str]:
    """`n` distinct architectures drawn with the space's sampler and `seed`, as canonical strings."""
    searchspace = get_space(space)
    return [searchspace.format(a) for a in searchspace.sample_many(n, np.random.default_rng(seed))]


def rank_archs(
    archs: list[str],
    proxies: list[str],
    spec: ProbeSpec,
    *,
    space: str = "nb201",
    sort_by: str | None = None,
    workers: int | str = 1,
    progress: bool = True,
    device: str | torch.device = DEFAULT_DEVICE,
) -> pd.DataFrame:
    """Score every architecture (one per-sample pass each) and sort, best first by `sort_by`
    (default: the first proxy; an ensemble of them, e.g. "ensemble:default", also sorts). NaN
    scores sort last; their reasons are in `<proxy>_reason`. `workers`: processes (or "auto": one
    per core, or per GPU; see gradnas.run.executor)."""
    check_sort_key(proxies, sort_by)
    stream = score_archs(archs, proxies, spec, space=space, workers=workers, progress=progress, device=device)
    rows = list(stream)
    return ranked_frame(rows, proxies, sort_by)


def score_archs(
    archs: list[str],
    proxies: list[str],
    spec: ProbeSpec,
    *,
    space: str = "nb201",
    workers: int | str = 1,
    progress: bool = True,
    threads: int = 1,
    device: str | torch.device = DEFAULT_DEVICE,
) -> Iterator[dict]:
    """One row per architecture (arch, seconds, each proxy and its `<proxy>_reason`), yielded as
    each finishes, so a caller that is interrupted keeps the rows it has."""
    tasks = make_tasks(space, archs, spec, proxies, device)
    for result in execute(tasks, workers=workers, progress=progress, threads=threads):
        yield {"arch": result.task.arch, "seconds": result.seconds, **_score_columns(result.scores)}


def ranked_frame(rows: list[dict], proxies: list[str], sort_by: str | None = None) -> pd.DataFrame:
    """Rows of `score_archs` or `rank` as a DataFrame, best first (see `rank_archs`)."""
    return _ranked(pd.DataFrame(rows), proxies, sort_by)


def rank(
    candidates: Mapping[str, Candidate] | Sequence[Candidate],
    batch,
    proxies: list[str],
    *,
    sort_by: str | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = DEFAULT_DEVICE,
) -> pd.DataFrame:
    """Score your own models (modules, or factories called with torch seeded by `seed`) on one
    probe batch and sort them like `rank_archs`; a list is named by its factories' `__name__`.
    Each model is scored on `device` (a copy, where a module lives elsewhere), the batch too."""
    if not isinstance(batch, ProbeBatch):
        raise GradnasError(
            f"rank(candidates, batch, proxies) needs a ProbeBatch, got {type(batch).__name__}; "
            "to rank a search space's architectures use rank_archs(archs, proxies, spec)"
        )
    if isinstance(proxies, str) or not proxies:
        raise GradnasError(f"proxies must be a non-empty list of names, got {proxies!r}")
    check_seed(seed)
    check_sort_key(proxies, sort_by)
    device = resolve_device(device)
    if not isinstance(candidates, Mapping):
        names = [getattr(c, "__name__", f"model{i}") for i, c in enumerate(candidates)]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise GradnasError(
                f"several candidates are named {', '.join(map(repr, repeated))}; pass a dict to name them"
            )
        candidates = dict(zip(names, candidates))
    if not candidates:
        raise GradnasError("give at least one candidate model")
    rows = []
    for name, candidate in candidates.items():
        start = time.perf_counter()
        model = build_candidate(candidate, seed)
        try:
            scores = score(model, batch, proxies, dtype=dtype, seed=seed, device=device)
        except GradnasError as why:
            raise GradnasError(f"model {name!r}: {why}") from why
        rows.append({"model": name, "seconds": time.perf_counter() - start, **_score_columns(scores)})
    return _ranked(pd.DataFrame(rows), proxies, sort_by)


def check_sort_key(proxies: list[str], sort_by: str | None) -> None:
    """A sort key is one of the proxies scored, or an ensemble (`ensemble:a+b`, a named one)
    whose members all are (see `with_members`)."""
    names = [i.name for i in get_proxies(proxies)]
    key = sort_by or names[0]
    if is_ensemble(key):
        missing = [m for m in parse_ensemble(key) if m not in names]
        if missing:
            raise GradnasError(f"cannot sort by {key}: its members {', '.join(missing)} are not scored")
    elif key not in names:
        raise GradnasError(f"cannot sort by {sort_by!r}: it is not among the proxies scored")


def with_members(proxies: list[str], sort_by: str | None) -> list[str]:
    """The proxies to score for ranking by `sort_by`: those asked for, then any member of an
    ensemble key not among them."""
    if not is_ensemble(sort_by):
        return list(proxies)
    return [*proxies, *(m for m in parse_ensemble(sort_by) if m not in proxies)]


def _score_columns(scores) -> dict:
    row = {}
    for name, s in scores.items():
        row[name] = s.value
        row[f"{name}_reason"] = s.reason
    return row


def _ranked(frame: pd.DataFrame, proxies: list[str], sort_by: str | None) -> pd.DataFrame:
    """Best first by `sort_by` (default: the first proxy), NaN last, ties in input order. An
    ensemble key adds its column: the members' aggregated ranks within these rows."""
    key = sort_by or proxies[0]
    if is_ensemble(key):
        directions = {i.name: i.higher_is_better for i in get_proxies(list(parse_ensemble(key)))}
        frame = frame.assign(**{key: ensemble_values(frame, key, directions)})
        ascending = False
    else:
        ascending = not get_proxies([key])[0].higher_is_better
    frame = frame.sort_values(key, ascending=ascending, na_position="last", kind="stable")
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame.reset_index(drop=True)
