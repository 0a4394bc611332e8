"""Many seeded runs of one search configuration: resumable histories, a summary, a curve.

Each finished run is appended to `histories.jsonl` as one line in a single write, so a killed
campaign loses at most the run in progress; a restart cuts a torn last line and skips the runs
already there.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import GradnasError
from ..evaluate.plots import search_curves
from ..outdir import append_line, claim, drop_torn_tail
from ..registry import Registry
from ..validate import positive_int
from .algorithms import evolution, random_search, reinforce
from .clock import Clock, Exhausted, parse_cost
from .hyperband import bohb, hyperband
from .knas import knas, select_from_n
from .objective import Objective, Observe, Record, lookup
from .predicted import predictor_guided
from .screen import ScoreFn, Screen
from .trained import TABLE, Training, parse_evaluate, trained

ALGORITHMS: Registry[Callable] = Registry(
    "search algorithm",
    {
        "rs": random_search,
        "rea": evolution,
        "reinforce": reinforce,
        "hb": hyperband,
        "bohb": bohb,
        "knas": knas,
        "select": select_from_n,
        "predictor": predictor_guided,
    },
)
NEEDS_PROXY = ("knas", "select", "predictor")
HISTORY_FILE = "histories.jsonl"


@dataclass(frozen=True)
class SearchConfig:
    """One algorithm's campaign: `assist` names the screening proxy (G-variants, KNAS, selection);
    `options` are the algorithm's own keyword arguments (e.g. k and m for KNAS, n for selection);
    `evaluate` is `table` (the benchmark's accuracy, charged `cost`) or `train:EPOCHS[:RECIPE]`
    (real training, charged its measured seconds)."""

    algo: str
    dataset: str = "cifar10"
    budget: float | None = 12000.0
    max_evals: int | None = None
    cost: str = "knas"
    assist: str | None = None
    pool: int = 10
    charge_proxy: bool = False
    runs: int = 100
    seed: int = 0
    options: dict = field(default_factory=dict)
    evaluate: str = TABLE

    def __post_init__(self) -> None:
        ALGORITHMS.lookup(self.algo)
        parse_evaluate(self.evaluate)
        if self.algo in NEEDS_PROXY and not self.assist:
            raise GradnasError(f"algorithm {self.algo!r} ranks candidates by a proxy: name one as assist")
        positive_int(self.runs, "runs")

    @property
    def label(self) -> str:
        """e.g. "G-REA[gradsign]", "KNAS[mgm] k=40", "RS"."""
        names = {"select": "select", "knas": "KNAS", "predictor": "Predictor"}
        name = names.get(self.algo, self.algo.upper())
        if self.assist and self.algo not in NEEDS_PROXY:
            name = f"G-{name}"
        if self.assist:
            name += f"[{self.assist}]"
        extras = " ".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        evaluation = "" if self.evaluate == TABLE else self.evaluate
        return " ".join(filter(None, [name, extras, evaluation]))


def search_once(
    space, config: SearchConfig, observe: Observe, scores: ScoreFn | None, run: int
) -> tuple[list[Record], list[int]]:
    """One seeded run: its full history and the sizes of the pools the proxy was asked to score."""
    objective = Objective(observe, Clock(config.budget, config.max_evals))
    screen = (
        None if scores is None else Screen(scores, objective, pool=config.pool, charge=config.charge_proxy)
    )
    rng = np.random.default_rng([config.seed, run])
    try:
        ALGORITHMS[config.algo](space, objective, rng, screen, **config.options)
    except Exhausted:
        pass
    return objective.history, ([] if screen is None else screen.pool_sizes)


def _finished(path: Path) -> dict[int, dict]:
    """Runs already written; a line that is not JSON (torn by a kill) is skipped."""
    done: dict[int, dict] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            done[row["run"]] = row
    return done


def run_campaign(
    space, config: SearchConfig, observe: Observe, scores: ScoreFn | None, out_dir: Path, progress=None
) -> list[dict]:
    """All `config.runs` runs, resuming from `out_dir/histories.jsonl`; one dict per run."""
    path = out_dir / HISTORY_FILE
    claim(out_dir / "config.json", _identity(config))
    drop_torn_tail(path)
    done = _finished(path)
    for run in range(config.runs):
        if run in done:
            continue
        history, pools = search_once(space, config, observe, scores, run)
        pick = Objective.pick_from(history)
        row = {
            "run": run,
            "pick": None if pick is None else asdict(pick),
            "pools": pools,
            "history": [asdict(r) for r in history],
        }
        append_line(path, json.dumps(row))
        done[run] = row
        if progress:
            progress(run)
    return [done[r] for r in range(config.runs)]


def _identity(config: SearchConfig) -> dict:
    """The configuration as JSON; `evaluate` only when it trains, so campaigns written before
    searches could train resume as they are."""
    identity = json.loads(json.dumps(asdict(config)))
    if config.evaluate == TABLE:
        del identity["evaluate"]
    return identity


def summarize(config: SearchConfig, runs: list[dict]) -> dict:
    """Mean ± std of the pick's test accuracy over runs, with evaluations and simulated time."""
    picks = [Record(**r["pick"]).reported for r in runs if r["pick"] is not None]
    evals = [sum(h["evaluated"] for h in r["history"]) for r in runs]
    clocks = [r["history"][-1]["clock"] if r["history"] else 0.0 for r in runs]
    return {
        "search": config.label,
        "dataset": config.dataset,
        "runs": len(runs),
        "mean": float(np.mean(picks)) if picks else math.nan,
        "std": float(np.std(picks)) if picks else math.nan,
        "no_pick": len(runs) - len(picks),
        "evaluations": float(np.mean(evals)),
        "seconds": float(np.mean(clocks)),
        "budget": config.budget,
        "max_evals": config.max_evals,
        "cost": config.cost if config.evaluate == TABLE else "measured",
        "evaluate": config.evaluate,
    }


def best_so_far(runs: list[dict], times: np.ndarray) -> np.ndarray:
    """Mean over runs of the best full-fidelity accuracy observed by each simulated time (NaN
    where some run has observed nothing yet)."""
    curves = np.full((len(runs), len(times)), np.nan)
    for i, run in enumerate(runs):
        best = -np.inf
        for h in run["history"]:
            if h["fidelity"] == 1.0 and h["evaluated"] and math.isfinite(h["accuracy"]):
                best = max(best, h["accuracy"])
                curves[i, times >= h["clock"]] = best
    return curves.mean(0)


def run_searches(
    space,
    configs: list[SearchConfig],
    benchmark,
    scores: Callable[[str], ScoreFn],
    out_dir: str | Path,
    progress=None,
    training: Training | None = None,
) -> pd.DataFrame:
    """Every configuration's campaign under `out_dir/<label>/`, then `summary.csv` and one
    `curves-<dataset>-<budget>.png` per dataset and budget protocol (searches that evaluate
    nothing have no curve). `benchmark` gives the accuracies of the configurations evaluated by
    the table (it may be None when all train), `training` says how the others train, and
    `scores(name)` gives a proxy's (or an ensemble's) score function."""
    out = Path(out_dir)
    # every score source first: an unknown proxy fails before any campaign runs, and each store is read once
    sources = {c.assist: scores(c.assist) for c in configs if c.assist is not None}
    tables = {c.dataset: _lookup(benchmark, c.dataset) for c in configs if c.evaluate == TABLE}
    rows, curves = [], {}
    for config in configs:
        plan = parse_evaluate(config.evaluate)
        if plan is None:
            observe = lookup(tables[config.dataset], parse_cost(config.cost, config.dataset, benchmark))
        elif training is None:
            raise GradnasError(f"{config.label} trains its candidates: say where and how (training)")
        else:
            observe = trained(training, config.dataset, *plan)
        runs = run_campaign(
            space, config, observe, sources.get(config.assist), out / _folder(config), progress
        )
        rows.append(summarize(config, runs))
        if any(h["evaluated"] for r in runs for h in r["history"]):
            horizon = max(r["history"][-1]["clock"] for r in runs if r["history"])
            times = np.linspace(0.0, horizon, 200)
            curves.setdefault(_protocol(config), {})[config.label] = (times, best_so_far(runs, times))
    summary = pd.DataFrame(rows)
    summary.to_csv(out / "summary.csv", index=False)
    for protocol, lines in curves.items():
        search_curves(lines, out / f"curves-{_safe(protocol)}.png", f"NB201 {protocol}: mean over runs")
    return summary


def _protocol(config: SearchConfig) -> str:
    """The dataset and budget that make curves comparable, e.g. "cifar10 12000 s knas"."""
    budget = [
        f"{config.budget:g} s" if config.budget else "",
        f"{config.max_evals} evals" if config.max_evals else "",
    ]
    charged = config.cost if config.evaluate == TABLE else config.evaluate
    return " ".join([config.dataset, *filter(None, budget), charged])


def _lookup(benchmark, dataset: str) -> Callable[[str], float]:
    """The benchmark's accuracy on `dataset` as one dictionary lookup per arch."""
    archs = benchmark.archs()
    table = dict(zip(archs, benchmark.query_many(archs, dataset)))
    return lambda arch: table[arch] if arch in table else benchmark.query(arch, dataset)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.=" else "_" for c in text)


def _folder(config: SearchConfig) -> str:
    """A file-system-safe folder name for one configuration."""
    text = f"{config.dataset}-{config.label}-{config.cost}-b{config.budget}-e{config.max_evals}"
    text += "-charged" if config.charge_proxy else ""
    return _safe(text)


def expand(
    algos: list[str],
    *,
    ks=(40,),
    ms=(100,),
    ns=(100,),
    options: dict | None = None,
    select_by: str | None = None,
    **common,
) -> list[SearchConfig]:
    """One configuration per algorithm, and per value of its own options (k and m for KNAS, n
    for selection from N), sharing everything else; `options` maps an algorithm to more of its
    keyword arguments (e.g. {"rea": {"mutation": "node"}}); `select_by` is selection's ranker
    when no `assist` is given (the space's default ranker)."""
    configs = []
    for algo in algos:
        own = dict(common)
        if algo == "knas":
            grid = [{"k": k, "m": m} for m in ms for k in ks]
        elif algo == "select":
            grid = [{"n": n} for n in ns]
            own["assist"] = own.get("assist") or select_by
        else:
            grid = [dict((options or {}).get(algo, {}))]
        configs.extend(SearchConfig(algo, options=options, **own) for options in grid)
    return configs
