"""Data: where the shared files are, image and token sources, and seeded probe batches."""

from gradnas.data.paths import ENV_VAR, default_candidates, find_data_file, resolve_data_dir
from gradnas.data.probe import ProbeBatch, draw_batch, probe_batch
from gradnas.data.sources import (
    DATASETS,
    ImageSet,
    load_cifar10,
    load_cifar100,
    load_dataset,
    load_digits,
    load_synthetic,
    read_cifar_binary,
)
from gradnas.data.text import TokenSet, load_synthetic_text

__all__ = [
    "DATASETS",
    "ENV_VAR",
    "ImageSet",
    "ProbeBatch",
    "TokenSet",
    "default_candidates",
    "draw_batch",
    "find_data_file",
    "load_cifar10",
    "load_cifar100",
    "load_dataset",
    "load_digits",
    "load_synthetic",
    "load_synthetic_text",
    "probe_batch",
    "read_cifar_binary",
    "resolve_data_dir",
]
