"""The `gradnas` command line: parses arguments, calls the public API, prints or saves results.

Start-up is light: the options are declared here with no heavy import, and `commands` (which loads
torch) is imported only when a command runs, so `gradnas --help` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from . import __version__
from .errors import DataNotFound, GradnasError

DATA_DIR_HELP = "full data directory (else $GRADNAS_DATA, else ../shared/data, else the shipped copy)"
THREADS_HELP = "torch threads per process (default: $OMP_NUM_THREADS, else 1: fast on a busy machine)"
# The first command a user runs: the best forward proxies measured on NB201 (see gradnas proxies).
MAIN_PROXIES = ["gradsign", "synflow", "naswot"]
# Listed here so that `--help` needs no import of the search package; a test keeps them in step.
ALGORITHMS = ("rs", "rea", "reinforce", "hb", "bohb", "knas", "select", "predictor")
DARTS_DEFAULTS = {
    "rule": "amended",
    "eta": 0.1,
    "epochs": 10,
    "seed": 0,
    "space": "nb201",
    "dataset": "cifar10",
    "samples": 2000,
    "size": 16,
    "batch_size": 64,
    "C": 8,
    "N": 1,
}
PROXIES_HELP = (
    "comma-separated (default: the seed proxies' readings that rank forwards; `gradnas proxies` lists all)"
)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one name")
    return names


def _probe_options(p: argparse.ArgumentParser, dataset: str) -> None:
    p.add_argument("--space", default="nb201", help="search space (default: nb201)")
    p.add_argument(
        "--dataset",
        default=dataset,
        help=f"probe data: cifar10, cifar100, digits, synthetic, synthetic-text (default: {dataset})",
    )
    p.add_argument("--batch-size", type=int, default=128, help="probe batch size (default: 128)")
    p.add_argument(
        "--per-class",
        type=int,
        default=None,
        metavar="K",
        help="class-balanced batch: K samples from each of batch-size/K classes",
    )
    p.add_argument("--seed", type=_seed, default=0, help="seeds the probe draw and the network init")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    _common(p)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.add_argument("--threads", type=int, default=None, metavar="N", help=THREADS_HELP)


def _quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _at_least(minimum: int, maximum: int | None = None):
    """An argparse type: an integer of at least `minimum` (and at most `maximum`)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            top = f" and at most {maximum}" if maximum is not None else ""
            raise argparse.ArgumentTypeError(f"expected an integer of at least {minimum}{top}, got {value}")
        return value

    return parse


_count = _at_least(1)
_seed = _at_least(0, 2**32 - 1)  # validate.MAX_SEED, without importing numpy for --help


def _archs_count(text: str) -> int | str:
    return text if text == "all" else _count(text)


def _numbers(kind):
    def parse(text: str) -> list:
        try:
            return [kind(v) for v in _names(text)]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None

    return parse


def _budget(text: str) -> float | None:
    return None if text == "none" else _numbers(float)(text)[0]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="gradnas",
        description="Rank neural architectures without training them, from gradients at initialization.",
        epilog="start with: gradnas rank --space nb201 --archs 20 --dataset cifar10 --batch-size 64; "
        "docs: README.md and docs/",
    )
    top.add_argument("--version", action="version", version=f"gradnas {__version__}")
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("score", help="score one architecture with several proxies (one pass)")
    p.add_argument("--arch", required=True, help="architecture string, e.g. NB201 '|op~0|+|op~0|op~1|+|...|'")
    p.add_argument(
        "--proxies",
        type=_names,
        default=None,
        help=PROXIES_HELP,
    )
    p.add_argument("--json", action="store_true", help="print JSON (NaN as null, with reasons)")
    _quiet(p)
    _probe_options(p, "cifar10")
    p.set_defaults(run="score")

    p = sub.add_parser("rank", help="sample architectures, score them all, print the best")
    p.add_argument("--archs", type=_count, default=100, help="how many to sample (default: 100)")
    p.add_argument(
        "--models",
        nargs="+",
        default=None,
        metavar="FILE.py:FACTORY",
        help="rank your own models instead: factories in a Python file, each returning an nn.Module",
    )
    p.add_argument(
        "--proxies",
        type=_names,
        default=MAIN_PROXIES,
        help=f"comma-separated (default: {','.join(MAIN_PROXIES)}, the best measured on NB201)",
    )
    p.add_argument("--sort-by", default=None, help="proxy to rank by (default: the first)")
    p.add_argument("--top", type=_count, default=10, help="rows to print (default: 10)")
    p.add_argument("--out", default=None, help="write every row as CSV here (on Ctrl-C: the finished ones)")
    p.add_argument("--json", action="store_true", help="print every row as JSON (NaN as null, with reasons)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    _quiet(p)
    _probe_options(p, "cifar10")
    p.set_defaults(run="rank")

    p = sub.add_parser("correlate", help="score many archs (resumable store) and correlate with ground truth")
    p.add_argument("--archs", type=_archs_count, default=1000, help="how many, or 'all' (default: 1000)")
    p.add_argument(
        "--arch-draw",
        choices=("nested", "choice"),
        default="nested",
        help="nested: the first N of a seeded permutation, so a larger --archs extends a smaller one; "
        "choice: the draw of studies made before it existed (default: nested)",
    )
    p.add_argument(
        "--proxies",
        type=_names,
        default=None,
        help=PROXIES_HELP,
    )
    p.add_argument(
        "--out", default="results", help="study directory: store, tables, plots (default: results)"
    )
    p.add_argument(
        "--benchmark",
        default="nb201",
        help="'nb201', a table (.csv, .parquet) with an arch column, an NB101 .npz or an NDS .json",
    )
    p.add_argument("--target", default=None, help="benchmark dataset column (default: the probe dataset)")
    p.add_argument(
        "--metric",
        default="test_accuracy",
        help="benchmark metric, e.g. val_accuracy (default: test_accuracy)",
    )
    p.add_argument(
        "--ensemble",
        action="append",
        default=[],
        metavar="ensemble:A+B[*W]",
        help="also rank by the mean rank percentile of these proxies (repeatable)",
    )
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    p.add_argument("--ray", action="store_true", help="run the tasks on Ray (pip install 'gradnas[ray]')")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: a local instance)")
    _quiet(p)
    _probe_options(p, "cifar10")
    p.set_defaults(run="correlate_")

    p = sub.add_parser("search", help="run searches on a simulated clock (NB201 table lookups)")
    p.add_argument("--algo", type=_names, required=True, help=f"comma-separated: {', '.join(ALGORITHMS)}")
    p.add_argument(
        "--assist", default=None, help="screening proxy or ensemble:A+B (G-variants, knas, select)"
    )
    p.add_argument(
        "--budget", type=_budget, default=12000.0, help="simulated seconds, or 'none' (default: 12000)"
    )
    p.add_argument("--max-evals", type=_count, default=None, help="also stop after this many evaluations")
    p.add_argument("--cost", default="knas", help="seconds per evaluation: knas, fixed:SECONDS, benchmark")
    p.add_argument("--runs", type=_count, default=100, help="independent seeded runs (default: 100)")
    p.add_argument("--seed", type=_seed, default=0, help="seeds the runs (run r uses [seed, r])")
    p.add_argument("--pool", type=int, default=10, help="candidates screened per G-step (default: 10)")
    p.add_argument("--charge-proxy", action="store_true", help="charge proxy seconds to the clock too")
    p.add_argument(
        "--k", type=_numbers(int), default=[40], help="KNAS: archs kept and evaluated (e.g. 20,40)"
    )
    p.add_argument("--m", type=_numbers(int), default=[1000], help="KNAS: archs sampled (default: 1000)")
    p.add_argument("--n", type=_numbers(int), default=[100], help="select: candidates (e.g. 10,100,1000)")
    p.add_argument("--out", default="results/search", help="output directory (default: results/search)")
    p.add_argument(
        "--scores", default=None, help="score store to read and extend (default: OUT/scores.sqlite)"
    )
    p.add_argument("--no-compute", action="store_true", help="fail instead of computing missing proxy scores")
    p.add_argument("--space", default="nb201", help="search space (default: nb201)")
    p.add_argument(
        "--benchmark",
        default="nb201",
        help="ground truth looked up: 'nb201', or a file as in correlate (default: nb201)",
    )
    p.add_argument("--dataset", default="cifar10", help="benchmark dataset and probe data (default: cifar10)")
    p.add_argument(
        "--batch-size", type=int, default=128, help="probe batch size for the proxy (default: 128)"
    )
    p.add_argument("--per-class", type=int, default=None, metavar="K", help="class-balanced probe batch")
    p.add_argument("--probe-seed", type=_seed, default=0, help="seeds the probe batch and network init")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="of the proxy's probe")
    _quiet(p)
    _common(p)
    p.set_defaults(run="search_")

    p = sub.add_parser("predict", help="rank a space from a few labelled archs and their proxy scores")
    p.add_argument(
        "--scores",
        required=True,
        metavar="SOURCE",
        help="table:SPACE/DATASET (shipped table), a correlate folder (or its copy), or a Suite-Zero .json",
    )
    p.add_argument("--k", type=_count, default=20, help="labelled archs drawn with --seed (default: 20)")
    p.add_argument("--labels", default=None, metavar="FILE.csv", help="arch,accuracy CSV instead of --k")
    p.add_argument("--seed", type=_seed, default=0, help="seeds the label draw and the model (default: 0)")
    features = p.add_mutually_exclusive_group()
    features.add_argument("--proxies", type=_names, default=None, help="comma-separated (default: all)")
    features.add_argument("--no-proxies", action="store_true", help="fit on the architecture encoding alone")
    p.add_argument("--no-encoding", action="store_true", help="fit on the proxy scores alone")
    p.add_argument("--benchmark", default=None, help="truth of a table source (default: nb201 on nb201)")
    p.add_argument("--target", default=None, help="benchmark dataset (default: the probe's or the file's)")
    p.add_argument("--metric", default=None, help="benchmark metric (default: the source's own)")
    p.add_argument("--batch-size", type=int, default=None, help="refuse scores of another probe batch size")
    p.add_argument("--probe-seed", type=_seed, default=None, help="refuse scores of another probe seed")
    p.add_argument("--top", type=_count, default=10, help="unlabelled archs to print (default: 10)")
    p.add_argument("--out", default=None, help="write predictions.csv and predictions.parquet here")
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.set_defaults(run="predict")

    p = sub.add_parser("darts", help="differentiable NB201 search (resumes from --out's checkpoint)")
    d = "(default: %(default)s)"
    p.add_argument("--rule", default=DARTS_DEFAULTS["rule"], help=f"first, second, amended, amended_fd {d}")
    p.add_argument("--eta", type=float, default=DARTS_DEFAULTS["eta"], help=f"η of the amended rules {d}")
    p.add_argument("--epochs", type=int, default=DARTS_DEFAULTS["epochs"], help=d)
    p.add_argument(
        "--seed", type=_seed, default=DARTS_DEFAULTS["seed"], help="seeds the data draw, init and shuffling"
    )
    p.add_argument("--space", default=DARTS_DEFAULTS["space"], help=f"search space {d}")
    p.add_argument(
        "--dataset", default=DARTS_DEFAULTS["dataset"], help=f"cifar10, or digits (no NB201 accuracy) {d}"
    )
    p.add_argument(
        "--samples", type=int, default=DARTS_DEFAULTS["samples"], help=f"images, half for w, half for α {d}"
    )
    p.add_argument(
        "--size", type=int, default=DARTS_DEFAULTS["size"], help=f"average-pool larger images to SIZE² {d}"
    )
    p.add_argument("--batch-size", type=int, default=DARTS_DEFAULTS["batch_size"], help=d)
    p.add_argument("--C", type=int, default=DARTS_DEFAULTS["C"], help=f"supernet width {d}")
    p.add_argument("--N", type=int, default=DARTS_DEFAULTS["N"], help=f"search cells per stage {d}")
    p.add_argument("--out", required=True, help="output directory: config, checkpoint, logs, alphas.png")
    _quiet(p)
    _common(p)
    p.set_defaults(run="darts")

    p = sub.add_parser("report", help="rebuild a study's tables and plots from its store")
    p.add_argument("out_dir", help="the study directory written by `gradnas correlate`")
    p.set_defaults(run="report")

    p = sub.add_parser("proxies", help="list the registered proxies with their measured NB201 ρ")
    p.set_defaults(run="proxies")
    return top


def one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings (an engine fallback, merged benchmark rows) as one line, like errors."""
    return f"gradnas: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    warnings.formatwarning = one_line_warning
    try:
        commands = importlib.import_module(".commands", __package__)
        getattr(commands, args.run)(args)
    except GradnasError as err:
        print(f"gradnas: error: {err.for_cli() if isinstance(err, DataNotFound) else err}", file=sys.stderr)
        return 2
    except OSError as err:  # the machine said no: a full disk, a folder that cannot be written
        print(f"gradnas: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C where there was nothing to keep
        print("gradnas: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as stop:
        if type(stop).__name__ != "Interrupted":  # commands.Interrupted: what was kept, how to resume
            raise
        print(f"gradnas: interrupted: {stop}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
