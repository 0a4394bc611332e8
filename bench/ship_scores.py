"""Write a correlation study's scores as a shipped score table (what `gradnas.load_scores` reads).

The study is one `gradnas correlate` run over a whole space (or part of one: the table keeps the
architectures with every proxy scored, and its provenance says how many). Long runs span sessions:
ship the partial table, commit it, and a later `correlate` of the same configuration takes those
scores from it and computes only the rest.

    python bench/ship_scores.py results/full-cifar10          # into src/gradnas/data/shipped
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gradnas.correlate import STORE_FILE, Study
from gradnas.data.paths import SHIPPED_DIR
from gradnas.run.store import Store
from gradnas.run.tables import write_table
from gradnas.spaces import get_space


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path, help="a `gradnas correlate` output directory")
    parser.add_argument("--into", type=Path, default=SHIPPED_DIR, help="(default: the shipped data)")
    args = parser.parse_args()
    study = Study.load(args.study)
    size = sum(1 for _ in get_space(study.space).archs())
    with Store(args.study / STORE_FILE) as store:
        provenance = write_table(
            store, study.space, study.probe, list(study.proxies), args.into, space_size=size
        )
    print(json.dumps({k: provenance[k] for k in ("space", "probe", "archs", "space_size", "nan")}, indent=1))


if __name__ == "__main__":
    main()
