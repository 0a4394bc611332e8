"""Figures and tables fit for a paper: units and directions on the axes, a zoomed view past the
failed architectures, visible curves, and bootstrap intervals on ρ that say when n is too small."""

import math

import numpy as np
import pandas as pd
import pytest

from gradnas.evaluate import plots
from gradnas.evaluate.metrics import correlation, spearman_interval
from gradnas.evaluate.report import markdown_table, summarize


@pytest.fixture
def nb201_like():
    """A wide-range score (like params) on 200 archs, 94-85 % accuracy plus four failed ones at 10 %."""
    rng = np.random.default_rng(0)
    acc = np.concatenate([rng.uniform(85, 94, 196), np.full(4, 10.0)])
    params = np.exp(acc / 6 + rng.normal(0, 0.3, acc.size)) * 1e3
    return pd.DataFrame({"arch": [f"a{i}" for i in range(acc.size)], "params": params, "accuracy": acc})


def test_spearman_interval_contains_rho_and_narrows_with_n():
    rng = np.random.default_rng(1)
    acc = rng.normal(size=1000)
    scores = acc + rng.normal(size=1000)
    wide, narrow = spearman_interval(scores[:30], acc[:30]), spearman_interval(scores, acc)
    assert wide[0] < correlation(scores[:30], acc[:30]).spearman < wide[1]
    assert narrow[0] < correlation(scores, acc).spearman < narrow[1]
    assert narrow[1] - narrow[0] < 0.1 < 0.3 < wide[1] - wide[0]
    assert spearman_interval(scores, acc) == narrow  # seeded
    assert all(math.isnan(v) for v in spearman_interval(np.ones(10), acc[:10]))


def test_report_table_gives_the_interval_and_says_when_n_is_too_small(nb201_like):
    small = summarize(nb201_like.head(30), ["params"], n_draws=50)
    table = markdown_table(small, published={"params": {"spearman": float(small["spearman"][0])}})
    header = table.splitlines()[0]
    assert "| ρ 95% CI |" in header and "(in CI)" in table
    assert "n = 30 architectures is too small to compare with published values" in table
    large = summarize(nb201_like, ["params"], n_draws=50)
    low, high = large[["spearman_low", "spearman_high"]].iloc[0]
    assert f"{low:.2f} – {high:.2f}" in markdown_table(large)
    assert "too small" not in markdown_table(large)


def test_zoomed_scatter_leaves_out_only_the_failed_archs(nb201_like, tmp_path, monkeypatch):
    assert plots._zoom_floor(nb201_like["accuracy"].to_numpy()) > 10.0
    seen = {}

    def keep(fig, path):
        ax = fig.axes[0]
        seen[path.name] = (ax.get_xlabel(), ax.get_ylabel(), ax.get_ylim(), ax.get_title())
        return path

    monkeypatch.setattr(plots, "_save", keep)
    for zoom in (False, True):
        plots.scatter_grid(
            nb201_like,
            ["params"],
            "accuracy",
            tmp_path / f"{zoom}.png",
            "t",
            accuracy_label="cifar10 test accuracy (%)",
            zoom=zoom,
        )
    xlabel, ylabel, ylim, title = seen["True.png"]
    assert xlabel == "params score (higher is better, log scale)" and ylabel == "cifar10 test accuracy (%)"
    assert ylim[0] > 80 and "4 below" in title
    assert seen["False.png"][2][0] < 10.0 and "below" not in seen["False.png"][3]


def test_curves_keep_every_search_visible(tmp_path, monkeypatch):
    seen = {}

    def keep(fig, path):
        ax = fig.axes[0]
        seen["labels"] = [t.get_text() for t in ax.get_legend().get_texts()]
        seen["styles"] = [line.get_linestyle() for line in ax.get_lines()]
        return path

    monkeypatch.setattr(plots, "_save", keep)
    times = np.linspace(0, 10, 20)
    same = np.linspace(80, 90, 20)
    curves = {"HB": (times, same), "BOHB": (times, same), "late": (times, np.full(20, np.nan))}
    plots.search_curves(curves, tmp_path / "c.png", "t")
    assert seen["labels"] == ["HB", "BOHB", "late (nothing evaluated in time)"]
    assert seen["styles"][0] != seen["styles"][1]  # identical curves drawn so both show
