"""What the darts_* bench scripts share: the search problem's options, the run's header, markdown tables."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence

import torch

from gradnas.darts.data import SearchData, load_search_data
from gradnas.darts.run import DartsConfig, config_from


def add_problem_options(p: argparse.ArgumentParser, C: int, N: int, size: int, batch_size: int) -> None:
    p.add_argument("--dataset", default="cifar10", help="cifar10 or digits (default: cifar10)")
    p.add_argument("--C", type=int, default=C, help=f"supernet width (default: {C})")
    p.add_argument("--N", type=int, default=N, help=f"search cells per stage (default: {N})")
    p.add_argument("--size", type=int, default=size, help=f"images average-pooled to SIZE² (default: {size})")
    p.add_argument("--batch-size", type=int, default=batch_size, help=f"default: {batch_size}")
    p.add_argument(
        "--data-dir", default=None, help="data directory (else $GRADNAS_DATA, else ../shared/data)"
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")


def load_problem(args: argparse.Namespace, seed: int, samples: int) -> tuple[DartsConfig, SearchData]:
    """The search config (DARTS's optimizer settings) and its data, `samples` images split in halves."""
    config = config_from(args, seed=seed, samples=samples)
    return config, load_search_data(config.dataset, config.data_dir, samples, config.size, seed)


def start(args: argparse.Namespace) -> None:
    """Set the thread count and print the command line and the torch setup, so results say how they
    were taken."""
    torch.set_num_threads(args.threads)
    print(f"$ python {shlex.join(sys.argv)}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)\n")


def markdown(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = [list(header), ["---"] * len(header), *[[str(cell) for cell in row] for row in rows]]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)
