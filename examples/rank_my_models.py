"""Rank your own PyTorch models without training them.

    python3 examples/rank_my_models.py

Scores three small CNNs (examples/my_models.py) with GradSign and synflow on 32 of the exact
CIFAR-10 images shipped with gradnas, and prints them best first (higher is better).
"""

import sys
from pathlib import Path

import gradnas

sys.path.insert(0, str(Path(__file__).resolve().parent))
from my_models import deep, small, wide  # noqa: E402


def main() -> None:
    batch = gradnas.probe_batch("cifar10", batch_size=32, seed=0)
    print(batch)
    ranked = gradnas.rank(
        {"small": small, "wide": wide, "deep": deep}, batch, proxies=["gradsign", "synflow"]
    )
    print(ranked[["rank", "model", "gradsign", "synflow"]].to_string(index=False))


if __name__ == "__main__":
    main()
