"""Short training against zero-cost proxies: how well does the validation accuracy after 1, 3 and 10
epochs rank NB201 architectures, next to GradSign and the best ensemble, and at what cost?

N random NB201 architectures are trained on CIFAR-10's 10,000 training images (half for training,
half for validation) for each length, each a separate run with its own cosine schedule (the `nb201`
recipe, its epochs overridden). Spearman ρ is taken against NB201's 200-epoch CIFAR-10 test
accuracy. Every training and score is stored under --out, and each finished training is also a
line of the --ledger CSV (kept in the repository), so the study resumes on another machine where
the last one stopped (re-run the same command). The full study (40 archs, 1 + 3 + 10 epochs) is
hours of CPU; plan it with the seconds per epoch in docs/guide.md. `--part K/N` trains only every
N-th architecture from the K-th, so N processes share the work (each skips what the ledger already
holds, re-read before every training); a run without `--part` then prints the table, and, from the
logs of the longest runs (which evaluate only their last epoch), what evaluating every epoch would
have cost. A smoke run on digits checks the machinery in seconds (give it a ledger of its own):

    python bench/train_vs_proxies.py --archs 40 --out results/train-vs-proxies \
        --proxies gradsign,ensemble:default,params
    python bench/train_vs_proxies.py --archs 40 --out results/train-vs-proxies --part 2/2 &   # a second core
    python bench/train_vs_proxies.py --archs 3 --epochs 1 --dataset digits --out /tmp/smoke \
        --ledger /tmp/smoke/ledger.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shlex
import statistics
import sys
from pathlib import Path

from scipy.stats import spearmanr
from tqdm import tqdm

from gradnas.api import sample_archs
from gradnas.benchmarks import load_benchmark
from gradnas.run.tasks import ProbeSpec
from gradnas.run.threads import use_threads
from gradnas.search import StoredScores
from gradnas.training import TrainJob, get_recipe, run_training
from parts import part

LEDGER_COLUMNS = ["arch", "dataset", "recipe", "epochs", "seed", "val_accuracy", "test_accuracy", "seconds"]


def read_ledger(path: Path) -> dict[tuple, dict]:
    """Finished trainings by (arch, dataset, recipe, epochs, seed)."""
    if not path.exists():
        return {}
    with path.open(newline="") as handle:
        return {tuple(row[c] for c in LEDGER_COLUMNS[:5]): row for row in csv.DictReader(handle)}


def append_ledger(path: Path, row: dict) -> None:
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, LEDGER_COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def ledger_key(args: argparse.Namespace, arch: str, epochs: int) -> tuple:
    return (arch, args.dataset, args.recipe, str(epochs), str(args.seed))


def train_missing(args: argparse.Namespace, archs: list[str], epochs: int, out: Path) -> None:
    """Train each architecture the ledger lacks (re-read each time: other processes may share it)."""
    recipe = get_recipe(args.recipe, epochs=epochs)
    for arch in tqdm(archs, desc=f"{epochs} epochs", unit="arch", file=sys.stderr):
        key = ledger_key(args, arch, epochs)
        if key in read_ledger(args.ledger):
            continue
        job = TrainJob("nb201", arch, args.dataset, recipe, args.seed, data_dir=args.data_dir)
        result, _ = run_training(job, out / "train", every_epoch=False)  # only the end is used
        done = {
            "val_accuracy": result.val_accuracy,
            "test_accuracy": result.test_accuracy,
            "seconds": result.seconds,
        }
        append_ledger(args.ledger, dict(zip(LEDGER_COLUMNS, key)) | done)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--archs", type=int, default=40)
    p.add_argument("--epochs", default="1,3,10", help="training lengths, each a separate run")
    p.add_argument("--recipe", default="nb201")
    p.add_argument("--dataset", default="cifar10", help="cifar10 for the study; digits for a smoke run")
    p.add_argument("--proxies", default="gradsign,ensemble:default")
    p.add_argument("--probe-batch", type=int, default=64, help="64: the shipped score table's")
    p.add_argument("--ledger", type=Path, default=Path("docs/data/train-vs-proxies.csv"))
    p.add_argument("--seed", type=int, default=0, help="seeds the arch draw, the split and the trainings")
    p.add_argument("--out", default="results/train-vs-proxies")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--part", default=None, metavar="K/N", help="train only archs K, K+N, ...; no table")
    args = p.parse_args()
    use_threads(1)
    out = Path(args.out)
    archs = sample_archs("nb201", args.archs, args.seed)
    lengths = [int(e) for e in args.epochs.split(",")]
    for epochs in lengths:
        train_missing(args, part(archs, args.part), epochs, out)
    if args.part:
        print(f"part {args.part} trained; run without --part for the table")
        return
    ledger = read_ledger(args.ledger)
    truth = load_benchmark("nb201", args.data_dir).query_many(archs, "cifar10")
    print(f"$ python {shlex.join(sys.argv)}\n")
    print(f"{len(archs)} NB201 archs; ρ: Spearman against NB201's 200-epoch CIFAR-10 test accuracy\n")
    print("| ranked by | ρ | seconds, all archs (wall clock, as stored) | per arch |")
    print("| --- | ---: | ---: | ---: |")
    for epochs in lengths:
        rows = [ledger[ledger_key(args, arch, epochs)] for arch in archs]
        seconds = sum(float(r["seconds"]) for r in rows)
        values = [float(r["val_accuracy"]) for r in rows]
        row(f"validation accuracy after {epochs} epochs ({args.recipe})", values, truth, seconds)
    spec = ProbeSpec(args.dataset, args.probe_batch, args.seed, data_dir=args.data_dir)
    for name in args.proxies.split(","):
        scores = StoredScores(name, out / "scores.sqlite", "nb201", spec, progress=True)
        values, seconds = scores(archs)
        row(f"`{name}` (batch {args.probe_batch})", values, truth, seconds)
    if max(lengths) > 1:
        print(f"\n{evaluation_cost(out, max(lengths))}")


def evaluation_cost(out: Path, epochs: int) -> str:
    """What evaluating only the last epoch saved, from the logs of this study's `epochs`-epoch runs
    that did so: the median ratio of the evaluated epoch's seconds to the median unevaluated
    epoch's, and of the run's seconds had every epoch been evaluated to its actual seconds."""
    ratios, savings = [], []
    for path in (out / "train" / "runs").glob("*/log.jsonl"):
        log = [json.loads(line) for line in path.read_text().splitlines()]
        if len(log) != epochs or not all(math.isnan(e["val_accuracy"]) for e in log[:-1]):
            continue
        seconds = [e["seconds"] for e in log]
        plain = statistics.median(seconds[:-1])
        ratios.append(seconds[-1] / plain)
        savings.append(epochs * seconds[-1] / sum(seconds))
    if not ratios:
        return f"no {epochs}-epoch run evaluated only its last epoch"
    return (
        f"{len(ratios)} runs of {epochs} epochs evaluated only their last: it took a median "
        f"{statistics.median(ratios):.2f}x an unevaluated epoch, so evaluating every epoch would have "
        f"taken a median {statistics.median(savings):.2f}x as long"
    )


def row(name: str, values, truth, seconds: float) -> None:
    rho = spearmanr(values, truth, nan_policy="omit").statistic
    print(f"| {name} | {rho:.3f} | {seconds:,.0f} | {seconds / len(truth):,.1f} |", flush=True)


if __name__ == "__main__":
    main()
