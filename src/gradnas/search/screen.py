"""Proxy screening for the assisted searches: score a pool of candidates, keep the best-scored.

Scores come from the score store (the one `gradnas correlate` fills, seeded from the shipped score
table where one matches), so repeated runs reuse them; missing ones are computed on demand and
stored. An ensemble ranks the pool's own members, since an ensemble score exists only within a set
(see `evaluate.ensemble`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ..devices import DEFAULT_DEVICE
from ..errors import GradnasError
from ..evaluate.ensemble import ensemble_values, is_ensemble, parse_ensemble
from ..proxies import get_proxies
from ..run.store import Store
from ..run.tables import fill_store
from ..run.tasks import ProbeSpec, ScoreTask, run_task, stored_rows

# scores(candidates) -> (higher-is-better values, seconds the scores cost)
ScoreFn = Callable[[Sequence[str]], tuple[np.ndarray, float]]


class StoredScores:
    """A proxy's or an ensemble's scores for `space` archs under the probe `spec`, held in memory
    from the store at `path`; archs without a score are computed (and stored) when asked for,
    or are an error when `compute` is off. Computed ones are computed on `device`."""

    def __init__(
        self,
        name: str,
        path,
        space: str,
        spec: ProbeSpec,
        *,
        compute: bool = True,
        progress: bool = False,
        device: str = DEFAULT_DEVICE,
    ):
        self.name, self.progress, self._bar, self.device = name, progress, None, device
        self.members = parse_ensemble(name) if is_ensemble(name) else {name: 1.0}
        self.infos = {info.name: info for info in get_proxies(self.members)}
        self.directions = {name: info.higher_is_better for name, info in self.infos.items()}
        self.store, self.space, self.spec, self.compute = Store(path), space, spec, compute
        fill_store(self.store, space, spec, self.members)
        frame = self.store.to_frame(
            space=space,
            dataset=spec.dataset,
            batch_size=spec.batch_size,
            seed=spec.seed,
            probe=spec.label,
            proxy=list(self.members),
        )
        self.values: dict[str, dict[str, float]] = {m: {} for m in self.members}
        self.seconds: dict[str, float] = {}
        for row in frame.itertuples():
            if row.version == self.infos[row.proxy].version:
                self._keep(row.proxy, row.arch, row.value, row.seconds)

    def _keep(self, proxy: str, arch: str, value: float, seconds: float | None) -> None:
        self.values[proxy][arch] = value
        if seconds is not None and np.isfinite(seconds):
            self.seconds[arch] = max(self.seconds.get(arch, 0.0), seconds)

    def _fill(self, archs: Sequence[str]) -> None:
        missing = {a: tuple(m for m in self.members if a not in self.values[m]) for a in archs}
        missing = {a: names for a, names in missing.items() if names}
        if missing and not self.compute:
            raise GradnasError(
                f"{len(missing)} archs have no stored {'/'.join(self.members)} score, "
                f"e.g. {next(iter(missing))}; score them first (with correlate over all archs) "
                "or allow computing them (compute=True)"
            )
        for arch, names in missing.items():
            rows = stored_rows(run_task(ScoreTask(self.space, arch, self.spec, names, self.device)))
            for row in rows:
                self._keep(row.key.proxy, arch, row.value, row.seconds)
            self.store.put_many(rows)
            self._count()

    def _count(self) -> None:
        """One more architecture scored: a running count on stderr when progress is on."""
        if not self.progress:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(desc=f"computing {self.name} scores (stored for reuse)", unit="arch")
        self._bar.update()

    def __call__(self, archs: Sequence[str]) -> tuple[np.ndarray, float]:
        self._fill(archs)
        frame = pd.DataFrame({m: [self.values[m][a] for a in archs] for m in self.members})
        if len(self.members) > 1:
            values = ensemble_values(frame, self.name, self.directions)
        else:
            (name,) = self.members
            values = frame[name].to_numpy(dtype=np.float64) * (1 if self.directions[name] else -1)
        return values, float(sum(self.seconds.get(a, 0.0) for a in set(archs)))


class Screen:
    """Picks the best-scored of a pool (an undefined score never wins); records every pool's
    size, and charges the scores' seconds to the objective's clock when `charge` is on."""

    def __init__(self, scores: ScoreFn, objective, *, pool: int = 10, charge: bool = False):
        if not (isinstance(pool, int) and pool >= 1):
            raise GradnasError(f"the screening pool must hold at least one architecture, got {pool!r}")
        self.scores, self.objective, self.pool, self.charge = scores, objective, pool, charge
        self.pool_sizes: list[int] = []

    def score(self, candidates: Sequence[str]) -> np.ndarray:
        """The candidates' scores, higher is better and an undefined one -inf."""
        values, seconds = self.scores(candidates)
        self.pool_sizes.append(len(candidates))
        if self.charge:
            self.objective.charge_overhead(seconds)
        return np.where(np.isfinite(values), values, -np.inf)


def propose(space, draw: Callable[[], object], screen: Screen | None) -> tuple[object, float | None]:
    """One architecture to evaluate: `draw()` itself, or with a screen the best-scored of
    `screen.pool` draws (the G-variants' step; an undefined score never wins)."""
    if screen is None:
        return draw(), None
    pool = [draw() for _ in range(screen.pool)]
    values = screen.score([space.format(a) for a in pool])
    best = int(np.argmax(values))
    return pool[best], float(values[best])
