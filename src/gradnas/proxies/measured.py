"""Each proxy's measured ranking quality on NAS-Bench-201, for `gradnas proxies` and the docs.

Spearman ρ against the benchmark's 200-epoch test accuracy, signed (a negative ρ ranks backwards).
The figures and the commands that produced them are in docs/results-ranking.md.
"""

from __future__ import annotations

# 1,000 random NB201 archs (seed 0), probe batch 128: CIFAR-10 uniform from the exact-pixel training
# images, CIFAR-100 class-balanced (16 classes x 8) from the exact test images.
WHERE = "NB201, 1,000 random archs (seed 0), batch 128"
# ntk_cond and grasp are slow, so they were measured on a smaller sample.
WHERE_SMALL = "NB201, 50 random archs (seed 0), CIFAR-10, batch 64"
# The newest proxies, on the shipped CIFAR-10 score table so far (a uniform random sample of the
# space; CIFAR-10 only, since no CIFAR-100-probed table exists yet).
WHERE_TABLE = "NB201, the 1,919 random archs of the shipped table, CIFAR-10, batch 64"
# vkdnw is too slow for the table: measured on the first 100 archs of the seed-0 draw.
WHERE_100 = "NB201, 100 random archs (seed 0), CIFAR-10, batch 128"

# name: (CIFAR-10 ρ, CIFAR-100 ρ or None, where)
NB201_RHO: dict[str, tuple[float, float | None, str]] = {
    "gradsign": (0.815, 0.800, WHERE),
    "mgm": (0.631, 0.564, WHERE),
    "mgm_layerwise": (0.454, 0.239, WHERE),
    "knas": (-0.101, -0.014, WHERE),
    "gt_correlation": (-0.198, -0.772, WHERE),
    "gt_value": (0.516, 0.587, WHERE),
    "gt_kernel": (0.332, 0.485, WHERE),
    "gradalign_1": (-0.654, -0.647, WHERE),
    "gradalign_2": (-0.705, -0.692, WHERE),
    "gradalign_2_raw": (-0.675, -0.671, WHERE),
    "gradalign_1_all": (-0.159, -0.649, WHERE),
    "gradalign_2_all": (-0.744, -0.732, WHERE),
    "gradalign_1_sign": (-0.760, -0.815, WHERE),
    "gradalign_2_sign": (-0.840, -0.863, WHERE),
    "gradalign_1_sign_raw": (0.792, 0.782, WHERE),
    "gradalign_2_sign_raw": (-0.857, -0.835, WHERE),
    "gradalign_2_diverse": (0.705, 0.692, WHERE),
    "gradalign_2_sign_diverse": (0.840, 0.863, WHERE),
    "synflow": (0.797, 0.789, WHERE),
    "naswot": (0.797, 0.816, WHERE),
    "params": (0.772, 0.755, WHERE),
    "flops": (0.772, 0.755, WHERE),
    "jacob_cov": (0.733, 0.746, WHERE),
    "snip": (0.640, 0.637, WHERE),
    "grad_norm": (0.637, 0.634, WHERE),
    "linear_regions": (0.597, 0.612, WHERE),
    "fisher": (0.550, 0.563, WHERE),
    "zen": (0.325, 0.299, WHERE),
    "ntk_cond": (0.692, None, WHERE_SMALL),
    "grasp": (0.598, None, WHERE_SMALL),
    "zico": (0.771, None, WHERE_TABLE),
    "meco": (0.917, None, WHERE_TABLE),
    "meco_opt": (0.882, None, WHERE_TABLE),
    "swap": (0.737, None, WHERE_TABLE),
    "az_expressivity": (0.752, None, WHERE_TABLE),
    "az_progressivity": (0.447, None, WHERE_TABLE),
    "az_trainability": (0.384, None, WHERE_TABLE),
    "az_complexity": (0.761, None, WHERE_TABLE),
    "vkdnw": (-0.026, None, WHERE_100),
    "vkdnw_dim": (0.707, None, WHERE_TABLE),
    "epe_nas": (0.662, None, WHERE_TABLE),
    "l2_norm": (0.704, None, WHERE_TABLE),
    "plain": (-0.315, None, WHERE_TABLE),
}


def rho_text(name: str) -> str:
    """'ρ C10 0.815 / C100 0.800' for a measured proxy, 'not measured on NB201' otherwise."""
    if name not in NB201_RHO:
        return "ρ not measured on NB201"
    c10, c100, _ = NB201_RHO[name]
    return f"ρ C10 {c10:+.3f}" + ("" if c100 is None else f" / C100 {c100:+.3f}")


def best_forward(k: int = 3) -> list[str]:
    """The k proxies with the highest measured CIFAR-10 ρ on the 1,000-arch sample."""
    ranked = sorted((v[0], n) for n, v in NB201_RHO.items() if v[2] == WHERE)
    return [n for _, n in ranked[::-1][:k]]


def other_samples(quote: str = "") -> str:
    """'ntk_cond, grasp: <sample>; ...' for the proxies measured on another sample than WHERE."""
    groups: dict[str, list[str]] = {}
    for name, (_, _, where) in NB201_RHO.items():
        if where != WHERE:
            groups.setdefault(where, []).append(f"{quote}{name}{quote}")
    return "; ".join(f"{', '.join(names)}: {where}" for where, names in groups.items())
