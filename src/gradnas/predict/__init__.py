"""Few-shot performance prediction: a handful of labelled architectures and every architecture's
proxy scores give a ranking of the rest (see docs/guide.md, `gradnas predict`)."""

from .model import (
    MIN_LABELS,
    draw_labels,
    evaluate,
    fit,
    one_hot,
    predict_ranks,
    proxy_features,
    proxy_prior,
    read_labels,
)
from .sources import Source, from_study, from_suite_zero, from_table, open_source

__all__ = [
    "MIN_LABELS",
    "Source",
    "draw_labels",
    "evaluate",
    "fit",
    "from_study",
    "from_suite_zero",
    "from_table",
    "one_hot",
    "open_source",
    "predict_ranks",
    "proxy_features",
    "proxy_prior",
    "read_labels",
]
