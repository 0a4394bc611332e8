"""Differentiable architecture search: DARTS and Amended-DARTS.

- `NB201Supernet`: the NB201 cell space relaxed to softmax-weighted mixtures of ops; α via
  `arch_parameters()`, everything else via `weights()`; `genotype()` derives the arch.
- `DartsSupernet`: the same for the DARTS space (normal and reduction α); `genotype()` gives a
  `DartsGenotype` (top-2 incoming edges per node).
- `arch_gradient(rule, ...)` with rules `first`, `second`, `amended`, `amended_fd` (see RULES), and
  `step(...)`: one α update (optionally with β-DARTS's regulariser) followed by one weight update.
- `hvp`, `mixed_vp` (exact, double backward) and `hvp_fd`, `mixed_vp_fd` (central differences).
- `exact_g2`, `explicit_hessian`: the exact hypergradient term, a harness for tiny models only.
- `DartsConfig`, `run_darts`: a resumable NB201 or DARTS-space search with per-epoch logs (η
  diagnostics included) and checkpoints.
"""

from gradnas.darts.architect import RULES, Searchable, amended_term, arch_gradient, loss_closure, step
from gradnas.darts.darts_supernet import DARTS_OPS, DartsGenotype, DartsSupernet
from gradnas.darts.exact import exact_g2, explicit_hessian
from gradnas.darts.hessian import hvp, hvp_fd, mixed_vp, mixed_vp_fd
from gradnas.darts.run import DartsConfig, run_darts
from gradnas.darts.supernet import NB201Supernet
from gradnas.darts.vectors import cosine

__all__ = [
    "DARTS_OPS",
    "DartsConfig",
    "RULES",
    "DartsGenotype",
    "DartsSupernet",
    "NB201Supernet",
    "Searchable",
    "amended_term",
    "arch_gradient",
    "cosine",
    "exact_g2",
    "explicit_hessian",
    "hvp",
    "hvp_fd",
    "loss_closure",
    "mixed_vp",
    "mixed_vp_fd",
    "run_darts",
    "step",
]
