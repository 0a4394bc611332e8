"""Published correlations to compare with (NAS-Bench-201, all 15,625 architectures)."""

from __future__ import annotations

# GradSign paper Table 2 (Spearman ρ); GradAlign paper Table 4 (Kendall τ); MeCo's abstract
# ("MeCo: Zero-Shot NAS with One Data and Single Forward Pass via Minimum Eigenvalue of
# Correlation", NeurIPS 2023: 0.89 on NATS-Bench-TSS, i.e. NB201, with CIFAR-10).
_NB201 = {
    "cifar10": {
        "gradsign": {"spearman": 0.765},
        "meco": {"spearman": 0.89},
        "synflow": {"spearman": 0.737},
        "naswot": {"spearman": 0.728},
        "grad_norm": {"spearman": 0.594},
        "gradalign_1": {"kendall": 0.617},
        "gradalign_2": {"kendall": 0.599},
    },
    "cifar100": {
        "gradsign": {"spearman": 0.793},
        "synflow": {"spearman": 0.763},
        "naswot": {"spearman": 0.703},
        "grad_norm": {"spearman": 0.637},
        "gradalign_1": {"kendall": 0.633},
        "gradalign_2": {"kendall": 0.622},
    },
    "imagenet16_120": {
        "gradsign": {"spearman": 0.783},
        "synflow": {"spearman": 0.751},
        "naswot": {"spearman": 0.696},
        "grad_norm": {"spearman": 0.579},
        "gradalign_1": {"kendall": 0.623},
        "gradalign_2": {"kendall": 0.607},
    },
}


def published_for(benchmark: str, dataset: str) -> dict[str, dict[str, float]]:
    """Published values for this benchmark and dataset (empty where none are known)."""
    return _NB201.get(dataset, {}) if benchmark == "nb201" else {}
