"""Summary tables and on-disk reports of how well proxies rank architectures.

The input everywhere is a *wide* frame: one row per architecture, an ``arch`` column, one float
column per proxy (NaN or ±inf where a score could not be computed) and an accuracy column (the
ground truth, which must be finite).

Columns of the summary frame that :func:`summarize` returns, one row per proxy:

``proxy``
    the proxy's column name.
``higher_is_better``
    the orientation used: when False the scores were negated before every statistic, so all
    statistics below treat higher (oriented) scores as better.
``spearman``, ``kendall``
    signed Spearman rho and Kendall tau-b between oriented scores and accuracy, over the
    architectures with a finite score (NaN when degenerate; see ``reason``).
``spearman_low``, ``spearman_high``
    a 95% percentile bootstrap interval of ``spearman`` (1,000 seeded resamples of the archs).
``n_used``, ``n_nan``
    how many architectures had a finite score / a non-finite one (excluded and counted).
``reason``
    why the correlations are NaN, empty otherwise.
``topk_candidates``, ``topk_draws``, ``topk_failed``
    the best-of-N set-up (GradSign Table 5): N is ``min(n_candidates, number of archs)``;
    ``topk_failed`` counts draws whose candidates all had non-finite scores (left out).
``topk_selected``, ``topk_selected_std``
    mean (and std over draws) accuracy of the best-scored of N random architectures.
``topk_oracle``, ``topk_random``
    mean accuracy of the most accurate / a uniformly chosen one of the *same* N candidates.
``top10_overlap``
    share of the truly best 10% of architectures that the scores also put in their top 10%
    (non-finite scores rank last; NaN when no score is finite).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gradnas.errors import GradnasError
from gradnas.evaluate.metrics import correlation, spearman_interval, top_fraction_overlap, top_k_selection
from gradnas.validate import positive_int

TOP_FRACTION = 0.10
PUBLISHED_METRICS = ("spearman", "kendall")

SUMMARY_COLUMNS = (
    "proxy",
    "higher_is_better",
    "spearman",
    "spearman_low",
    "spearman_high",
    "kendall",
    "n_used",
    "n_nan",
    "reason",
    "topk_candidates",
    "topk_draws",
    "topk_failed",
    "topk_selected",
    "topk_selected_std",
    "topk_oracle",
    "topk_random",
    "top10_overlap",
)

# Fewer architectures than this cannot tell a Δρ of a few hundredths from noise (the 95% interval
# of a ρ near 0.7 is about ±0.15 at n = 50, ±0.05 at n = 1,000).
SMALL_N = 100

SCATTER_PNG = "scatter.png"
SCATTER_ZOOM_PNG = "scatter-zoom.png"
CORRELATIONS_PNG = "correlations.png"


# --------------------------------------------------------------------------------------------
# Input checks


def _column(frame: pd.DataFrame, name: str, what: str) -> np.ndarray:
    """One column of ``frame`` as float64; GradnasError if it is missing, duplicated or not numeric."""
    if name not in frame.columns:
        listed = ", ".join(str(c) for c in frame.columns)
        raise GradnasError(f"{what} column {name!r} is not in the frame; columns: {listed}")
    column = frame[name]
    if isinstance(column, pd.DataFrame):
        raise GradnasError(f"{what} column {name!r} appears more than once in the frame")
    try:
        return pd.to_numeric(column, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise GradnasError(f"{what} column {name!r} must hold numbers: {exc}") from None


def _check_proxies(proxies: Sequence[str]) -> list[str]:
    if isinstance(proxies, str):
        raise GradnasError("proxies must be a list of column names, not a single string")
    names = list(proxies)
    if not names:
        raise GradnasError("proxies is empty; name at least one proxy column")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise GradnasError(f"proxy {name!r} is listed more than once")
        seen.add(name)
    return names


def _orientation(proxies: list[str], higher_is_better: Mapping[str, bool] | None) -> dict[str, bool]:
    given = dict(higher_is_better or {})
    unknown = [name for name in given if name not in proxies]
    if unknown:
        raise GradnasError(
            f"higher_is_better names proxies that are not summarized: {', '.join(map(repr, unknown))}"
        )
    for name, value in given.items():
        if not isinstance(value, (bool, np.bool_)):
            raise GradnasError(f"higher_is_better[{name!r}] must be True or False, got {value!r}")
    return {name: bool(given.get(name, True)) for name in proxies}


# --------------------------------------------------------------------------------------------
# Summary


def summarize(
    frame: pd.DataFrame,
    proxies: list[str],
    accuracy: str = "accuracy",
    higher_is_better: dict[str, bool] | None = None,
    n_candidates: int = 100,
    n_draws: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per proxy (in the given order) of correlation and selection statistics.

    Proxies missing from ``higher_is_better`` are taken as higher-is-better; the others are
    negated first so every statistic is oriented the same way. All proxies share the same
    best-of-N draws (same ``seed``), so their ``topk_*`` columns are directly comparable. See
    the module docstring for the columns.
    """
    if not isinstance(frame, pd.DataFrame):
        raise GradnasError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    names = _check_proxies(proxies)
    orientation = _orientation(names, higher_is_better)
    acc = _column(frame, accuracy, "accuracy")
    if acc.size == 0:
        raise GradnasError("the frame has no architectures (no rows)")
    bad = int(np.count_nonzero(~np.isfinite(acc)))
    if bad:
        raise GradnasError(
            f"accuracy column {accuracy!r} has {bad} non-finite values; ground truth must be finite"
        )
    n = min(positive_int(n_candidates, "n_candidates"), acc.size)

    rows = []
    for name in names:
        scores = _column(frame, name, "proxy")
        if not orientation[name]:
            scores = -scores
        corr = correlation(scores, acc)
        low, high = spearman_interval(scores, acc, seed=seed)
        sel = top_k_selection(scores, acc, n, n_draws, seed)
        rows.append(
            {
                "proxy": name,
                "higher_is_better": orientation[name],
                "spearman": corr.spearman,
                "spearman_low": low,
                "spearman_high": high,
                "kendall": corr.kendall,
                "n_used": corr.n_used,
                "n_nan": corr.n_nan,
                "reason": corr.reason or "",
                "topk_candidates": sel.n_candidates,
                "topk_draws": sel.n_draws,
                "topk_failed": sel.n_failed,
                "topk_selected": sel.selected_mean,
                "topk_selected_std": sel.selected_std,
                "topk_oracle": sel.oracle_mean,
                "topk_random": sel.random_mean,
                "top10_overlap": (
                    top_fraction_overlap(scores, acc, TOP_FRACTION) if corr.n_used else math.nan
                ),
            }
        )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


# --------------------------------------------------------------------------------------------
# Markdown


def _fmt(value: object) -> str:
    """Floats with 3 decimals, NaN as ``nan``, integers as integers, None as blank."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return _cell(str(value))
    if math.isnan(number):
        return "nan"
    return f"{number:.3f}"


def _fmt_gap(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:+.3f}"


def _fmt_count(value: object) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return _cell(str(value))
    return "nan" if math.isnan(number) else str(int(number))


def _is_false(value: object) -> bool:
    """Whether a ``higher_is_better`` cell says False (also as read back from CSV)."""
    return value is False or (isinstance(value, np.bool_) and not value) or value == "False"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _check_published(published: Mapping[str, Mapping[str, float]] | None) -> dict[str, dict[str, float]]:
    checked: dict[str, dict[str, float]] = {}
    for proxy, values in (published or {}).items():
        if not isinstance(values, Mapping):
            raise GradnasError(f"published[{proxy!r}] must map 'spearman'/'kendall' to numbers")
        unknown = [key for key in values if key not in PUBLISHED_METRICS]
        if unknown:
            raise GradnasError(
                f"published[{proxy!r}] has unknown metrics {unknown}; use {', '.join(PUBLISHED_METRICS)}"
            )
        try:
            checked[str(proxy)] = {key: float(value) for key, value in values.items()}
        except (TypeError, ValueError):
            raise GradnasError(f"published[{proxy!r}] values must be numbers: {dict(values)!r}") from None
    return checked


def markdown_table(
    summary: pd.DataFrame,
    published: dict[str, dict[str, float]] | None = None,
    title: str = "",
) -> str:
    """A GitHub markdown table of a :func:`summarize` frame (or that frame read back from CSV).

    With ``published`` (proxy -> {"spearman": rho} and/or {"kendall": tau}), columns
    "published ρ" / "Δρ" and "published τ" / "Δτ" are added for the metrics that appear in it;
    the gap is measured − published, with its sign, and cells are blank where a proxy has no published value.
    Published entries for proxies that are not in ``summary`` are ignored. Floats have 3
    decimals; NaN is written ``nan`` and the ``n nan`` column shows how many scores were
    excluded; the reasons for NaN correlations follow the table as notes.
    """
    missing = [c for c in ("proxy", "spearman", "kendall", "n_used", "n_nan") if c not in summary.columns]
    if missing:
        raise GradnasError(f"summary lacks columns {missing}; pass the frame that summarize() returns")
    pub = _check_published(published)
    pub_metrics = [m for m in PUBLISHED_METRICS if any(m in values for values in pub.values())]
    symbol = {"spearman": "ρ", "kendall": "τ"}

    interval = "spearman_low" in summary.columns and "spearman_high" in summary.columns
    header = ["proxy", "Spearman ρ", *(["ρ 95% CI"] if interval else []), "Kendall τ", "n used", "n nan"]
    for metric in pub_metrics:
        header += [f"published {symbol[metric]}", f"Δ{symbol[metric]}"]
    optional = [
        ("topk_selected", "top-k selected"),
        ("topk_oracle", "top-k oracle"),
        ("topk_random", "top-k random"),
        ("top10_overlap", "top-10% overlap"),
    ]
    optional = [(col, label) for col, label in optional if col in summary.columns]
    header += [label for _, label in optional]

    lines = []
    if title:
        lines += [f"### {title}", ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|")
    notes: list[str] = []
    within: list[str] = []
    for row in summary.to_dict("records"):
        name = str(row["proxy"])
        label = _cell(name)
        if _is_false(row.get("higher_is_better", True)):
            label += " (−)"
        cells = [
            label,
            _fmt(row["spearman"]),
            *([_fmt_interval(row["spearman_low"], row["spearman_high"])] if interval else []),
            _fmt(row["kendall"]),
            _fmt_count(row["n_used"]),
            _fmt_count(row["n_nan"]),
        ]
        for metric in pub_metrics:
            value = pub.get(name, {}).get(metric)
            if value is None:
                cells += ["", ""]
            else:
                gap = _fmt_gap(float(row[metric]) - value)
                if metric == "spearman" and interval and row["spearman_low"] <= value <= row["spearman_high"]:
                    gap += " (in CI)"
                    within.append(name)
                cells += [_fmt(value), gap]
        cells += [_fmt(row[col]) for col, _ in optional]
        lines.append("| " + " | ".join(cells) + " |")
        reason = row.get("reason")
        if isinstance(reason, str) and reason:
            notes.append(f"- `{name}`: correlation is nan because {reason}.")
    if any(_is_false(value) for value in summary.get("higher_is_better", [])):
        notes.insert(0, "- (−) marks a lower-is-better proxy; its scores were negated before all statistics.")
    small = int(pd.to_numeric(summary["n_used"], errors="coerce").min()) if len(summary) else 0
    if interval and pub_metrics and small < SMALL_N:
        notes.append(
            f"- n = {small} architectures is too small to compare with published values: the 95% "
            f"bootstrap intervals of ρ are about {_mean_width(summary):.2f} wide; a Δρ marked (in CI) "
            "is within that noise."
        )
    elif within:
        notes.append("- Δρ marked (in CI): the published ρ lies within the 95% bootstrap interval of ours.")
    if notes:
        lines += [""] + notes
    return "\n".join(lines) + "\n"


def _fmt_interval(low: object, high: object) -> str:
    low, high = float(low), float(high)  # type: ignore[arg-type]
    return "nan" if math.isnan(low) or math.isnan(high) else f"{low:.2f} – {high:.2f}"


def _mean_width(summary: pd.DataFrame) -> float:
    width = pd.to_numeric(summary["spearman_high"], errors="coerce") - pd.to_numeric(
        summary["spearman_low"], errors="coerce"
    )
    return float(width.mean())


# --------------------------------------------------------------------------------------------
# Another tool's scores of the same architectures


def compare_references(
    frame: pd.DataFrame,
    references: pd.DataFrame,
    names: Mapping[str, str],
    accuracy: str = "accuracy",
) -> pd.DataFrame:
    """One row per reference column (another tool's score of the same rows, e.g. the
    NAS-Bench-Suite-Zero table's own synflow): its signed Spearman ρ with the accuracy, the ρ of
    gradnas's score of the same name (``names`` maps reference column -> gradnas proxy) where the
    frame has it, and the agreement (Spearman between the two scores over rows where both are
    finite). NaN where a pair is degenerate."""
    if len(references) != len(frame):
        raise GradnasError(f"references have {len(references)} rows, the frame {len(frame)}")
    acc = _column(frame, accuracy, "accuracy")
    rows = []
    for field in references.columns:
        theirs = references[field].to_numpy(np.float64)
        proxy = names.get(field, field)
        ours = frame[proxy].to_numpy(np.float64) if proxy in frame.columns else None
        both = np.isfinite(theirs) & (np.isfinite(ours) if ours is not None else True)
        rows.append(
            {
                "reference": field,
                "proxy": proxy if ours is not None else "",
                "reference_spearman": correlation(theirs, acc).spearman,
                "spearman": correlation(ours, acc).spearman if ours is not None else math.nan,
                "agreement": (
                    correlation(ours[both], theirs[both]).spearman if ours is not None else math.nan
                ),
            }
        )
    return pd.DataFrame(rows, columns=["reference", "proxy", "reference_spearman", "spearman", "agreement"])


def reference_markdown(comparison: pd.DataFrame, source: str) -> str:
    """The comparison of `compare_references` as a markdown section naming the ``source``."""
    lines = [
        f"## {source}'s own scores beside gradnas's",
        "",
        f"| {source} score | gradnas proxy | {source} ρ | gradnas ρ | agreement ρ |",
        "|:---|:---|---:|---:|---:|",
    ]
    for row in comparison.to_dict("records"):
        cells = [f"`{row['reference']}`", f"`{row['proxy']}`" if row["proxy"] else "—"]
        cells += [_fmt(row[c]) for c in ("reference_spearman", "spearman", "agreement")]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "ρ: signed Spearman with the accuracy (raw scores, no orientation); agreement: Spearman "
        "between the two tools' scores of the same architectures.",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Report on disk


def write_report(
    frame: pd.DataFrame,
    proxies: list[str],
    out_dir: str | Path,
    *,
    accuracy: str = "accuracy",
    dataset: str,
    title: str,
    higher_is_better: dict[str, bool] | None = None,
    published: dict[str, dict[str, float]] | None = None,
    n_candidates: int = 100,
    n_draws: int = 1000,
    seed: int = 0,
    references: pd.DataFrame | None = None,
    reference_names: Mapping[str, str] | None = None,
    reference_source: str = "the benchmark",
    accuracy_label: str | None = None,
) -> dict[str, Path]:
    """Write ``scores.csv``, ``summary.csv``, ``scatter.png``, ``scatter-zoom.png``,
    ``correlations.png`` and ``report.md``. ``accuracy_label`` labels the accuracy axis (with its
    unit). With ``references`` (another tool's scores of the same rows, see `compare_references`)
    also ``references.csv`` and a section of ``report.md`` comparing them.

    ``out_dir`` is created if needed and existing files of those names are overwritten. Returns
    the written paths under the keys ``scores``, ``summary``, ``scatter``, ``scatter_zoom``,
    ``correlations`` and ``report``. ``report.md`` links to the plots by relative path, so the
    folder can be moved.
    """
    from gradnas.evaluate.plots import correlation_bars, scatter_grid

    summary = summarize(
        frame,
        proxies,
        accuracy=accuracy,
        higher_is_better=higher_is_better,
        n_candidates=n_candidates,
        n_draws=n_draws,
        seed=seed,
    )
    table = markdown_table(summary, published=published)  # validates `published` before writing

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "scores": out / "scores.csv",
        "summary": out / "summary.csv",
        "scatter": out / SCATTER_PNG,
        "scatter_zoom": out / SCATTER_ZOOM_PNG,
        "correlations": out / CORRELATIONS_PNG,
        "report": out / "report.md",
    }
    frame.to_csv(paths["scores"], index=False)
    summary.to_csv(paths["summary"], index=False)
    for key, zoom in (("scatter", False), ("scatter_zoom", True)):
        scatter_grid(
            frame,
            list(proxies),
            accuracy,
            paths[key],
            f"{title}: proxy score vs {accuracy}" + (" (zoomed)" if zoom else ""),
            higher_is_better=higher_is_better,
            accuracy_label=accuracy_label,
            zoom=zoom,
        )
    correlation_bars(summary, paths["correlations"], f"{title}: rank correlation with {accuracy}")

    n_archs = len(frame)
    n_cand = int(summary["topk_candidates"].iloc[0])
    text = [
        f"# {title}",
        "",
        f"{n_archs} architectures on `{dataset}`; ground truth: column `{accuracy}`; {len(summary)} proxies.",
        "",
        table.rstrip("\n"),
        "",
        f"Spearman ρ and Kendall τ-b are signed and computed over the archs with a finite score "
        f"(n used); n nan counts the excluded ones. Top-k: mean `{accuracy}` of the best-scored of "
        f"{n_cand} random archs over {n_draws} draws (seed {seed}); oracle and random use the same "
        f"draws. Top-10% overlap: share of the truly best 10% that the proxy also ranks in its top 10%.",
        "",
        "## Plots",
        "",
        f"![Proxy score vs {accuracy}]({SCATTER_PNG})",
        "",
        f"Zoomed on the top 95% of accuracies (the few failed architectures left out): "
        f"[{SCATTER_ZOOM_PNG}]({SCATTER_ZOOM_PNG})",
        "",
        f"![Rank correlation per proxy]({CORRELATIONS_PNG})",
        "",
    ]
    if references is not None and len(references.columns):
        comparison = compare_references(frame, references, reference_names or {}, accuracy)
        paths["references"] = out / "references.csv"
        comparison.to_csv(paths["references"], index=False)
        text += [reference_markdown(comparison, reference_source)]
    paths["report"].write_text("\n".join(text), encoding="utf-8")
    return paths
