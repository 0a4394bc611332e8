"""MeCo (Jiang et al., NeurIPS 2023): the minimum eigenvalue of the channel correlation of every
module's feature map on one sample, from a single forward pass."""

from .registry import proxy


@proxy("meco", ingredients=["module_correlations"], batch_size=1, needs_labels=False,
       paper="MeCo (Jiang et al., NeurIPS 2023)")  # fmt: skip
def meco(probe) -> float:
    """Σ over every module call of λ_min(P), P the Pearson correlation of the output's channels on
    the first sample (undefined entries 0), train-mode BN."""
    return sum(full for full, _ in probe["module_correlations"])


@proxy("meco_opt", ingredients=["module_correlations"], batch_size=1, needs_labels=False,
       paper="MeCo (Jiang et al., NeurIPS 2023)")  # fmt: skip
def meco_opt(probe) -> float:
    """MeCo_opt: as `meco` on 8 channels sampled per feature map (seeded), each λ_min scaled by c/8.

    A map with at most 8 channels uses all of them, unscaled."""
    return sum(sampled for _, sampled in probe["module_correlations"])
