"""Score a few NAS-Bench-201 architectures, compare with their trained accuracy, and plot.

    python3 examples/correlate_nb201.py [OUT_DIR]

Uses only the data shipped with gradnas (the NB201 accuracy table and exact CIFAR-10 images).
Eight architectures and a batch of 16 keep it to seconds: far too few for a reliable ρ
(see docs/results-ranking.md for 1,000 architectures).
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

import gradnas  # noqa: E402


def main(out_dir: Path) -> None:
    archs = gradnas.sample_archs("nb201", 8, seed=0)
    spec = gradnas.ProbeSpec("cifar10", batch_size=16, seed=0)
    ranked = gradnas.rank_archs(archs, ["gradsign"], spec, progress=False)
    bench = gradnas.load_benchmark("nb201")
    ranked["accuracy"] = [bench.query(a, "cifar10") for a in ranked["arch"]]
    rho = spearmanr(ranked["gradsign"], ranked["accuracy"]).statistic
    print(ranked[["rank", "gradsign", "accuracy", "arch"]].to_string(index=False))
    print(f"Spearman rho over {len(ranked)} archs: {rho:.3f}")

    out_dir.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    ax.scatter(ranked["gradsign"], ranked["accuracy"])
    ax.set_xscale("symlog")
    ax.set_xlabel("GradSign score (higher is better)")
    ax.set_ylabel("CIFAR-10 test accuracy (%)")
    ax.set_title(f"8 NB201 archs, Spearman ρ = {rho:.2f}")
    fig.tight_layout()
    fig.savefig(out_dir / "gradsign_vs_accuracy.png", dpi=120)
    print(f"wrote {out_dir / 'gradsign_vs_accuracy.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("results/example"))
