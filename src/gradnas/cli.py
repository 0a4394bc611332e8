"""The `gradnas` command line: parses arguments, calls the public API, prints or saves results.

Start-up is light: the options are declared here with no heavy import, and `commands` (which loads
torch) is imported only when a command runs, so `gradnas --help` answers at once. The options that
several commands take are declared once (`_shared`, `_probe_options`), so they are spelled, meant
and defaulted alike everywhere. Defaults that a dataclass defines (the probe's `ProbeSpec`, the
differentiable search's `DartsConfig`) are read from it, never copied: such an option is left out
of the parsed arguments unless given, and its default is looked up only when help is printed.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
import warnings

from . import __version__
from .errors import DataNotFound, GradnasError

DATA_DIR_HELP = "full data directory (else $GRADNAS_DATA, else ../shared/data, else the shipped copy)"
THREADS_HELP = "torch threads per process (default: $OMP_NUM_THREADS, else 1: fast on a busy machine)"
DEVICE_HELP = "cpu, cuda, cuda:N, mps, or auto: the first accelerator available, else the cpu (default: auto)"
WORKERS_HELP = "worker processes, or auto: one per core, or one per GPU (default: 1)"
SEED_HELP = (
    "seeds every random choice: the probe draw, the network init, and the archs sampled (rank, "
    "correlate) or the search runs (search)"
)
# Where the dataclass-defined defaults live (module relative to this package, class).
PROBE_FIELDS = ".run.tasks:ProbeSpec"
DARTS_FIELDS = ".darts.run:DartsConfig"
# What rank scores where no default ensemble exists (other spaces, your own models): the best forward
# proxies measured on NB201 (see gradnas proxies).
MAIN_PROXIES = ["gradsign", "synflow", "naswot"]
# Listed here so that `--help` needs no import of the search package; a test keeps them in step.
ALGORITHMS = ("rs", "rea", "reinforce", "hb", "bohb", "knas", "select", "predictor")
PROXIES_HELP = (
    "comma-separated (default: the seed proxies' readings that rank forwards; `gradnas proxies` lists all)"
)
# Listed here so that `--help` needs no import of torch; a test keeps them in step with training.recipes.
RECIPES = ("nb201", "darts", "quick")
TRAIN_DATASETS = ("cifar10", "cifar100", "digits", "synthetic", "synthetic-text")
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


class _Parser(argparse.ArgumentParser):
    """Refuses bad options in one line, like every other error (argparse prints its usage first)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _names(text: str) -> list[str]:
    """Comma-separated names, each once, in order."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one name")
    return list(dict.fromkeys(names))


class _FieldDefault:
    """A dataclass field's default, looked up only when printed (the dataclass's module loads torch)."""

    def __init__(self, where: str, name: str):
        self.where, self.name = where, name

    def __str__(self) -> str:
        module, owner = self.where.split(":")
        return str(getattr(getattr(importlib.import_module(module, __package__), owner), self.name))


def _field_option(p: argparse.ArgumentParser, flag: str, where: str, help: str, **options) -> None:
    """An option defaulting to the like-named field of the dataclass at `where` (see the module
    docstring): absent from the parsed arguments unless given."""
    name = flag.lstrip("-").replace("-", "_")
    action = p.add_argument(
        flag, default=argparse.SUPPRESS, help=f"{help} (default: %(field_default)s)".lstrip(), **options
    )
    action.field_default = _FieldDefault(where, name)


def _shared(p: argparse.ArgumentParser, *, workers: bool = False) -> None:
    """The options of every command that computes: where, with how many threads (and processes),
    on which data directory, how verbosely."""
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--threads", type=int, default=None, metavar="N", help=THREADS_HELP)
    if workers:
        p.add_argument("--workers", type=_workers, default=1, metavar="N", help=WORKERS_HELP)
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _probe_options(p: argparse.ArgumentParser, *, workers: bool = True) -> None:
    """The probe batch and network init every architecture is scored with, then `_shared`."""
    p.add_argument("--space", default="nb201", help="search space (default: nb201)")
    _field_option(
        p,
        "--dataset",
        PROBE_FIELDS,
        "probe data, and the ground truth's dataset in correlate and search: cifar10, cifar100, "
        "digits, synthetic, synthetic-text",
    )
    _field_option(p, "--batch-size", PROBE_FIELDS, "probe batch size", type=int)
    _field_option(
        p,
        "--per-class",
        PROBE_FIELDS,
        "class-balanced: K from each of batch-size/K classes",
        type=int,
        metavar="K",
    )
    _field_option(p, "--seed", PROBE_FIELDS, SEED_HELP, type=_seed)
    _field_option(p, "--dtype", PROBE_FIELDS, "of the network and the probe", choices=["float32", "float64"])
    _shared(p, workers=workers)


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


def _workers(text: str) -> int | str:
    return text if text == "auto" else _count(text)


def _labels(text: str) -> int | str:
    """A count of labels to draw, or the path of a CSV of them."""
    return int(text) if text.strip().lstrip("+-").isdigit() else text


def _archs_count(text: str) -> int | str:
    return text if text == "all" else _count(text)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value


def _recipe_options(p: argparse.ArgumentParser) -> None:
    """The recipe's fields, each overriding the preset's value when given (see docs/guide.md)."""
    p.add_argument("--recipe", default="quick", choices=RECIPES, help="preset (default: quick)")
    p.add_argument("--epochs", type=_count, default=None, help="(default: the recipe's)")
    p.add_argument("--batch-size", type=_count, default=None, help="(default: the recipe's)")
    for name in ("lr", "lr-min", "momentum", "weight-decay", "grad-clip"):
        p.add_argument(f"--{name}", type=float, default=None, help="(default: the recipe's)")
    for name in ("warmup-epochs", "crop-padding", "cutout"):
        p.add_argument(f"--{name}", type=_at_least(0), default=None, help="(default: the recipe's)")
    for name in ("nesterov", "flip"):
        p.add_argument(f"--{name}", action=argparse.BooleanOptionalAction, default=None)


def _counts(text: str) -> list[int]:
    """Comma-separated integers of at least 1."""
    return [_count(v) for v in _names(text)]


def _budget(text: str) -> float | None:
    return None if text == "none" else _positive(text)


def parser() -> argparse.ArgumentParser:
    top = _Parser(
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
    _probe_options(p, workers=False)
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
        default=None,
        help=f"comma-separated (default: the --sort-by ensemble's members, else {','.join(MAIN_PROXIES)})",
    )
    p.add_argument(
        "--sort-by",
        default=None,
        help="proxy or ensemble:A+B to rank by; its members are scored too (default: on nb201 without "
        "--models, ensemble:default, the best measured there; else the first proxy)",
    )
    p.add_argument("--top", type=_count, default=10, help="rows to print (default: 10)")
    p.add_argument("--out", default=None, help="write every row as CSV here (on Ctrl-C: the finished ones)")
    p.add_argument("--json", action="store_true", help="print every row as JSON (NaN as null, with reasons)")
    _probe_options(p)
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
        help="also rank by this ensemble, its members scored too (repeatable; e.g. ensemble:default)",
    )
    p.add_argument(
        "--ray",
        action="store_true",
        help="run the tasks on Ray, one GPU each if it has GPUs (pip install 'gradnas[ray]')",
    )
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: a local instance)")
    _probe_options(p)
    p.set_defaults(run="correlate_")

    p = sub.add_parser("search", help="run searches on a simulated clock (table lookups or real training)")
    p.add_argument("--algo", type=_names, required=True, help=f"comma-separated: {', '.join(ALGORITHMS)}")
    p.add_argument(
        "--assist",
        default=None,
        help="screening proxy or ensemble:A+B (G-variants, knas, select; select on nb201 "
        "defaults to ensemble:default)",
    )
    p.add_argument(
        "--budget", type=_budget, default=12000.0, help="simulated seconds, or 'none' (default: 12000)"
    )
    p.add_argument("--max-evals", type=_count, default=None, help="also stop after this many evaluations")
    p.add_argument("--cost", default="knas", help="seconds per evaluation: knas, fixed:SECONDS, benchmark")
    p.add_argument(
        "--evaluate",
        default="table",
        help="table (benchmark lookup, charged --cost), or train:EPOCHS[:RECIPE] to train each "
        "candidate for real, charged its measured seconds (default: table)",
    )
    p.add_argument("--runs", type=_count, default=100, help="independent seeded runs (default: 100)")
    p.add_argument("--pool", type=_count, default=10, help="candidates screened per G-step (default: 10)")
    p.add_argument("--charge-proxy", action="store_true", help="charge proxy seconds to the clock too")
    p.add_argument("--k", type=_counts, default=None, help="KNAS: archs kept, e.g. 20,40 (default: 40)")
    p.add_argument("--m", type=_counts, default=None, help="KNAS: archs sampled (default: 100)")
    p.add_argument(
        "--mutation",
        choices=("uniform", "node"),
        default=None,
        help="REA: the space's own mutation (default; NB201: a uniform edge), or node: NB201's reference "
        "code (a uniform node, then one of its edges)",
    )
    p.add_argument(
        "--reinforce-lr",
        type=_positive,
        default=None,
        help="REINFORCE: Adam's lr (default 0.01; NB201's: 1e-3)",
    )
    p.add_argument(
        "--reinforce-target",
        choices=("evaluated", "sample"),
        default=None,
        help="G-REINFORCE: take the policy gradient on the evaluated mutant (default) or on the policy's "
        "sample (the GradSign reference code)",
    )
    p.add_argument("--n", type=_counts, default=None, help="select: candidates, e.g. 10,100 (default: 100)")
    p.add_argument("--out", default="results/search", help="output directory (default: results/search)")
    p.add_argument(
        "--scores", default=None, help="score store to read and extend (default: OUT/scores.sqlite)"
    )
    p.add_argument("--no-compute", action="store_true", help="fail instead of computing missing proxy scores")
    p.add_argument(
        "--benchmark",
        default="nb201",
        help="ground truth looked up: 'nb201', or a file as in correlate (default: nb201)",
    )
    p.add_argument(
        "--probe-seed",
        type=_seed,
        default=argparse.SUPPRESS,
        help="deprecated: a probe seed other than --seed (run r is seeded by [seed, r])",
    )
    _probe_options(p, workers=False)
    p.set_defaults(run="search_")

    p = sub.add_parser("predict", help="rank a space from a few labelled archs and their proxy scores")
    p.add_argument(
        "--scores",
        default=None,
        metavar="SOURCE",
        help="a correlate folder (or its copy), a Suite-Zero .json, or table:SPACE/DATASET (default: the "
        "shipped table of --space and --dataset)",
    )
    p.add_argument("--space", default="nb201", help="space of the shipped table (default: nb201)")
    p.add_argument("--dataset", default="cifar10", help="probe dataset of that table (default: cifar10)")
    p.add_argument(
        "--labels",
        type=_labels,
        default=20,
        metavar="K|FILE.csv",
        help="K labelled archs drawn with --seed, or an arch,accuracy CSV (default: 20)",
    )
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

    p = sub.add_parser("train", help="train one network by a recipe (stored, reused, resumable)")
    p.add_argument("--arch", default=None, help="architecture string of --space")
    p.add_argument("--space", default="nb201", help="search space (default: nb201)")
    p.add_argument("--models", default=None, metavar="FILE.py:FACTORY", help="train your own model instead")
    p.add_argument(
        "--dataset", default="cifar10", choices=TRAIN_DATASETS, help="training data (default: cifar10)"
    )
    _recipe_options(p)
    p.add_argument("--seed", type=_seed, default=0, help="seeds the split, init, data order, augmentation")
    p.add_argument(
        "--val-fraction", type=_fraction, default=0.5, help="share of the data for validation (default: 0.5)"
    )
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument(
        "--out", default="results/train", help="store and checkpoints, reused (default: results/train)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    _shared(p)
    p.set_defaults(run="train")

    p = sub.add_parser(
        "darts", help="differentiable NB201 or DARTS-space search (resumes from --out's checkpoint)"
    )
    eta = p.add_mutually_exclusive_group()
    _field_option(eta, "--eta", DARTS_FIELDS, "η of the amended rules, fixed as in the paper", type=float)
    _field_option(
        eta,
        "--eta-ratio",
        DARTS_FIELDS,
        "instead of --eta: choose η at every step so that ‖η·M·H·∇w L_val‖ = R·‖∇α L_val‖",
        type=float,
        metavar="R",
    )
    _field_option(
        p,
        "--augment",
        DARTS_FIELDS,
        "random crop and flip of the search batches, as DARTS",
        action=argparse.BooleanOptionalAction,
    )
    for flag, help, kind in (
        ("--rule", "first, second, amended, amended_fd", str),
        ("--epochs", "", int),
        ("--warmup-epochs", "first epochs train the weights only (α frozen)", int),
        ("--beta-decay", "β-DARTS regulariser: λ rises linearly from 0 to about this (0: off)", float),
        ("--seed", "seeds the data draw, init and shuffling", _seed),
        ("--space", "nb201, or darts (prints an NB301 genotype; no accuracy table)", str),
        ("--dataset", "cifar10, or digits (no NB201 accuracy)", str),
        ("--samples", "images, half for w, half for α", int),
        ("--size", "average-pool larger images to SIZE²", int),
        ("--batch-size", "", int),
        ("--C", "supernet width", int),
        ("--N", "search cells per stage (the DARTS space has 3N + 2 cells)", int),
    ):
        _field_option(p, flag, DARTS_FIELDS, help, type=kind)
    p.add_argument("--out", required=True, help="output directory: config, checkpoint, logs, alphas.png")
    _shared(p)
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


def os_error(err: OSError) -> str:
    """What the machine refused, as `path: reason` where it names the path."""
    return f"{err.filename}: {err.strerror}" if err.filename else str(err)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    warnings.formatwarning = one_line_warning
    try:
        commands = importlib.import_module(".commands", __package__)
        if getattr(args, "data_dir", None) is not None:  # checked even where no data file is read
            importlib.import_module(".data.paths", __package__).resolve_data_dir(args.data_dir)
        getattr(commands, args.run)(args)
    except GradnasError as err:
        print(f"gradnas: error: {err.for_cli() if isinstance(err, DataNotFound) else err}", file=sys.stderr)
        return 2
    except OSError as err:  # the machine said no: a full disk, a folder that cannot be written
        print(f"gradnas: error: {os_error(err)}", file=sys.stderr)
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
