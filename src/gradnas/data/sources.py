"""Image datasets that probe batches are drawn from (token datasets: :mod:`gradnas.data.text`).

Every source returns an :class:`ImageSet`: raw pixels (uint8 NHWC, or float already on a
[0, 1]-like scale), int64 labels and the per-channel normalization constants used by the
reference code for that dataset, so a probe batch looks like what the papers fed their networks.
Files are read with ``allow_pickle=False`` only; pickled CIFAR batches are never loaded.
"""

from __future__ import annotations

import inspect
import os
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from gradnas.data.paths import DataNotFound, find_data_file, how_to, is_shipped
from gradnas.errors import GradnasError, unknown_choice
from gradnas.registry import Registry

if TYPE_CHECKING:
    from gradnas.data.text import TokenSet

# NAS-Bench-201 reference normalization (pixel values on the 0..255 scale).
CIFAR10_MEAN = tuple(v / 255 for v in (125.3, 123.0, 113.9))
CIFAR10_STD = tuple(v / 255 for v in (63.0, 62.1, 66.7))
CIFAR100_MEAN = tuple(v / 255 for v in (129.3, 124.1, 112.4))
CIFAR100_STD = tuple(v / 255 for v in (68.2, 65.4, 70.4))
# Over all 1797 * 64 pixels of sklearn's digits scaled by 1/16 (population std); tests recompute.
DIGITS_MEAN = (0.30526028624095713,)
DIGITS_STD = (0.3760492217920148,)

CIFAR_IMAGE_BYTES = 3 * 32 * 32


def checked_indices(name: str, size: int, indices: Sequence[int] | np.ndarray) -> np.ndarray:
    """``indices`` as int64 after checking they are a 1-D sequence of integers within ``size``."""
    idx = np.asarray(indices)
    if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
        raise GradnasError(f"{name}: indices must be a 1-D sequence of integers")
    if idx.size and (idx.min() < -size or idx.max() >= size):
        raise GradnasError(f"{name}: index out of range for {size} samples")
    return idx.astype(np.int64)


@dataclass(frozen=True, eq=False)
class ImageSet:
    """A labelled image collection plus the normalization that turns it into network input.

    ``x`` is (N, H, W, C): uint8 pixels (scaled by 1/255 in :meth:`to_tensor`) or float32
    values already on the scale that ``mean``/``std`` refer to. ``variant`` records which
    part of a source was taken (e.g. ``"train-exact"``), for provenance only.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    variant: str = ""

    def __post_init__(self) -> None:
        x, y = self.x, self.y
        if not isinstance(x, np.ndarray) or x.ndim != 4:
            raise GradnasError(
                f"{self.name}: x must be a 4-D (N,H,W,C) array, got {getattr(x, 'shape', type(x).__name__)}"
            )
        if x.dtype not in (np.uint8, np.float32):
            raise GradnasError(f"{self.name}: x must be uint8 or float32, got {x.dtype}")
        if not isinstance(y, np.ndarray) or y.dtype != np.int64 or y.shape != (x.shape[0],):
            raise GradnasError(
                f"{self.name}: y must be int64 of shape ({x.shape[0]},), got "
                f"{getattr(y, 'dtype', type(y).__name__)} "
                f"{getattr(y, 'shape', '')}"
            )
        if int(self.num_classes) < 1:
            raise GradnasError(f"{self.name}: num_classes must be >= 1, got {self.num_classes}")
        if y.size and (y.min() < 0 or y.max() >= self.num_classes):
            raise GradnasError(
                f"{self.name}: labels must lie in [0, {self.num_classes}), got [{y.min()}, {y.max()}]"
            )
        c = x.shape[3]
        if len(self.mean) != c or len(self.std) != c:
            raise GradnasError(
                f"{self.name}: mean/std need {c} values (one per channel), got "
                f"{len(self.mean)}/{len(self.std)}"
            )
        if any(not s > 0 for s in self.std):
            raise GradnasError(f"{self.name}: std must be positive, got {self.std}")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W), the shape a network sees per sample."""
        _, h, w, c = self.x.shape
        return (int(c), int(h), int(w))

    def to_tensor(self, indices: Sequence[int] | np.ndarray | None = None) -> torch.Tensor:
        """Normalized float32 (n, C, H, W) tensor of the given samples (all when ``None``)."""
        raw = self.x if indices is None else self.x[checked_indices(self.name, len(self), indices)]
        vals = raw.astype(np.float32)
        if raw.dtype == np.uint8:
            vals /= np.float32(255.0)
        vals -= np.asarray(self.mean, dtype=np.float32)
        vals /= np.asarray(self.std, dtype=np.float32)
        return torch.from_numpy(np.ascontiguousarray(vals.transpose(0, 3, 1, 2)))


# ---------------------------------------------------------------------------------- npz files


def _read_npz(path: Path, specs: dict[str, tuple[np.dtype, tuple[int | None, ...]]]):
    """Read the named arrays from ``path``, checking dtype and shape (None = any length)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            out = {}
            for key, (dtype, shape) in specs.items():
                if key not in npz.files:
                    raise GradnasError(
                        f"{path}: missing array {key!r} (has: {', '.join(npz.files) or 'nothing'})"
                    )
                arr = npz[key]
                ok_shape = arr.ndim == len(shape) and all(
                    s is None or s == a for s, a in zip(shape, arr.shape, strict=True)
                )
                if arr.dtype != dtype or not ok_shape:
                    want = tuple("N" if s is None else s for s in shape)
                    raise GradnasError(
                        f"{path}: array {key!r} should be {np.dtype(dtype)} "
                        f"{want}, got {arr.dtype} {arr.shape}"
                    )
                out[key] = arr
            return out
    except GradnasError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise GradnasError(f"cannot read {path} as an npz archive: {exc}") from exc


def _labels_in_range(path: Path, y: np.ndarray, num_classes: int) -> None:
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise GradnasError(f"{path}: labels outside [0, {num_classes}): [{y.min()}, {y.max()}]")


_IMG = (np.dtype(np.uint8), (None, 32, 32, 3))
_LBL = (np.dtype(np.int64), (None,))


def load_cifar10(
    data_dir: str | os.PathLike | None = None, *, split: str = "train", exact: bool = True
) -> ImageSet:
    """CIFAR-10 images from the shared npz files.

    ``exact=True`` (default) gives only the bit-exact prefix (1102 train / 1017 test images);
    ``exact=False`` gives all 10,000 JPEG-decoded images of the file (close, not exact).
    """
    files = {"train": "cifar10_train_subset.npz", "test": "cifar10_test.npz"}
    if split not in files:
        raise unknown_choice("split", split, files)
    path = find_data_file(files[split], data_dir)
    key = "x_exact_prefix" if exact else "x"
    if not exact and is_shipped(path):
        raise DataNotFound(
            f"cifar10 exact=False needs the full data file {files[split]!r}: the copy shipped with "
            f"gradnas holds only the exact-pixel images; {how_to()}"
        )
    arrs = _read_npz(path, {key: _IMG, "y": _LBL})
    x, y = arrs[key], arrs["y"]
    if len(y) < len(x):
        raise GradnasError(f"{path}: {len(y)} labels for {len(x)} images")
    y = np.ascontiguousarray(y[: len(x)])
    _labels_in_range(path, y, 10)
    return ImageSet(
        "cifar10", x, y, 10, CIFAR10_MEAN, CIFAR10_STD, variant=f"{split}-{'exact' if exact else 'jpeg'}"
    )


def load_cifar100(data_dir: str | os.PathLike | None = None) -> ImageSet:
    """The 916 exact CIFAR-100 test images that survive, with fine labels (100 classes)."""
    path = find_data_file("cifar100_test_partial.npz", data_dir)
    arrs = _read_npz(path, {"x": _IMG, "y": _LBL})
    x, y = arrs["x"], arrs["y"]
    if len(y) != len(x):
        raise GradnasError(f"{path}: {len(y)} labels for {len(x)} images")
    _labels_in_range(path, y, 100)
    return ImageSet("cifar100", x, y, 100, CIFAR100_MEAN, CIFAR100_STD, variant="test-exact")


def load_digits(data_dir: str | os.PathLike | None = None) -> ImageSet:
    """scikit-learn's bundled 8x8 digits (1797 images, 10 classes): no files, no download.

    ``data_dir`` is accepted for a uniform signature and ignored.
    """
    from sklearn.datasets import load_digits as _sk_digits  # slow import; only when used

    bunch = _sk_digits()
    x = (np.asarray(bunch.images, dtype=np.float64) / 16.0).astype(np.float32)[..., None]
    y = np.asarray(bunch.target, dtype=np.int64)
    return ImageSet("digits", x, y, 10, DIGITS_MEAN, DIGITS_STD)


def load_synthetic(
    data_dir: str | os.PathLike | None = None,
    *,
    n: int = 512,
    shape: Sequence[int] = (3, 32, 32),
    num_classes: int = 10,
    seed: int = 0,
) -> ImageSet:
    """Seeded standard-normal images (``shape`` is C,H,W) with balanced, shuffled labels.

    For tests and benchmarks that must not depend on data files. ``data_dir`` is ignored.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise GradnasError(f"synthetic: shape must be three positive ints (C,H,W), got {shape}")
    if int(n) < 1 or int(num_classes) < 1:
        raise GradnasError(f"synthetic: n and num_classes must be >= 1, got {n}, {num_classes}")
    c, h, w = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((int(n), h, w, c), dtype=np.float32)
    y = rng.permutation(np.arange(int(n), dtype=np.int64) % int(num_classes))
    return ImageSet("synthetic", x, y, int(num_classes), (0.0,) * c, (1.0,) * c, variant=f"seed{seed}")


# Token datasets (gradnas.data.text) add themselves here when the package is imported.
DATASETS: Registry[Callable[..., ImageSet | TokenSet]] = Registry(
    "dataset",
    {"cifar10": load_cifar10, "cifar100": load_cifar100, "digits": load_digits, "synthetic": load_synthetic},
)


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, **options) -> ImageSet | TokenSet:
    """Load dataset ``name`` (one of :data:`DATASETS`); ``options`` go to its loader."""
    loader = DATASETS.lookup(name)
    allowed = [p for p in inspect.signature(loader).parameters if p != "data_dir"]
    bad = sorted(set(options) - set(allowed))
    if bad:
        raise GradnasError(
            f"dataset {name!r} has no option {', '.join(map(repr, bad))}; "
            f"valid options: {', '.join(allowed) or 'none'}"
        )
    return loader(data_dir, **options)


# ---------------------------------------------------------------------- CIFAR binary format


def read_cifar_binary(path: str | os.PathLike, label_bytes: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Read an official CIFAR binary batch into (x uint8 (N,32,32,3), y int64 (N,)).

    Records are ``label_bytes`` label bytes then 3072 pixel bytes stored channel-major
    (all R, then G, then B, each 32x32 row-major). CIFAR-10 uses 1 label byte; CIFAR-100
    uses 2 (coarse, fine), and the *fine* label is returned.
    """
    if label_bytes not in (1, 2):
        raise GradnasError(f"label_bytes must be 1 (CIFAR-10) or 2 (CIFAR-100), got {label_bytes!r}")
    p = Path(path)
    if not p.is_file():
        raise GradnasError(f"CIFAR binary file not found: {str(p)!r}")
    raw = np.fromfile(p, dtype=np.uint8)
    record = label_bytes + CIFAR_IMAGE_BYTES
    if raw.size == 0 or raw.size % record:
        raise GradnasError(
            f"{p}: size {raw.size} bytes is not a positive multiple of the "
            f"{record}-byte record (label_bytes={label_bytes})"
        )
    rows = raw.reshape(-1, record)
    y = rows[:, label_bytes - 1].astype(np.int64)
    x = rows[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(x), y
