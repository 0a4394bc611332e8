"""The public workflow: score architectures of a search space on a probe batch, and rank them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import GradnasError
from .proxies import get_proxies
from .run.executor import execute
from .run.tasks import ProbeSpec, make_tasks
from .spaces import get_space


def sample_archs(space: str, n: int, seed: int) -> list[str]:
    """`n` distinct architectures drawn uniformly with `seed`, as canonical strings."""
    searchspace = get_space(space)
    return [searchspace.format(a) for a in searchspace.sample_many(n, np.random.default_rng(seed))]


def rank(
    archs: list[str],
    proxies: list[str],
    spec: ProbeSpec,
    *,
    space: str = "nb201",
    sort_by: str | None = None,
    workers: int = 1,
    progress: bool = True,
) -> pd.DataFrame:
    """Score every architecture (one per-sample pass each) and sort, best first by `sort_by`
    (default: the first proxy). NaN scores sort last; their reasons are in `<proxy>_reason`."""
    infos = get_proxies(proxies)
    key = sort_by or infos[0].name
    if key not in [i.name for i in infos]:
        raise GradnasError(f"cannot sort by {key!r}: it is not among the proxies scored")
    rows = []
    for result in execute(make_tasks(space, archs, spec, proxies), workers=workers, progress=progress):
        row = {"arch": result.task.arch, "seconds": result.seconds}
        for name, s in result.scores.items():
            row[name] = s.value
            row[f"{name}_reason"] = s.reason
        rows.append(row)
    frame = pd.DataFrame(rows)
    ascending = not next(i for i in infos if i.name == key).higher_is_better
    frame = frame.sort_values(key, ascending=ascending, na_position="last", kind="stable")
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame.reset_index(drop=True)
