"""A few-shot performance predictor: gradient boosting on proxy scores and the architecture's
one-hot encoding, fitted on the ranks of a handful of labelled architectures and shrunk toward
the proxies' own ranking as weighed by those labels, ranks the rest.

Zero-cost scores used as features of a learned predictor beat any single proxy ("NAS-Bench-Suite-
Zero: Accelerating Research on Zero Cost Proxies", NeurIPS 2022 Datasets and Benchmarks,
arXiv:2210.03230). Only the labelled architectures' accuracies are read: the rest of the truth is
kept for evaluation and never reaches the model.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata, spearmanr

from ..errors import GradnasError
from ..spaces import get_space
from ..validate import check_seed, positive_int
from .sources import Source, finite_truth

MIN_LABELS = 5  # below this a fitted model is no better than a guess
PRIOR_LABELS = 20  # the proxies' prior weighs as much as this many labels (see predict_ranks)


def draw_labels(source: Source, k: int, seed: int = 0) -> pd.Series:
    """`k` architectures with known accuracy drawn from `source` with `seed`, as arch -> accuracy."""
    known = finite_truth(source)
    k = positive_int(k, "the number of labelled archs", MIN_LABELS)
    if k >= len(known):
        raise GradnasError(
            f"{source.name} has {len(known)} archs with ground truth: label fewer than that, got {k}"
        )
    chosen = np.random.default_rng(check_seed(seed)).choice(len(known), k, replace=False)
    return known.iloc[np.sort(chosen)]


def read_labels(path: str, space: str) -> pd.Series:
    """Labels from a CSV with columns arch and accuracy, archs written in any form `space` parses."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise GradnasError(f"cannot read labels {path!r}: {str(err).splitlines()[0]}") from None
    missing = {"arch", "accuracy"} - set(frame.columns)
    if missing:
        raise GradnasError(
            f"labels {path!r} need columns arch and accuracy; found {', '.join(frame.columns)}"
        )
    parse = get_space(space)
    archs = [parse.format(parse.parse(str(a))) for a in frame["arch"]]
    labels = pd.Series(pd.to_numeric(frame["accuracy"], errors="coerce").to_numpy(float), index=archs)
    if labels.index.duplicated().any():
        raise GradnasError(f"labels {path!r} list {labels.index[labels.index.duplicated()][0]} twice")
    return labels


def _check_labels(source: Source, labels: pd.Series) -> pd.Series:
    labels = pd.Series(labels, dtype=float)
    if len(labels) < MIN_LABELS:
        raise GradnasError(f"a predictor needs at least {MIN_LABELS} labelled archs, got {len(labels)}")
    bad = labels[~np.isfinite(labels.to_numpy())]
    if len(bad):
        raise GradnasError(f"{len(bad)} labels are not finite numbers, e.g. {bad.index[0]}")
    outside = labels.index.difference(source.scores.index)
    if len(outside):
        raise GradnasError(
            f"{len(outside)} labelled archs are not in {source.name}, e.g. {outside[0]}: "
            "label only archs it scored"
        )
    if labels.nunique() == 1:
        raise GradnasError(f"all {len(labels)} labels equal {labels.iloc[0]}: there is no ranking to learn")
    return labels


def proxy_features(
    scores: pd.DataFrame, labelled: np.ndarray, *, announce: bool = True
) -> tuple[pd.DataFrame, pd.Series]:
    """Each proxy as a column, a NaN (or ±inf) replaced by the labelled archs' median of that
    proxy and flagged in a `<proxy>_missing` column; also, per arch, the proxies imputed ("a;b").
    With `announce`, one warning names the proxies imputed and for how many archs."""
    columns, flags, imputed, blind = {}, pd.Series("", index=scores.index), [], []
    for name in scores.columns:
        values = scores[name].to_numpy(np.float64)
        nan = ~np.isfinite(values)
        if nan.any():
            if nan[labelled].all():
                blind.append(name)
                median = 0.0
            else:
                imputed.append(f"{name} ({int(nan.sum())} archs, {int(nan[labelled].sum())} labelled)")
                median = np.median(values[labelled & ~nan])
            values = np.where(nan, median, values)
            columns[f"{name}_missing"] = nan.astype(float)
            flags[nan] = flags[nan] + np.where(flags[nan] == "", "", ";") + name
        columns[name] = values
    if announce and imputed:
        warnings.warn(
            f"NaN scores imputed with the labelled median and flagged: {', '.join(imputed)}", stacklevel=3
        )
    if announce and blind:
        warnings.warn(
            f"NaN for every labelled arch, only their missing indicator is used: {', '.join(blind)}",
            stacklevel=3,
        )
    return pd.DataFrame(columns, index=scores.index), flags


def one_hot(searchspace, archs: Sequence[str]) -> np.ndarray:
    """Each arch's categorical decisions (the space's `encode`) as one column per choice."""
    codes = np.array([searchspace.encode(searchspace.parse(a)) for a in archs], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(searchspace.decisions)[:-1]])
    out = np.zeros((len(archs), int(np.sum(searchspace.decisions))))
    rows = np.repeat(np.arange(len(archs)), codes.shape[1])
    out[rows, (codes + offsets).ravel()] = 1.0
    return out


def _model(n: int, seed: int):
    from sklearn.ensemble import HistGradientBoostingRegressor

    # Small trees (4 leaves of at least 3 archs, or a tenth of the labels) so that even ten labels
    # split, many of them with shrinkage so the ranking is smooth; chosen on NB101/NB301 (see
    # docs/results-predict.md) over 8 leaves of n/20 and depth-2 trees.
    return HistGradientBoostingRegressor(
        learning_rate=0.05,
        max_iter=200,
        max_leaf_nodes=4,
        min_samples_leaf=max(3, n // 10),
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )


def _percentiles(values: np.ndarray) -> np.ndarray:
    return rankdata(values) / len(values)


def proxy_prior(scores: np.ndarray, rows: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """A training-free ranking that the labels only weigh: the sum of each proxy's rank
    percentile times sign(ρ)·ρ², ρ its Spearman correlation with the labelled `rows`' accuracy
    (a proxy constant on them weighs nothing)."""
    ranks = np.apply_along_axis(_percentiles, 0, scores)
    labelled = ranks[rows]
    rho = np.array([spearmanr(r, accuracy)[0] if np.ptp(r) > 0 else 0.0 for r in labelled.T])
    return ranks @ (np.sign(rho) * rho**2)


def predict_ranks(x: np.ndarray, scores: np.ndarray, rows: np.ndarray, accuracy: np.ndarray, seed: int):
    """A score in (0, 1] for every row of `x`, higher is better: the trees fitted to the
    labelled `rows`' accuracy ranks (Spearman ρ reads only ranks, and a few broken archs, such
    as NB201's 10 % ones, weigh no more than any other label), shrunk toward `proxy_prior` of the
    proxy `scores` with weight PRIOR_LABELS / (PRIOR_LABELS + k): with few labels, trees of a
    few leaves tie most archs, and the proxies' own ranking orders them."""
    target = _percentiles(accuracy)
    trees = _percentiles(_model(len(accuracy), check_seed(seed)).fit(x[rows], target).predict(x))
    if scores.shape[1] == 0:
        return trees
    weight = PRIOR_LABELS / (PRIOR_LABELS + len(accuracy))
    return (1 - weight) * trees + weight * _percentiles(proxy_prior(scores, rows, accuracy))


def fit(
    source: Source,
    labels: pd.Series,
    *,
    proxies: list[str] | None = None,
    encoding: bool = True,
    seed: int = 0,
) -> pd.DataFrame:
    """Rank every architecture of `source` from `labels` (arch -> accuracy), by `predict_ranks`
    on the `proxies`' scores (default: all the source has) and, with `encoding`, the one-hot
    architecture. One row per arch, best first: its `predicted` score in (0, 1], `rank` (1 =
    best), whether it was `labelled`, the proxies `imputed` for it and, where the source has it,
    the true `accuracy`."""
    labels = _check_labels(source, labels)
    proxies = list(source.scores.columns) if proxies is None else list(proxies)
    unknown = [p for p in proxies if p not in source.scores.columns]
    if unknown:
        raise GradnasError(
            f"{source.name} has no scores of {', '.join(unknown)}; it has {', '.join(source.scores.columns)}"
        )
    if not proxies and not encoding:
        raise GradnasError("a predictor needs features: give proxies, the encoding, or both")
    labelled = source.scores.index.isin(labels.index)
    values, flags = proxy_features(source.scores[proxies], labelled)
    x = values.to_numpy()
    if encoding:
        x = np.hstack([x, one_hot(get_space(source.space), source.scores.index)])
    rows = source.scores.index.get_indexer(labels.index)
    predicted = predict_ranks(x, values[proxies].to_numpy(), rows, labels.to_numpy(), seed)
    out = pd.DataFrame({"arch": source.scores.index, "predicted": predicted, "labelled": labelled})
    out["imputed"] = flags.to_numpy()
    if source.truth is not None:
        out["accuracy"] = source.truth.reindex(source.scores.index).to_numpy()
    out = out.sort_values(["predicted", "arch"], ascending=[False, True], kind="stable").reset_index(
        drop=True
    )
    out.insert(1, "rank", np.arange(1, len(out) + 1))
    return out


def evaluate(prediction: pd.DataFrame):
    """Spearman ρ and Kendall τ of the predicted scores on the unlabelled archs with known
    accuracy (a `CorrelationResult`), or None when the source has no ground truth."""
    from ..evaluate.metrics import correlation

    if "accuracy" not in prediction:
        return None
    rest = prediction[~prediction["labelled"] & np.isfinite(prediction["accuracy"])]
    return correlation(rest["predicted"], rest["accuracy"])
