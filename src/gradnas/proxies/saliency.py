"""Gradient-saliency baselines of the zero-cost-proxy literature (arXiv 2101.08134), on one batch with
ordinary (batch-statistics) BatchNorm, summed over the scored layers."""

from .registry import proxy

SUITE_ZERO = "NAS-Bench-Suite-Zero (Krishnakumar et al., NeurIPS 2022)"


@proxy("grad_norm", ingredients=["batch_grads"], batch_size=64, paper="Abdelfattah et al., ICLR 2021")
def grad_norm(probe) -> float:
    """Σ_l ‖∂L/∂W_l‖₂, the sum of the scored layers' gradient norms (Abdelfattah et al. 2021)."""
    return sum(float(g.norm()) for _, g in probe["batch_grads"].values())


@proxy("snip", ingredients=["batch_grads"], batch_size=64, paper="SNIP (Lee et al., ICLR 2019)")
def snip(probe) -> float:
    """Σ |W ⊙ ∂L/∂W| over scored weights (SNIP connection sensitivity, Lee et al. 2019)."""
    return sum(float((w * g).abs().sum()) for w, g in probe["batch_grads"].values())


@proxy("plain", ingredients=["batch_grads"], batch_size=64, paper=SUITE_ZERO)
def plain(probe) -> float:
    """Σ W ⊙ ∂L/∂W over scored weights, signed (NAS-Bench-Suite-Zero's `plain`, from NASLib)."""
    return sum(float((w * g).sum()) for w, g in probe["batch_grads"].values())


@proxy(
    "synflow",
    ingredients=["synflow_saliency"],
    batch_size=1,
    needs_labels=False,
    paper="SynFlow (Tanaka et al., NeurIPS 2020)",
)
def synflow(probe) -> float:
    """Σ |W ⊙ ∂R/∂W|, R = output sum of the |weights| network on ones, BatchNorm removed.

    Computed in float64 (it overflows float32 on deep networks); Tanaka et al. 2020."""
    return sum(float(s.sum()) for s in probe["synflow_saliency"].values())


@proxy("grasp", ingredients=["grasp_products"], batch_size=64, paper="GraSP (Wang et al., ICLR 2020)")
def grasp(probe) -> float:
    """Σ −W ⊙ Hg, g = ∂L/∂W and H the Hessian of the batch loss (a double backward, no matrix)."""
    return -sum(float(p.sum()) for p in probe["grasp_products"].values())


@proxy("fisher", ingredients=["fisher_terms"], batch_size=64, paper="Turner et al., ICLR 2020")
def fisher(probe) -> float:
    """Σ over Conv2d/Linear layers and output channels of F_k · fan_in, F_k = ½ mean_n s_nk²,
    s_nk = Σ_positions a·∂L/∂a of the layer's output a."""
    return sum(float(f.sum()) * fan_in for f, fan_in in probe["fisher_terms"])
