"""Evaluation of proxies against benchmark ground truth."""

from gradnas.evaluate.metrics import (
    CorrelationResult,
    SelectionResult,
    correlation,
    top_fraction_overlap,
    top_k_selection,
)
from gradnas.evaluate.report import markdown_table, summarize, write_report

_PLOTS = ("correlation_bars", "scatter_grid")


def __getattr__(name: str):
    # The plotting functions load matplotlib (~0.5 s), so they are imported on first use.
    if name in _PLOTS:
        from gradnas.evaluate import plots

        return getattr(plots, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CorrelationResult",
    "SelectionResult",
    "correlation",
    "correlation_bars",
    "markdown_table",
    "scatter_grid",
    "summarize",
    "top_fraction_overlap",
    "top_k_selection",
    "write_report",
]
