"""A reduced-scale NB201 differentiable search: rules first, second and amended, three seeds each.

Each (rule, seed) is one `run_darts` into OUT/<rule>-s<seed>/ with the same CPU-sized settings;
as `run_darts` resumes from its last checkpoint, re-running this script after an interruption
continues where it stopped (and finished runs are only read back). Prints, per rule, a markdown
table of the final derived architecture, its NB201 test accuracy on CIFAR-10, the mean `skip_connect`
and `none` softmax weights over the edges at the end, and the accuracy after each epoch.

    OMP_NUM_THREADS=1 python bench/darts_search.py --epochs 10 --C 8 --N 1 --size 16 --samples 2000
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from darts_common import markdown, start
from gradnas.darts.run import DartsConfig, config_from, run_darts


def accuracy(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def rule_table(logs: dict[int, list[dict]]) -> str:
    rows = [
        [
            seed,
            "`" + log[-1]["arch"].replace("|", "\\|") + "`",  # GitHub tables need the pipes escaped
            accuracy(log[-1]["accuracy"]),
            f"{log[-1]['mean_skip']:.3f}",
            f"{log[-1]['mean_none']:.3f}",
            " → ".join(accuracy(entry["accuracy"]) for entry in log),
        ]
        for seed, log in logs.items()
    ]
    finals = [log[-1]["accuracy"] for log in logs.values() if log[-1]["accuracy"] is not None]
    if len(finals) > 1:
        spread = f"{statistics.mean(finals):.2f} ± {statistics.stdev(finals):.2f}"
        rows.append(["mean ± sd", "", spread, "", "", ""])
    header = ["seed", "final arch", "accuracy", "mean skip", "mean none", "accuracy per epoch"]
    return markdown(header, rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rules", default="first,second,amended", help="comma-separated (default: %(default)s)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=DartsConfig.epochs, help="default: %(default)s")
    p.add_argument("--eta", type=float, default=DartsConfig.eta, help="η of amended (default: %(default)s)")
    p.add_argument("--C", type=int, default=DartsConfig.C, help="default: %(default)s")
    p.add_argument("--N", type=int, default=DartsConfig.N, help="default: %(default)s")
    p.add_argument("--size", type=int, default=DartsConfig.size, help="default: %(default)s")
    p.add_argument("--samples", type=int, default=DartsConfig.samples, help="default: %(default)s")
    p.add_argument("--batch-size", type=int, default=DartsConfig.batch_size, help="default: %(default)s")
    p.add_argument("--dataset", default="cifar10", help="cifar10, or digits for a quick check (no accuracy)")
    p.add_argument(
        "--data-dir", default=None, help="data directory (else $GRADNAS_DATA, else ../shared/data)"
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    p.add_argument("--out", default="results/darts", help="one subdirectory per run (default: %(default)s)")
    args = p.parse_args()
    start(args)
    for rule in args.rules.split(","):
        logs = {}
        for seed in (int(s) for s in args.seeds.split(",")):
            config = config_from(args, rule=rule, seed=seed)
            out = Path(args.out) / f"{rule}-s{seed}"
            logs[seed] = run_darts(config, out)
            seconds = sum(entry["seconds"] for entry in logs[seed])
            print(f"{rule} seed {seed}: {out} ({seconds:.1f} s of training in all)", flush=True)
        print(f"\n### {rule}\n\n{rule_table(logs)}\n", flush=True)


if __name__ == "__main__":
    main()
