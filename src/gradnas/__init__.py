"""gradnas: gradient-based neural architecture search.

import gradnas
scores = gradnas.score(model, batch, ["gradsign", "gradalign_1"])  # any nn.Module classifier
gradnas.rank({"a": make_a, "b": make_b}, batch, proxies=["gradsign"])  # your models, best first
"""

from .api import rank, rank_archs, sample_archs
from .benchmarks import load_benchmark
from .data import ProbeBatch, probe_batch
from .errors import GradnasError
from .proxies import PROXIES, SEED_PROXIES, Score, score
from .run.tasks import ProbeSpec
from .spaces import get_space

__version__ = "0.1.0"

__all__ = [
    "PROXIES",
    "SEED_PROXIES",
    "GradnasError",
    "ProbeBatch",
    "ProbeSpec",
    "Score",
    "get_space",
    "load_benchmark",
    "probe_batch",
    "rank",
    "rank_archs",
    "sample_archs",
    "score",
]
