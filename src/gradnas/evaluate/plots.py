"""Figures of proxy scores against accuracy, saved as PNG.

Figures are built as bare :class:`matplotlib.figure.Figure` objects on the non-interactive Agg
canvas: pyplot's global state (and any interactive backend) is never touched, nothing is shown,
and each figure is released once saved.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator, ScalarFormatter

from gradnas.errors import GradnasError
from gradnas.evaluate.metrics import correlation

DECADES_FOR_LOG = 3.0
MAX_COLUMNS = 3
DPI = 120
LINE_STYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "v", "D", "x", "+")


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(out, format="png")
    finally:
        fig.clear()  # the figure is not registered with pyplot; clearing frees its artists
    return out


def _values(frame: pd.DataFrame, name: str, what: str) -> np.ndarray:
    if name not in frame.columns:
        raise GradnasError(f"{what} column {name!r} is not in the frame")
    try:
        return pd.to_numeric(frame[name], errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise GradnasError(f"{what} column {name!r} must hold numbers: {exc}") from None


def x_scale_for(values: np.ndarray) -> tuple[str, dict]:
    """The x-scale for a proxy's scores: ``log`` when the finite values are all positive and span
    more than 3 decades, ``symlog`` when they include zero or negatives and their nonzero
    magnitudes span more than 3 decades, ``linear`` otherwise. Returns (scale, kwargs)."""
    finite = values[np.isfinite(values)]
    if finite.size < 2:
        return "linear", {}
    if np.all(finite > 0):
        if math.log10(finite.max() / finite.min()) > DECADES_FOR_LOG:
            return "log", {}
        return "linear", {}
    magnitudes = np.abs(finite[finite != 0])
    if magnitudes.size >= 2 and math.log10(magnitudes.max() / magnitudes.min()) > DECADES_FOR_LOG:
        # Linear within the smallest decade-ish band around zero, logarithmic beyond it.
        linthresh = float(np.quantile(magnitudes, 0.05))
        return "symlog", {"linthresh": linthresh}
    return "linear", {}


def _symlog_ticks(values: np.ndarray, linthresh: float, per_side: int = 3) -> list[float]:
    """0 and a few powers of ten on each side, from the linear band out to the largest magnitude."""
    ticks = [0.0]
    low = math.ceil(math.log10(linthresh)) + 1  # keep clear of the linear band around 0
    for sign, side in ((1.0, values[values > 0]), (-1.0, -values[values < 0])):
        if side.size == 0:
            continue
        high = math.ceil(math.log10(side.max()))
        step = max(1, math.ceil((high - low) / per_side))
        ticks += [sign * 10.0**k for k in range(high, min(low, high) - 1, -step)]
    return sorted(ticks)


def _symlog_label(value: float, _pos: object = None) -> str:
    if value == 0:
        return "0"
    exponent = round(math.log10(abs(value)))
    return f"${'-' if value < 0 else ''}10^{{{exponent}}}$"


def _zoom_floor(acc: np.ndarray) -> float | None:
    """The lower y-limit of a zoomed scatter: just under the 5th percentile of the accuracies,
    or None when that would hide nothing."""
    floor = float(np.quantile(acc, 0.05))
    floor -= 0.05 * (float(acc.max()) - floor)
    return floor if np.any(acc < floor) else None


def _format_stat(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:+.3f}"


def scatter_grid(
    frame: pd.DataFrame,
    proxies: list[str],
    accuracy: str,
    path: str | Path,
    title: str,
    *,
    higher_is_better: Mapping[str, bool] | None = None,
    accuracy_label: str | None = None,
    zoom: bool = False,
) -> Path:
    """One panel per proxy: raw score on x, accuracy on y, annotated with ρ, τ and counts.

    ``accuracy_label`` names the y-axis with its unit (default: the column name). ``zoom`` shows
    only the accuracies above the 5th percentile, so a few failed architectures (10 % on
    CIFAR-10) do not squeeze the band where the good ones differ; each panel counts those left out.

    The x-axis switches to a log (or symlog) scale when the finite scores span more than three
    decades (see :func:`x_scale_for`). Non-finite scores are left out and counted on the panel;
    a proxy without finite scores gets an empty panel that says so. For proxies marked False in
    ``higher_is_better`` the axis label says "lower is better" and ρ, τ are those of the negated
    scores, matching :func:`gradnas.evaluate.report.summarize`.
    """
    names = list(proxies)
    if not names:
        raise GradnasError("scatter_grid needs at least one proxy")
    orient = dict(higher_is_better or {})
    acc = _values(frame, accuracy, "accuracy")
    ncols = min(MAX_COLUMNS, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig = _new_figure(3.6 * ncols, 3.0 * nrows + 0.4)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True).ravel()
    floor = _zoom_floor(acc) if zoom else None
    hidden = 0 if floor is None else int(np.count_nonzero(acc < floor))
    for index, (ax, name) in enumerate(zip(axes, names)):
        scores = _values(frame, name, "proxy")
        finite = np.isfinite(scores)
        lower = orient.get(name, True) is False
        scale, kwargs = x_scale_for(scores)
        scale_note = "" if scale == "linear" else f", {scale} scale"
        direction = "lower is better" if lower else "higher is better"
        ax.set_xlabel(f"{name} score ({direction}{scale_note})", fontsize=8)
        if index % ncols == 0:
            ax.set_ylabel(accuracy_label or accuracy, fontsize=8)
        if floor is not None:
            ax.set_ylim(bottom=floor)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3, linewidth=0.5)
        if not finite.any():
            ax.set_title(name, fontsize=9)
            ax.text(
                0.5,
                0.5,
                f"no finite scores\n({scores.size} non-finite)",
                ha="center",
                va="center",
                transform=ax.transAxes,
                fontsize=9,
                color="0.4",
            )
            ax.set_xticks([])
            continue
        ax.scatter(scores[finite], acc[finite], s=6, alpha=0.45, linewidths=0, color="tab:blue")
        if scale == "linear":  # few ticks, large values as a ×10^k offset: labels never overlap
            ax.xaxis.set_major_locator(MaxNLocator(4))
            formatter = ScalarFormatter(useMathText=True)
            formatter.set_powerlimits((-3, 4))
            ax.xaxis.set_major_formatter(formatter)
        elif scale == "log":
            ax.set_xscale("log")
        elif scale == "symlog":
            ax.set_xscale("symlog", **kwargs)
            ax.set_xticks(_symlog_ticks(scores[finite], kwargs["linthresh"]))
            ax.xaxis.set_major_formatter(FuncFormatter(_symlog_label))
            ax.xaxis.set_minor_locator(NullLocator())
        corr = correlation(-scores if lower else scores, acc)
        stats_line = (
            f"ρ = {_format_stat(corr.spearman)}   τ = {_format_stat(corr.kendall)}   n = {corr.n_used}"
        )
        if corr.n_nan:
            stats_line += f" (+{corr.n_nan} nan)"
        if hidden:
            stats_line += f"\n{hidden} below {floor:.1f} not shown"
        ax.set_title(f"{name}\n{stats_line}", fontsize=9)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(textwrap.fill(title, 110), fontsize=11)
    return _save(fig, path)


def correlation_bars(summary: pd.DataFrame, path: str | Path, title: str) -> Path:
    """Horizontal bars of signed Spearman ρ and Kendall τ per proxy, with a zero line.

    Proxies run top to bottom in the summary's order, lower-is-better ones marked "(−)"; a NaN
    correlation gets no bar and a "nan" label instead.
    """
    missing = [c for c in ("proxy", "spearman", "kendall") if c not in summary.columns]
    if missing:
        raise GradnasError(f"summary lacks columns {missing}; pass the frame that summarize() returns")
    names = [str(p) for p in summary["proxy"]]
    if "higher_is_better" in summary.columns:
        flags = summary["higher_is_better"].astype(str).tolist()
        names = [f"{n} (−)" if flag == "False" else n for n, flag in zip(names, flags)]
    if not names:
        raise GradnasError("correlation_bars needs at least one proxy")
    rho = pd.to_numeric(summary["spearman"], errors="coerce").to_numpy(dtype=np.float64)
    tau = pd.to_numeric(summary["kendall"], errors="coerce").to_numpy(dtype=np.float64)
    y = np.arange(len(names))
    height = 0.38
    fig = _new_figure(7.2, 1.2 + 0.5 * len(names))
    ax = fig.subplots()
    for offset, values, label, color in (
        (-height / 2, rho, "Spearman ρ", "tab:blue"),
        (height / 2, tau, "Kendall τ", "tab:orange"),
    ):
        ok = np.isfinite(values)
        ax.barh(y[ok] + offset, values[ok], height=height, label=label, color=color)
        for yi, value in zip(y + offset, values):
            if math.isfinite(value):
                ax.text(
                    value + (0.02 if value >= 0 else -0.02),
                    yi,
                    f"{value:+.3f}",
                    va="center",
                    ha="left" if value >= 0 else "right",
                    fontsize=7,
                )
            else:
                ax.text(0.02, yi, "nan", va="center", ha="left", fontsize=7, color="0.4")
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(y, names, fontsize=8)
    ax.set_ylim(len(names) - 0.5, -0.5)  # first proxy on top; rows without bars keep their room
    ax.set_xlim(-1.15, 1.15)
    ax.set_xlabel("rank correlation with accuracy (signed)", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    ax.grid(True, axis="x", alpha=0.3, linewidth=0.5)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    if title:
        ax.set_title(textwrap.fill(title, 70), fontsize=10)
    return _save(fig, path)


def search_curves(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str) -> Path:
    """Mean best-so-far accuracy against simulated search time, one line per search."""
    fig = _new_figure(7.0, 4.5)
    ax = fig.add_subplot()
    for index, (label, (times, values)) in enumerate(curves.items()):
        found = np.isfinite(np.asarray(values, dtype=np.float64))
        if not found.any():  # in the legend, but saying why no line is drawn
            ax.plot([], [], label=f"{label} (nothing evaluated in time)")
            continue
        # cycle line styles and sparse markers: curves that coincide (HB and BOHB often do) stay visible
        style = LINE_STYLES[index % len(LINE_STYLES)]
        marker = MARKERS[index % len(MARKERS)]
        ax.plot(times, values, label=label, linestyle=style, marker=marker, markevery=0.1, markersize=4)
    ax.set_xlabel("simulated search time (s)")
    ax.set_ylabel("test accuracy of the best found (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return _save(fig, path)
