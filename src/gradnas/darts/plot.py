"""`alphas.png`: the mean softmax weight of `none` and `skip_connect` over the edges, per epoch, the
two ops whose growth signals a collapsing differentiable search. Drawn on a bare Agg figure, so
pyplot's global state is never touched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def plot_op_weights(log: list[dict[str, Any]], path: Path, num_ops: int, title: str) -> Path:
    fig = Figure(figsize=(6.0, 3.6), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    epochs = [entry["epoch"] for entry in log]
    ax.plot(epochs, [entry["mean_none"] for entry in log], marker="o", label="none")
    ax.plot(epochs, [entry["mean_skip"] for entry in log], marker="s", label="skip_connect")
    ax.axhline(1 / num_ops, color="grey", linestyle=":", label=f"uniform (1/{num_ops})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean softmax weight over edges")
    ax.set_title(title, fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    try:
        fig.savefig(path, format="png")
    finally:
        fig.clear()
    return path
