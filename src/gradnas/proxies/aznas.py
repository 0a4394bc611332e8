"""AZ-NAS's components (Lee & Ham, CVPR 2024, arXiv 2403.19232), from the stem and cell outputs of
one forward pass. Their non-linear rank aggregation, `az_nas`, ranks a population, so it is an
ensemble rule (`ensemble:az_nas` in gradnas.evaluate.ensemble), not a proxy."""

import math

from .registry import Undefined, proxy

PAPER = "AZ-NAS (Lee & Ham, CVPR 2024)"


@proxy("az_expressivity", ingredients=["stage_terms"], batch_size=64, needs_labels=False, paper=PAPER)
def az_expressivity(probe) -> float:
    """Σ over stem and cell outputs of the entropy of the normalised eigenvalues of the channel
    covariance (isotropy of the features)."""
    return sum(probe["stage_terms"][0])


@proxy("az_progressivity", ingredients=["stage_terms"], batch_size=64, needs_labels=False, paper=PAPER)
def az_progressivity(probe) -> float:
    """min over consecutive stage outputs of the increase of their isotropy (expressivity)."""
    isotropy = probe["stage_terms"][0]
    if len(isotropy) < 2:
        raise Undefined("progressivity compares consecutive stage outputs, and the model has one")
    return min(b - a for a, b in zip(isotropy, isotropy[1:]))


@proxy("az_trainability", ingredients=["stage_terms"], batch_size=64, needs_labels=False, paper=PAPER)
def az_trainability(probe) -> float:
    """mean over cells of −σ − 1/σ + 2, σ the spectral norm of the cell's backward map estimated
    with a random ±1 output gradient (best at σ = 1)."""
    gains = probe["stage_terms"][1]
    if not gains:
        raise Undefined("trainability compares consecutive stage outputs, and the model has one")
    if any(g is None for g in gains):
        raise Undefined("a cell passes its output gradient through unchanged (an identity: −inf for AZ-NAS)")
    return math.fsum(gains) / len(gains)


@proxy("az_complexity", ingredients=["macs"], batch_size=1, needs_labels=False, paper=PAPER)
def az_complexity(probe) -> float:
    """FLOPs (multiply-accumulates of every Conv2d and Linear): AZ-NAS ranks the larger network higher."""
    return probe["macs"]
