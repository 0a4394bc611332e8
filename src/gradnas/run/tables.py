"""Score tables shipped with gradnas: the proxies of a whole search space, computed once.

A table holds one (space, probe) configuration's scores in tidy form, one row per (arch, proxy):
the value (NaN with its reason where the proxy is undefined), the proxy's version and the seconds
the architecture's pass took. Its provenance (the probe draw, a fingerprint of the probe batch's
pixels and labels, each proxy's version, the gradnas and torch versions, how many architectures it
covers) sits beside it in JSON. Studies and searches copy the rows whose key matches theirs into
their own store instead of recomputing them. A row of another proxy version, or a table drawn from
other images, is never used: a warning says which proxy or table is out of date, and the scores
are recomputed.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from ..data.paths import SHIPPED_DIR
from ..errors import GradnasError
from ..outdir import atomic, write_text
from ..proxies import get_proxies
from .store import ScoreKey, Store, StoredScore
from .tasks import ProbeSpec

COLUMNS = ("arch", "proxy", "version", "value", "reason", "seconds")


def _stem(space: str, dataset: str) -> str:
    return f"scores_{space}_{dataset}"


def available(directory: Path | None = None) -> list[tuple[str, str]]:
    """The (space, dataset) pairs with a table in `directory` (default: the shipped tables)."""
    found = []
    for path in sorted((directory or SHIPPED_DIR).glob("scores_*_*.json")):
        space, _, dataset = path.stem.removeprefix("scores_").partition("_")
        found.append((space, dataset))
    return found


def probe_fingerprint(spec: ProbeSpec) -> str:
    """sha256 of the probe batch's inputs and labels: two tables (or a table and a run) share
    scores only if they probed with the very same images."""
    batch = spec.batch()
    digest = hashlib.sha256()
    for tensor in (batch.x, batch.y):
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class ScoreTable:
    """One table: its provenance, and its tidy rows (see the module docstring), read from `path`
    only when first asked for, so a run whose probe the table does not serve never loads them."""

    provenance: dict
    path: Path

    @classmethod
    def read(cls, space: str, dataset: str, directory: Path | None = None) -> ScoreTable | None:
        """The table of `space` probed with `dataset` (in `directory`, by default the shipped
        tables), or None when there is none."""
        meta = (directory or SHIPPED_DIR) / f"{_stem(space, dataset)}.json"
        if not meta.is_file():
            return None
        try:
            provenance = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise GradnasError(f"score table provenance {meta} cannot be read: {err}") from None
        return cls(provenance, meta.with_suffix(".parquet"))

    @cached_property
    def rows(self) -> pd.DataFrame:
        try:
            return pd.read_parquet(self.path, columns=list(COLUMNS))
        except (OSError, ValueError) as err:
            raise GradnasError(f"score table {self.path} cannot be read: {err}") from None

    def serves(self, space: str, spec: ProbeSpec) -> bool:
        """Whether this table's scores are the ones `spec` would compute on `space` (same probe
        draw and the same images); a table drawn from other images is announced, not used."""
        probe = self.provenance["probe"]
        same = (space, spec.dataset, spec.batch_size, spec.seed, spec.label) == (
            self.provenance["space"],
            probe["dataset"],
            probe["batch_size"],
            probe["seed"],
            probe["label"],
        )
        if same and probe["fingerprint"] != probe_fingerprint(spec):
            warnings.warn(
                f"the shipped {space}/{spec.dataset} score table was probed with other images than "
                "this run's (another data directory?): its scores are not used",
                stacklevel=2,
            )
            return False
        return same

    def current(self, proxies: Iterable[str]) -> pd.DataFrame:
        """The rows of `proxies` at this gradnas's versions; a proxy held at another version is
        named in a warning and left out (it will be recomputed)."""
        versions = {info.name: info.version for info in get_proxies(proxies)}
        held = self.rows[self.rows["proxy"].isin(list(versions))]
        fresh = held["version"] == held["proxy"].map(versions)
        stale = held.loc[~fresh, ["proxy", "version"]].drop_duplicates()
        for proxy, version in stale.itertuples(index=False):
            warnings.warn(
                f"the shipped score table holds {proxy} version {version}, this gradnas computes "
                f"version {versions[proxy]}: {proxy} is recomputed",
                stacklevel=2,
            )
        return held[fresh]

    def wide(self) -> pd.DataFrame:
        """One row per architecture, one column per proxy (NaN where undefined)."""
        frame = self.rows.pivot(index="arch", columns="proxy", values="value")
        frame = frame[list(dict.fromkeys(self.rows["proxy"]))].reset_index()
        frame.columns.name = None
        frame.attrs["provenance"] = self.provenance
        return frame


def load_scores(space: str = "nb201", dataset: str = "cifar10", *, tidy: bool = False) -> pd.DataFrame:
    """The shipped scores of `space` probed with `dataset`: one row per architecture and a column
    per proxy, or with `tidy` one row per (arch, proxy) with its version, NaN reason and seconds.
    The provenance (probe, versions, coverage) is in the frame's ``attrs["provenance"]``."""
    table = ScoreTable.read(space, dataset)
    if table is None:
        have = ", ".join(f"{s}/{d}" for s, d in available()) or "none"
        raise GradnasError(f"no shipped score table for {space}/{dataset}; shipped: {have}")
    if not tidy:
        return table.wide()
    frame = table.rows.copy()
    frame.attrs["provenance"] = table.provenance
    return frame


def fill_store(
    store: Store,
    space: str,
    spec: ProbeSpec,
    proxies: Iterable[str],
    archs: Iterable[str] | None = None,
    directory: Path | None = None,
) -> int:
    """Copy the shipped scores that `spec` would compute for `proxies` on `space` (of `archs`, by
    default every one) into `store`, never replacing what it holds; the number of scores copied."""
    table = ScoreTable.read(space, spec.dataset, directory)
    if table is None or not table.serves(space, spec):
        return 0
    rows = table.current(proxies)
    if archs is not None:
        rows = rows[rows["arch"].isin(set(archs))]
    return store.put_many(
        StoredScore(
            ScoreKey(space, r.arch, spec.dataset, r.proxy, spec.batch_size, spec.seed, spec.label, r.version),
            r.value,
            r.reason,
            r.seconds,
        )
        for r in rows.itertuples(index=False)
    )


def write_table(
    store: Store, space: str, spec: ProbeSpec, proxies: list[str], directory: Path, *, space_size: int
) -> dict:
    """Write the `store`'s current-version scores of `proxies` for (`space`, `spec`) as a table
    in `directory` (Parquet, then its provenance JSON, each replaced atomically); the provenance."""
    import torch

    from .. import __version__

    versions = {info.name: info.version for info in get_proxies(proxies)}
    frame = store.to_frame(
        space=space,
        dataset=spec.dataset,
        batch_size=spec.batch_size,
        seed=spec.seed,
        probe=spec.label,
        proxy=list(versions),
    )
    frame = frame[frame["version"] == frame["proxy"].map(versions)]
    counts = frame.groupby("arch")["proxy"].nunique()
    complete = set(counts.index[counts == len(versions)])
    rows = frame[frame["arch"].isin(complete)].sort_values(["arch", "proxy"])[list(COLUMNS)]
    rows = rows.astype({"arch": "category", "proxy": "category", "version": "category", "seconds": "float32"})
    if rows.empty:
        raise GradnasError(f"{store.path} holds no architecture with every one of {', '.join(versions)}")
    provenance = {
        "space": space,
        "probe": {
            "dataset": spec.dataset,
            "batch_size": spec.batch_size,
            "seed": spec.seed,
            "label": spec.label,
            "fingerprint": probe_fingerprint(spec),
        },
        "proxies": versions,
        "archs": len(complete),
        "space_size": space_size,
        "nan": {
            p: int(n)
            for p, n in rows.groupby("proxy", observed=True)["value"].apply(lambda v: v.isna().sum()).items()
        },
        "seconds_per_arch": float(rows.groupby("arch", observed=True)["seconds"].first().mean()),
        "gradnas": __version__,
        "torch": torch.__version__,
    }
    stem = directory / _stem(space, spec.dataset)
    atomic(stem.with_suffix(".parquet"), lambda tmp: rows.to_parquet(tmp, index=False, compression="zstd"))
    write_text(stem.with_suffix(".json"), json.dumps(provenance, indent=1) + "\n")
    return provenance
