"""Summary tables, markdown and on-disk reports on a small synthetic benchmark."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gradnas.errors import GradnasError
from gradnas.evaluate import (
    correlation,
    correlation_bars,
    markdown_table,
    scatter_grid,
    summarize,
    top_fraction_overlap,
    top_k_selection,
    write_report,
)
from gradnas.evaluate.report import SUMMARY_COLUMNS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PROXIES = ["noisy", "reversed", "holes", "broken", "wide"]
N_CAND, N_DRAWS, SEED = 10, 50, 3


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 60
    acc = rng.uniform(80.0, 95.0, size=n)
    holes = acc + rng.normal(scale=3.0, size=n)
    holes[[2, 11, 40, 41]] = np.nan
    return pd.DataFrame(
        {
            "arch": [f"arch-{i}" for i in range(n)],
            "noisy": acc + rng.normal(scale=2.0, size=n),
            "reversed": -acc + rng.normal(scale=2.0, size=n),
            "holes": holes,
            "broken": np.full(n, np.nan),
            "wide": 10.0 ** (acc - 88.0 + rng.normal(scale=0.5, size=n)),  # spans > 3 decades
            "accuracy": acc,
        }
    )


@pytest.fixture(scope="module")
def summary(frame) -> pd.DataFrame:
    return summarize(frame, PROXIES, higher_is_better={"reversed": False},
                     n_candidates=N_CAND, n_draws=N_DRAWS, seed=SEED)


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_summary_equals_metrics_computed_directly(frame, summary):
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert list(summary["proxy"]) == PROXIES
    acc = frame["accuracy"].to_numpy()
    for row in summary.to_dict("records"):
        scores = frame[row["proxy"]].to_numpy()
        if row["proxy"] == "reversed":
            scores = -scores
        corr = correlation(scores, acc)
        sel = top_k_selection(scores, acc, N_CAND, N_DRAWS, SEED)
        assert _same(row["spearman"], corr.spearman) and _same(row["kendall"], corr.kendall)
        assert (row["n_used"], row["n_nan"], row["reason"]) == (corr.n_used, corr.n_nan, corr.reason or "")
        assert (row["topk_candidates"], row["topk_draws"], row["topk_failed"]) == (
            N_CAND, N_DRAWS, sel.n_failed)
        for column, value in (("topk_selected", sel.selected_mean), ("topk_selected_std", sel.selected_std),
                              ("topk_oracle", sel.oracle_mean), ("topk_random", sel.random_mean)):
            assert _same(row[column], value), column
        if row["n_used"]:
            assert row["top10_overlap"] == top_fraction_overlap(scores, acc, 0.1)
        else:  # no finite score: an overlap by position would be meaningless
            assert math.isnan(row["top10_overlap"])


def test_summary_orientation_nan_and_shared_draws(summary):
    rows = summary.set_index("proxy")
    assert rows.loc["reversed", "spearman"] > 0.8 and rows.loc["reversed", "kendall"] > 0.6
    assert not rows.loc["reversed", "higher_is_better"] and rows.loc["noisy", "higher_is_better"]
    assert (rows.loc["holes", "n_used"], rows.loc["holes", "n_nan"]) == (56, 4)
    broken = rows.loc["broken"]
    assert math.isnan(broken["spearman"]) and broken["n_nan"] == 60 and "only 0 finite" in broken["reason"]
    assert broken["topk_failed"] == N_DRAWS and math.isnan(broken["topk_selected"])
    # Same draws for every proxy, so the oracle baselines agree.
    finite = summary[summary["proxy"] != "broken"]
    assert finite["topk_oracle"].nunique() == 1
    assert (finite["topk_selected"] <= finite["topk_oracle"]).all()


def test_summary_without_orientation_is_negative_and_candidates_are_capped(frame):
    small = summarize(frame.head(8), ["reversed"], n_candidates=100, n_draws=5, seed=0)
    assert small.loc[0, "spearman"] < 0
    assert small.loc[0, "topk_candidates"] == 8
    assert small.loc[0, "topk_oracle"] == frame["accuracy"].head(8).max()  # all archs in every draw


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"proxies": ["nope"]}, "proxy column 'nope' is not in the frame"),
        ({"proxies": []}, "proxies is empty"),
        ({"proxies": ["noisy", "noisy"]}, "listed more than once"),
        ({"proxies": ["noisy"], "accuracy": "acc"}, "accuracy column 'acc'"),
        ({"proxies": ["noisy"], "higher_is_better": {"typo": False}}, "not summarized: 'typo'"),
        ({"proxies": ["arch"]}, "must hold numbers"),
        ({"proxies": ["noisy"], "n_candidates": 0}, "n_candidates must be an int >= 1"),
    ],
)
def test_summary_rejects_bad_input(frame, kwargs, match):
    with pytest.raises(GradnasError, match=match):
        summarize(frame, **{"n_draws": 2, **kwargs})


def test_summary_rejects_non_finite_accuracy(frame):
    bad = frame.assign(accuracy=frame["accuracy"].where(frame.index != 5))
    with pytest.raises(GradnasError, match="1 non-finite values"):
        summarize(bad, ["noisy"], n_draws=2)


def test_markdown_table_with_published_columns(summary):
    published = {"noisy": {"spearman": 0.5, "kendall": 0.4}, "holes": {"kendall": 0.9}, "other": {}}
    text = markdown_table(summary, published=published, title="NB201 CIFAR-10")
    lines = text.splitlines()
    assert lines[0] == "### NB201 CIFAR-10"
    header = [cell.strip() for cell in lines[2].strip("|").split("|")]
    assert header[:10] == ["proxy", "Spearman ρ", "ρ 95% CI", "Kendall τ", "n used", "n nan",
                           "published ρ", "Δρ", "published τ", "Δτ"]
    body = {row.split("|")[1].strip(): [c.strip() for c in row.strip("|").split("|")]
            for row in lines[4:4 + len(summary)]}
    rows = summary.set_index("proxy")
    noisy = body["noisy"]
    assert noisy[1] == f"{rows.loc['noisy', 'spearman']:.3f}"
    low, high = rows.loc["noisy", "spearman_low"], rows.loc["noisy", "spearman_high"]
    assert low < rows.loc["noisy", "spearman"] < high and noisy[2] == f"{low:.2f} – {high:.2f}"
    assert noisy[6:10] == ["0.500", f"{rows.loc['noisy', 'spearman'] - 0.5:+.3f}",
                          "0.400", f"{rows.loc['noisy', 'kendall'] - 0.4:+.3f}"]
    assert noisy[7].startswith("+")  # measured ~0.9 beats the published 0.5
    assert body["holes"][6:10] == ["", "", "0.900", f"{rows.loc['holes', 'kendall'] - 0.9:+.3f}"]
    assert body["holes"][9].startswith("-")
    assert body["holes"][5] == "4"
    assert body["reversed (−)"][6:10] == ["", "", "", ""]
    assert body["broken"][1:6] == ["nan", "nan", "nan", "0", "60"]
    assert "- `broken`: correlation is nan because only 0 finite scores" in text


def test_markdown_table_without_published_and_from_csv(summary, tmp_path):
    plain = markdown_table(summary)
    assert "published" not in plain and not plain.startswith("#")
    summary.to_csv(tmp_path / "s.csv", index=False)
    assert markdown_table(pd.read_csv(tmp_path / "s.csv")) == plain
    with pytest.raises(GradnasError, match="unknown metrics"):
        markdown_table(summary, published={"noisy": {"rho": 0.5}})


def _assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 5_000, path


def test_write_report_creates_files_and_links(frame, tmp_path):
    out = tmp_path / "report"
    paths = write_report(frame, PROXIES, out, dataset="cifar10", title="Synthetic",
                         higher_is_better={"reversed": False}, published={"noisy": {"spearman": 0.7}},
                         n_candidates=N_CAND, n_draws=N_DRAWS, seed=SEED)
    assert set(paths) == {"scores", "summary", "scatter", "scatter_zoom", "correlations", "report"}
    assert all(p.is_file() and p.parent == out for p in paths.values())
    pd.testing.assert_frame_equal(pd.read_csv(paths["scores"]), frame)
    assert list(pd.read_csv(paths["summary"])["proxy"]) == PROXIES
    _assert_png(paths["scatter"])
    _assert_png(paths["correlations"])
    report = paths["report"].read_text(encoding="utf-8")
    assert report.startswith("# Synthetic\n")
    assert "60 architectures on `cifar10`" in report and "published ρ" in report
    assert "![Proxy score vs accuracy](scatter.png)" in report
    assert "](correlations.png)" in report


def test_plots_directly_handle_all_nan(frame, tmp_path):
    _assert_png(scatter_grid(frame, ["broken"], "accuracy", tmp_path / "one.png", "all nan"))
    nan_summary = pd.DataFrame({"proxy": ["a", "b"], "spearman": [np.nan, 0.3], "kendall": [np.nan, 0.2]})
    _assert_png(correlation_bars(nan_summary, tmp_path / "bars.png", "bars"))
