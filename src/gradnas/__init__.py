"""gradnas: gradient-based neural architecture search.

import gradnas
scores = gradnas.score(model, batch, ["gradsign", "synflow"])  # any nn.Module classifier
gradnas.rank({"a": make_a, "b": make_b}, batch, proxies=["gradsign"])  # your models, best first

The public names are imported on first use, so `import gradnas` (and `gradnas --help`) does not
load torch until something needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> the module that defines it
_PUBLIC = {
    "rank": "api",
    "rank_archs": "api",
    "sample_archs": "api",
    "load_benchmark": "benchmarks",
    "ProbeBatch": "data",
    "probe_batch": "data",
    "GradnasError": "errors",
    "PROXIES": "proxies",
    "SEED_PROXIES": "proxies",
    "FORWARD_PROXIES": "proxies",
    "Score": "proxies",
    "score": "proxies",
    "ProbeSpec": "run.tasks",
    "load_scores": "run.tables",
    "get_space": "spaces",
    "train": "training",
}

__all__ = sorted(_PUBLIC)

if TYPE_CHECKING:  # for type checkers and IDEs; at run time __getattr__ imports on first use
    from .api import rank, rank_archs, sample_archs  # noqa: F401
    from .benchmarks import load_benchmark  # noqa: F401
    from .data import ProbeBatch, probe_batch  # noqa: F401
    from .errors import GradnasError  # noqa: F401
    from .proxies import FORWARD_PROXIES, PROXIES, SEED_PROXIES, Score, score  # noqa: F401
    from .run.tables import load_scores  # noqa: F401
    from .run.tasks import ProbeSpec  # noqa: F401
    from .spaces import get_space  # noqa: F401
    from .training import train  # noqa: F401


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'gradnas' has no attribute {name!r}")
    module = importlib.import_module(f".{_PUBLIC[name]}", __name__)
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
