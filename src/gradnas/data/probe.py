"""Probe batches: the one fixed minibatch every architecture of an experiment is scored on.

The batch is passed to proxies explicitly and chosen by a seed, either uniformly or
class-balanced (k samples from each of c classes, which per-class proxies need on 100-class
data). The batch remembers where it came from so results can be reproduced. It holds images or,
for the text search spaces, token ids.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import numpy as np
import torch

from gradnas.data.sources import ImageSet, load_dataset
from gradnas.data.text import TokenSet
from gradnas.devices import resolve_device
from gradnas.errors import GradnasError
from gradnas.validate import check_seed, positive_int

MODES = ("uniform", "balanced")


@dataclass(frozen=True, eq=False)
class ProbeBatch:
    """A fixed (x, y) minibatch plus its provenance.

    ``x`` is either images, (n, C, H, W) floating point (float32 as drawn), or tokens, int64
    (n, L) ids in [0, vocab_size); ``vocab_size`` is given exactly for tokens, since a network's
    embedding is sized by it. ``y`` is int64 (n,) in [0, num_classes). ``indices`` are the sample
    indices in the source, in batch order; it may be empty for batches built by hand.
    """

    x: torch.Tensor
    y: torch.Tensor
    num_classes: int
    dataset: str = "custom"
    seed: int = 0
    mode: str = "uniform"
    indices: tuple[int, ...] = ()
    variant: str = ""
    vocab_size: int | None = None

    def __repr__(self) -> str:
        """One short line: shape, dtype, classes and provenance, never the tensor's values."""
        source = f"{self.dataset}{'/' + self.variant if self.variant else ''}"
        vocab = f", vocab_size={self.vocab_size}" if self.vocab_size is not None else ""
        return (
            f"ProbeBatch(x={tuple(self.x.shape)} {str(self.x.dtype).replace('torch.', '')}, "
            f"num_classes={self.num_classes}{vocab}, {source}, {self.mode}, seed={self.seed})"
        )

    def __post_init__(self) -> None:
        x, y = self.x, self.y
        images = isinstance(x, torch.Tensor) and x.dim() == 4 and x.is_floating_point()
        tokens = isinstance(x, torch.Tensor) and x.dim() == 2 and x.dtype == torch.int64
        if not (images or tokens):
            raise GradnasError(
                f"probe x must be a floating (n,C,H,W) image tensor or an int64 (n,L) token "
                f"tensor, got {getattr(x, 'dtype', type(x).__name__)} "
                f"{tuple(getattr(x, 'shape', ()))}"
            )
        if tokens:
            self._check_tokens()
        elif self.vocab_size is not None:
            raise GradnasError("vocab_size is for token batches; this batch holds images")
        if not isinstance(y, torch.Tensor) or y.dim() != 1 or y.dtype != torch.int64:
            raise GradnasError(
                f"probe y must be a 1-D int64 tensor, got "
                f"{getattr(y, 'dtype', type(y).__name__)} "
                f"{tuple(getattr(y, 'shape', ()))}"
            )
        if y.shape[0] != x.shape[0]:
            raise GradnasError(f"probe x has {x.shape[0]} samples but y has {y.shape[0]}")
        if int(self.num_classes) < 1:
            raise GradnasError(f"num_classes must be >= 1, got {self.num_classes}")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise GradnasError(
                f"probe labels must lie in [0, {self.num_classes}), got [{int(y.min())}, {int(y.max())}]"
            )
        if self.mode not in MODES:
            raise GradnasError(f"probe mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.indices and len(self.indices) != x.shape[0]:
            raise GradnasError(f"probe has {x.shape[0]} samples but {len(self.indices)} indices")

    def _check_tokens(self) -> None:
        v = positive_int(self.vocab_size, "a token batch's vocab_size")
        if self.x.shape[1] < 1:
            raise GradnasError("token sequences must hold at least one token")
        if self.x.numel() and (int(self.x.min()) < 0 or int(self.x.max()) >= v):
            raise GradnasError(
                f"token ids must lie in [0, {v}), got [{int(self.x.min())}, {int(self.x.max())}]"
            )

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def is_tokens(self) -> bool:
        """True for a batch of token ids, False for images."""
        return self.vocab_size is not None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """(C, H, W) of one image, or (L,) of one token sequence."""
        return tuple(int(s) for s in self.x.shape[1:])

    def to(self, dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> ProbeBatch:
        """A copy with image ``x`` cast (e.g. to float64 for engine comparisons) and/or moved;
        token ids stay int64 whatever ``dtype`` says."""
        if dtype is not None and not dtype.is_floating_point:
            raise GradnasError(f"probe x must stay floating point, not {dtype}")
        keep = self.is_tokens or dtype is None
        x = self.x.to(dtype=self.x.dtype if keep else dtype, device=device, copy=True)
        y = self.y.to(device=device, copy=True)
        return dataclasses.replace(self, x=x, y=y)


def _source_label(source: ImageSet | TokenSet) -> str:
    return f"{source.name!r}" + (f" ({source.variant})" if source.variant else "")


def draw_batch(
    source: ImageSet | TokenSet, batch_size: int, seed: int, per_class: int | None = None
) -> ProbeBatch:
    """Draw a probe batch from ``source`` deterministically from ``seed``.

    Uniform (``per_class=None``): ``default_rng(seed).choice(N, batch_size, replace=False)``;
    the batch keeps that drawn order. Balanced (``per_class=k``): ``batch_size // k`` classes
    are drawn (same rng) among the classes with at least k samples, then k samples of each;
    the batch is grouped by class, in the order the classes were drawn, samples within a
    class in drawn order. ``batch_size`` must then be a multiple of k.
    """
    batch_size = positive_int(batch_size, "batch_size")
    seed = check_seed(seed)
    n = len(source)
    rng = np.random.default_rng(int(seed))
    if per_class is None:
        if batch_size > n:
            raise GradnasError(f"batch_size {batch_size} exceeds the {n} samples of {_source_label(source)}")
        idx = rng.choice(n, batch_size, replace=False)
        mode = "uniform"
    else:
        k = positive_int(per_class, "per_class")
        if batch_size % k:
            raise GradnasError(f"batch_size {batch_size} is not a multiple of per_class {k}")
        n_cls = batch_size // k
        counts = np.bincount(source.y, minlength=source.num_classes)
        eligible = np.flatnonzero(counts >= k)
        if n_cls > len(eligible):
            raise GradnasError(
                f"balanced batch {batch_size} = {n_cls} classes x {k} needs {n_cls} classes "
                f"with >= {k} samples; {_source_label(source)} has {len(eligible)} such "
                f"classes (of {int((counts > 0).sum())} present)"
            )
        classes = rng.choice(eligible, n_cls, replace=False)
        idx = np.concatenate([rng.choice(np.flatnonzero(source.y == c), k, replace=False) for c in classes])
        mode = "balanced"
    idx = idx.astype(np.int64)
    return ProbeBatch(
        x=source.to_tensor(idx),
        y=torch.from_numpy(source.y[idx].copy()),
        num_classes=source.num_classes,
        dataset=source.name,
        seed=int(seed),
        mode=mode,
        indices=tuple(int(i) for i in idx),
        variant=source.variant,
        vocab_size=source.vocab_size if isinstance(source, TokenSet) else None,
    )


def probe_batch(
    dataset: str,
    batch_size: int = 128,
    seed: int = 0,
    per_class: int | None = None,
    data_dir: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    **options,
) -> ProbeBatch:
    """Load ``dataset`` (with ``options``, see :func:`load_dataset`) and draw a batch from it, on
    ``device`` (a spec of gradnas.devices; the draw itself is the same on every device). Scoring
    moves a batch to the model's device anyway, so the CPU default is always right."""
    device = resolve_device(device)
    source = load_dataset(dataset, data_dir=data_dir, **options)
    batch = draw_batch(source, batch_size, seed, per_class=per_class)
    return batch if device.type == "cpu" else batch.to(device=device)
