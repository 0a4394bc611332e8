"""Short training against zero-cost proxies: how well does the validation accuracy after 1, 3 and 10
epochs rank NB201 architectures, next to GradSign and the best ensemble, and at what cost?

N random NB201 architectures are trained on CIFAR-10's 10,000 training images (half for training,
half for validation) for each length, each a separate run with its own cosine schedule (the `nb201`
recipe, its epochs overridden). Spearman ρ is taken against NB201's 200-epoch CIFAR-10 test
accuracy. Every training and score is stored under --out, and each finished training is also a
line of the --ledger CSV (kept in the repository), so the study resumes on another machine where
the last one stopped (re-run the same command). The full study (40 archs, 1 + 3 + 10 epochs) is
hours of CPU; plan it with the seconds per epoch in docs/guide.md. A smoke run on digits checks the
machinery in seconds (give it a ledger of its own):

    python bench/train_vs_proxies.py --archs 40 --out results/train-vs-proxies
    python bench/train_vs_proxies.py --archs 3 --epochs 1 --dataset digits --out /tmp/smoke \
        --ledger /tmp/smoke/ledger.csv
"""

from __future__ import annotations

import argparse
import csv
import shlex
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
    args = p.parse_args()
    use_threads(1)
    out = Path(args.out)
    ledger = read_ledger(args.ledger)
    archs = sample_archs("nb201", args.archs, args.seed)
    truth = load_benchmark("nb201", args.data_dir).query_many(archs, "cifar10")
    print(f"$ python {shlex.join(sys.argv)}\n")
    print(f"{len(archs)} NB201 archs; ρ: Spearman against NB201's 200-epoch CIFAR-10 test accuracy\n")
    print("| ranked by | ρ | seconds, all archs (wall clock, as stored) | per arch |")
    print("| --- | ---: | ---: | ---: |")
    for epochs in (int(e) for e in args.epochs.split(",")):
        recipe = get_recipe(args.recipe, epochs=epochs)
        values, seconds = [], 0.0
        for arch in tqdm(archs, desc=f"{epochs} epochs", unit="arch", file=sys.stderr):
            key = (arch, args.dataset, args.recipe, str(epochs), str(args.seed))
            if key not in ledger:
                job = TrainJob("nb201", arch, args.dataset, recipe, args.seed, data_dir=args.data_dir)
                result, _ = run_training(job, out / "train")
                ledger[key] = dict(zip(LEDGER_COLUMNS, key)) | {
                    "val_accuracy": result.val_accuracy,
                    "test_accuracy": result.test_accuracy,
                    "seconds": result.seconds,
                }
                append_ledger(args.ledger, ledger[key])
            values.append(float(ledger[key]["val_accuracy"]))
            seconds += float(ledger[key]["seconds"])
        row(f"validation accuracy after {epochs} epochs ({args.recipe})", values, truth, seconds)
    spec = ProbeSpec(args.dataset, args.probe_batch, args.seed, data_dir=args.data_dir)
    for name in args.proxies.split(","):
        scores = StoredScores(name, out / "scores.sqlite", "nb201", spec, progress=True)
        values, seconds = scores(archs)
        row(f"`{name}` (batch {args.probe_batch})", values, truth, seconds)


def row(name: str, values, truth, seconds: float) -> None:
    rho = spearmanr(values, truth, nan_policy="omit").statistic
    print(f"| {name} | {rho:.3f} | {seconds:,.0f} | {seconds / len(truth):,.1f} |", flush=True)


if __name__ == "__main__":
    main()
