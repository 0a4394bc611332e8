"""Evaluation of proxies against benchmark ground truth."""

from gradnas.evaluate.metrics import (
    CorrelationResult,
    SelectionResult,
    correlation,
    top_fraction_overlap,
    top_k_selection,
)

__all__ = [
    "CorrelationResult",
    "SelectionResult",
    "correlation",
    "top_fraction_overlap",
    "top_k_selection",
]
