"""The few-shot predictor: a known answer found, no leakage from held-out labels, determinism, the
NaN policy, the one-hot encoding by hand, each source, each error, and the CLI end to end."""

import itertools
import json

import numpy as np
import pandas as pd
import pytest

import gradnas.run.tables as tables
from gradnas.cli import main
from gradnas.correlate import COPY_FILE, STUDY_FILE, Study
from gradnas.errors import GradnasError
from gradnas.predict import (
    Source,
    draw_labels,
    evaluate,
    fit,
    from_study,
    from_suite_zero,
    one_hot,
    open_source,
    predict_ranks,
    proxy_features,
    proxy_prior,
    read_labels,
)
from gradnas.proxies import get_proxies
from gradnas.run.store import ScoreKey, Store, StoredScore
from gradnas.run.tasks import ProbeSpec
from gradnas.spaces import get_space

NB201 = get_space("nb201")
PROBE = {"dataset": "cifar10", "batch_size": 64, "seed": 0, "label": "uniform"}


def synthetic(n: int = 300, noise: float = 0.05, seed: int = 0) -> Source:
    """NB201 archs whose accuracy is a monotone function of proxy `good` plus a little noise;
    `junk` carries no information."""
    rng = np.random.default_rng(seed)
    archs = [NB201.format(a) for a in NB201.sample_many(n, rng)]
    good = rng.normal(size=n)
    accuracy = 60 + 30 / (1 + np.exp(-good)) + noise * rng.normal(size=n)
    scores = pd.DataFrame({"good": good, "junk": rng.normal(size=n)}, index=pd.Index(archs, name="arch"))
    return Source("synthetic", "nb201", scores, pd.Series(accuracy, index=scores.index), dict(PROBE))


# ------------------------------------------------------------------ what it learns


def test_a_monotone_function_of_one_proxy_is_ranked_almost_perfectly():
    source = synthetic()
    result = evaluate(fit(source, draw_labels(source, 100, seed=1)))
    assert result.n_used == 200 and result.spearman > 0.95 and result.kendall > 0.8


def test_more_labels_help_and_the_encoding_alone_cannot_see_the_proxy():
    source = synthetic()
    few = evaluate(fit(source, draw_labels(source, 10, seed=1))).spearman
    many = evaluate(fit(source, draw_labels(source, 100, seed=1))).spearman
    blind = evaluate(fit(source, draw_labels(source, 100, seed=1), proxies=[])).spearman
    assert many > few and blind < 0.5 < many


def test_no_leakage_shuffling_held_out_accuracies_changes_no_prediction():
    source = synthetic()
    labels = draw_labels(source, 20, seed=3)
    rest = ~source.truth.index.isin(labels.index)
    shuffled = source.truth.copy()
    shuffled[rest] = np.random.default_rng(0).permutation(shuffled[rest].to_numpy())
    other = Source(source.name, source.space, source.scores, shuffled, source.probe)
    a = fit(source, labels).set_index("arch")["predicted"]
    b = fit(other, labels).set_index("arch")["predicted"]
    pd.testing.assert_series_equal(a, b.loc[a.index])
    assert not np.allclose(source.truth[rest], shuffled[rest])


def test_same_seed_same_output_and_the_output_is_well_formed():
    source = synthetic()
    first = fit(source, draw_labels(source, 30, seed=5), seed=5)
    pd.testing.assert_frame_equal(first, fit(source, draw_labels(source, 30, seed=5), seed=5))
    assert list(first.columns) == ["arch", "rank", "predicted", "labelled", "imputed", "accuracy"]
    assert first["rank"].tolist() == list(range(1, 301)) and first["predicted"].is_monotonic_decreasing
    assert first["labelled"].sum() == 30 and sorted(first["arch"]) == sorted(source.scores.index)
    other = draw_labels(source, 30, seed=6)
    assert set(other.index) != set(first.loc[first["labelled"], "arch"])


def test_labels_are_ranked_so_a_monotone_relabelling_changes_nothing():
    source = synthetic()
    labels = draw_labels(source, 25, seed=2)
    a = fit(source, labels)["predicted"]
    b = fit(source, np.exp(labels / 10))["predicted"]  # same order, another scale
    np.testing.assert_array_equal(a, b)


def test_the_prior_weighs_each_proxy_by_its_signed_squared_rho_on_the_labels():
    scores = np.array([[1.0, 4.0, 7.0], [2.0, 3.0, 7.0], [3.0, 2.0, 7.0], [4.0, 1.0, 7.0]])
    rows, accuracy = np.array([0, 1, 2]), np.array([10.0, 30.0, 20.0])  # ρ +0.5, -0.5 and undefined
    ranks = np.array([[1, 4, 2.5], [2, 3, 2.5], [3, 2, 2.5], [4, 1, 2.5]]) / 4
    np.testing.assert_allclose(proxy_prior(scores, rows, accuracy), ranks @ [0.25, -0.25, 0.0])


def test_the_prior_weighs_as_much_as_twenty_labels():
    rng = np.random.default_rng(0)
    x, rows = rng.normal(size=(50, 3)), np.arange(20)
    accuracy = x[rows, 0] + 0.1 * rng.normal(size=20)
    trees = predict_ranks(x, np.empty((50, 0)), rows, accuracy, seed=0)  # no proxy: the trees alone
    both = predict_ranks(x, x[:, 1:2], rows, accuracy, seed=0)
    prior = proxy_prior(x[:, 1:2], rows, accuracy)
    np.testing.assert_allclose(both, 0.5 * trees + 0.5 * (np.argsort(np.argsort(prior)) + 1) / 50)


# ------------------------------------------------------------------ features


def test_one_hot_encoding_by_hand():
    arch = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|"
    scores = pd.DataFrame({"p": [1.0]}, index=[arch])
    x = one_hot(NB201, scores.index)
    choices = NB201.encode(NB201.parse(arch))
    expected = np.zeros(30)
    for edge, choice in enumerate(choices):
        expected[5 * edge + choice] = 1.0
    np.testing.assert_array_equal(x[0], expected)
    assert x.sum() == 6


def test_nan_scores_are_imputed_with_the_labelled_median_flagged_and_announced():
    archs = [NB201.format(a) for a in NB201.sample_many(6, np.random.default_rng(0))]
    scores = pd.DataFrame({"p": [1.0, np.nan, 3.0, 10.0, np.nan, 100.0], "q": [0.0] * 6}, index=archs)
    labelled = np.array([True, True, True, True, False, False])  # labelled p: 1, NaN, 3, 10 -> median 3
    imputed = r"imputed with the labelled median and flagged: p \(2 archs, 1 labelled\)$"
    with pytest.warns(UserWarning, match=imputed):
        values, flags = proxy_features(scores, labelled)
    assert list(values.columns) == ["p_missing", "p", "q"]
    np.testing.assert_array_equal(values["p_missing"], [0, 1, 0, 0, 1, 0])
    np.testing.assert_array_equal(values["p"], [1, 3, 3, 10, 3, 100])
    np.testing.assert_array_equal(values["q"], 0)
    assert flags.tolist() == ["", "p", "", "", "p", ""]


def test_a_proxy_nan_for_every_labelled_arch_keeps_only_its_indicator_and_says_so():
    source = synthetic(60)
    labels = draw_labels(source, 10, seed=0)
    scores = source.scores.copy()
    scores.loc[labels.index, "junk"] = np.nan
    holed = Source("holed", "nb201", scores, source.truth, None)
    blind = "NaN for every labelled arch, only their missing indicator is used: junk$"
    with pytest.warns(UserWarning, match=blind):
        out = fit(holed, labels)
    assert (out.set_index("arch").loc[labels.index, "imputed"] == "junk").all()
    assert (out.loc[~out["labelled"], "imputed"] == "").all()


# ------------------------------------------------------------------ bad input


def test_each_bad_input_is_one_line_naming_the_fix():
    source = synthetic(40)
    labels = draw_labels(source, 10, seed=0)
    with pytest.raises(GradnasError, match="int >= 5, got 4"):
        draw_labels(source, 4)
    with pytest.raises(GradnasError, match="at least 5 labelled archs, got 4"):
        fit(source, labels.iloc[:4])
    with pytest.raises(GradnasError, match="label fewer than that, got 40"):
        draw_labels(source, 40)
    with pytest.raises(GradnasError, match="all 10 labels equal 70.0"):
        fit(source, pd.Series(70.0, index=labels.index))
    stranger = next(NB201.format(a) for a in NB201.archs() if NB201.format(a) not in source.scores.index)
    with pytest.raises(GradnasError, match="1 labelled archs are not in synthetic"):
        fit(source, pd.concat([labels, pd.Series([50.0], index=[stranger])]))
    with pytest.raises(GradnasError, match="no scores of zen; it has good, junk"):
        fit(source, labels, proxies=["good", "zen"])
    with pytest.raises(GradnasError, match="needs features"):
        fit(source, labels, proxies=[], encoding=False)
    with pytest.raises(GradnasError, match="batch_size 64 there, 128 asked"):
        source.check_probe(batch_size=128, seed=0)
    source.check_probe(batch_size=64, seed=None)  # a match, and a field left free
    with pytest.raises(GradnasError, match="another tool"):
        Source("naslib", "nb201", source.scores, None, None).check_probe(seed=0)
    with pytest.raises(GradnasError, match="no ground truth"):
        draw_labels(Source("blind", "nb201", source.scores, None, None), 5)
    with pytest.raises(GradnasError, match="no score source"):
        open_source("nowhere/at/all")


def test_labels_from_a_csv_are_canonicalised(tmp_path):
    archs = [NB201.format(a) for a in NB201.sample_many(2, np.random.default_rng(1))]
    naslib = "(0, 1, 2, 3, 4, 1)"  # Suite-Zero's form of one arch
    path = tmp_path / "labels.csv"
    pd.DataFrame({"arch": [*archs, naslib], "accuracy": [1.0, 2.0, 3.0]}).to_csv(path, index=False)
    labels = read_labels(str(path), "nb201")
    assert labels.index.tolist() == [*archs, str(NB201.parse(naslib))] and labels.tolist() == [1.0, 2.0, 3.0]
    pd.DataFrame({"arch": archs, "acc": [1, 2]}).to_csv(path, index=False)
    with pytest.raises(GradnasError, match="need columns arch and accuracy"):
        read_labels(str(path), "nb201")


# ------------------------------------------------------------------ sources


def test_a_study_copy_is_a_source_with_its_probe(tmp_path):
    source = synthetic(20)
    study = Study(("good", "junk"), archs=20, probe=ProbeSpec("cifar10", 64, 0))
    (tmp_path / STUDY_FILE).write_text(json.dumps(study.to_json()))
    frame = source.scores.assign(accuracy=source.truth).reset_index()
    frame.to_csv(tmp_path / COPY_FILE, index=False)
    read = open_source(str(tmp_path))
    assert read.space == "nb201" and read.probe == PROBE
    pd.testing.assert_frame_equal(read.scores, source.scores, check_names=False)
    np.testing.assert_allclose(read.truth.to_numpy(), source.truth.to_numpy())
    assert from_study(tmp_path).name == f"study {tmp_path}"


def test_a_suite_zero_file_gives_naslib_scores_under_our_names(tmp_path):
    keys = [str(c) for c in itertools.islice(itertools.product(range(5), repeat=6), 0, 7)]
    records = {k: {"val_accuracy": 50.0 + i, "nwot": i, "synflow": -i} for i, k in enumerate(keys)}
    path = tmp_path / "suite.json"
    path.write_text(json.dumps({"nasbench201": {"cifar10": records}}))
    source = from_suite_zero(path)
    assert source.space == "nb201" and source.probe is None
    assert sorted(source.scores.columns) == ["naswot", "synflow"]
    arch = str(NB201.parse(keys[3]))
    assert source.scores.loc[arch, "naswot"] == 3.0 and source.truth[arch] == 53.0


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """A shipped-table stand-in: 30 NB201 archs probed with digits, params and synflow."""
    folder = tmp_path / "shipped"
    folder.mkdir()
    monkeypatch.setattr(tables, "SHIPPED_DIR", folder)
    spec = ProbeSpec("digits", 16, 0)
    archs = [NB201.format(a) for a in NB201.sample_many(30, np.random.default_rng(4))]
    with Store(tmp_path / "source.sqlite") as store:
        for proxy, info in zip(("params", "synflow"), get_proxies(["params", "synflow"])):
            store.put_many(
                StoredScore(
                    ScoreKey("nb201", a, "digits", proxy, 16, 0, spec.label, info.version), i / 2, None, 0.1
                )
                for i, a in enumerate(archs)
            )
        tables.write_table(store, "nb201", spec, ["params", "synflow"], folder, space_size=15625)
    return archs


def test_a_shipped_table_with_nb201_truth(shipped):
    source = open_source("table:nb201/digits", target="cifar10")
    assert source.probe == {"dataset": "digits", "batch_size": 16, "seed": 0, "label": "uniform"}
    assert sorted(source.scores.index) == sorted(shipped)
    assert list(source.scores.columns) == ["params", "synflow"]
    assert source.truth.notna().all() and source.truth.between(0, 100).all()


def test_cli_end_to_end_on_a_tiny_table(shipped, tmp_path, capsys):
    out = tmp_path / "pred"
    args = ["predict", "--space", "nb201", "--dataset", "digits", "--target", "cifar10", "--labels", "10"]
    args += ["--seed", "2"]
    assert main([*args, "--out", str(out), "--top", "3", "--batch-size", "16"]) == 0
    printed = capsys.readouterr().out
    frame = pd.read_csv(out / "predictions.csv", keep_default_na=False)  # imputed: "" where none
    pd.testing.assert_frame_equal(frame, pd.read_parquet(out / "predictions.parquet"), check_dtype=False)
    assert len(frame) == 30 and frame["labelled"].sum() == 10 and frame["rank"].tolist() == list(range(1, 31))
    rest = frame[~frame["labelled"]]
    assert sum(line.endswith("|") for line in printed.splitlines()) == 3 and rest["arch"].iloc[0] in printed
    result = evaluate(frame.assign(labelled=frame["labelled"].astype(bool)))
    assert f"Spearman ρ {result.spearman:.3f}, Kendall τ {result.kendall:.3f}" in printed
    assert main([*args, "--out", str(out)]) == 0
    assert pd.read_csv(out / "predictions.csv", keep_default_na=False).equals(frame)  # same seed, same file


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--labels", "4"], "int >= 5, got 4"),
        (["--batch-size", "64"], "batch_size 16 there, 64 asked"),
        (["--proxies", "params,zen"], "no scores of zen"),
    ],
)
def test_cli_bad_input_is_exit_2_and_one_line(shipped, capsys, extra, message):
    assert main(["predict", "--scores", "table:nb201/digits", "--target", "cifar10", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_labels_outside_the_source_are_refused(shipped, tmp_path, capsys):
    other = NB201.format(next(a for a in NB201.archs() if NB201.format(a) not in shipped))
    path = tmp_path / "labels.csv"
    pd.DataFrame({"arch": [*shipped[:5], other], "accuracy": range(6)}).to_csv(path, index=False)
    assert (
        main(["predict", "--scores", "table:nb201/digits", "--target", "cifar10", "--labels", str(path)]) == 2
    )
    assert "1 labelled archs are not in the shipped nb201/digits score table" in capsys.readouterr().err
