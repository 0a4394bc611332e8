"""Training recipes: named, frozen settings, and the learning rate they give at each step.

Kept free of torch so the command line can list the fields as options without loading it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from ..errors import GradnasError, unknown_choice
from ..registry import Registry
from ..validate import positive_int, positive_real


@dataclass(frozen=True)
class Recipe:
    """How a network is trained: SGD with momentum (Nesterov's if `nesterov`), a linear warm-up of
    `warmup_epochs` from lr/steps to `lr`, then a per-step cosine from `lr` to `lr_min` over the
    remaining steps; images are randomly cropped from a `crop_padding`-pixel zero-padded copy,
    flipped horizontally when `flip`, and given a `cutout`-pixel square hole when it is above 0.
    `grad_clip` bounds the gradient norm (0: not clipped)."""

    name: str
    epochs: int
    batch_size: int
    lr: float
    lr_min: float = 0.0
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    warmup_epochs: int = 0
    crop_padding: int = 4
    flip: bool = True
    cutout: int = 0
    grad_clip: float = 0.0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            positive_int(getattr(self, name), f"recipe {name}", 1)
        for name in ("warmup_epochs", "crop_padding", "cutout"):
            positive_int(getattr(self, name), f"recipe {name}", 0)
        for name in ("lr", "lr_min", "momentum", "weight_decay", "grad_clip"):
            positive_real(getattr(self, name), f"recipe {name}", strict=False)
        if self.lr == 0 or self.lr_min > self.lr:
            raise GradnasError(f"recipe lr must be positive and >= lr_min, got {self.lr} and {self.lr_min}")
        if self.warmup_epochs >= self.epochs:
            raise GradnasError(
                f"recipe warmup_epochs ({self.warmup_epochs}) must be fewer than epochs ({self.epochs})"
            )
        if self.momentum >= 1:
            raise GradnasError(f"recipe momentum must be below 1, got {self.momentum}")
        if self.nesterov and self.momentum == 0:
            raise GradnasError("Nesterov momentum needs momentum > 0")

    def identity(self) -> dict:
        """Every field: what, with the data and the seed, determines a training result."""
        return asdict(self)


RECIPES: Registry[Recipe] = Registry(
    "recipe",
    {
        # NAS-Bench-201's (Dong & Yang, ICLR 2020, arXiv 2001.00326): 200 epochs.
        "nb201": Recipe("nb201", epochs=200, batch_size=256, lr=0.1, nesterov=True, weight_decay=5e-4),
        # DARTS's evaluation (Liu et al., ICLR 2019, arXiv 1806.09055): 600 epochs; cutout 16 is its option.
        "darts": Recipe("darts", epochs=600, batch_size=96, lr=0.025, weight_decay=3e-4, grad_clip=5.0),
        # A short screening run: NB201's settings for a few epochs.
        "quick": Recipe("quick", epochs=5, batch_size=128, lr=0.1, nesterov=True, weight_decay=5e-4),
    },
)
OVERRIDABLE = tuple(f.name for f in fields(Recipe) if f.name != "name")


def get_recipe(name: str, **overrides) -> Recipe:
    """The preset `name` with `overrides` (field=value; None leaves a field as it is) applied."""
    preset = RECIPES.lookup(name)
    unknown = sorted(set(overrides) - set(OVERRIDABLE))
    if unknown:
        raise unknown_choice("recipe field", unknown[0], OVERRIDABLE)
    return replace(preset, **{k: v for k, v in overrides.items() if v is not None})


def learning_rate(recipe: Recipe, step: int, total_steps: int) -> float:
    """The learning rate of optimizer step `step` (0-based) of `total_steps`: warm-up steps
    w = warmup_epochs · total/epochs take lr·(step+1)/w; after them the cosine
    lr_min + (lr − lr_min)·(1 + cos(π·(step − w)/(total − w)))/2, which is lr at the first step after
    warm-up and reaches lr_min only after the last step."""
    warmup = recipe.warmup_epochs * total_steps // recipe.epochs
    if step < warmup:
        return recipe.lr * (step + 1) / warmup
    progress = (step - warmup) / (total_steps - warmup)
    return recipe.lr_min + (recipe.lr - recipe.lr_min) * (1 + math.cos(math.pi * progress)) / 2
