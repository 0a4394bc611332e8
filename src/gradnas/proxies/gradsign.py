"""GradSign (Zhang & Jia, ICLR 2022, arXiv 2110.08616, Alg. 1): the density of sample-wise local optima."""

from .registry import proxy


@proxy("gradsign", ingredients=["sign_sum"], batch_size=128, paper="GradSign (Zhang & Jia, ICLR 2022)")
def gradsign(probe) -> float:
    """Σ_k |Σ_i sign(∂ℓ_i/∂θ_k)| over scored parameters (sign(0) = 0); higher is better.

    The paper's NB201 Spearman table used batch 64; its other experiments use 128.
    """
    return sum(probe["sign_sum"].values())
