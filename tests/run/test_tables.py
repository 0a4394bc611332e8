"""Shipped score tables: written from a store, read back exactly, used instead of recomputing, and
never used when a proxy's version or the probe images differ."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import gradnas
import gradnas.run.tables as tables
from gradnas.correlate import Study, run_study
from gradnas.errors import GradnasError
from gradnas.proxies import get_proxies
from gradnas.run.store import ScoreKey, Store, StoredScore
from gradnas.run.tables import ScoreTable, fill_store, write_table
from gradnas.run.tasks import ProbeSpec
from gradnas.search.screen import StoredScores
from gradnas.spaces import get_space

SPEC = ProbeSpec("digits", 16, 0)
PROXIES = ["params", "synflow"]
ARCHS = [get_space("nb201").format(a) for a in get_space("nb201").sample_many(5, np.random.default_rng(3))]


def key(arch: str, proxy: str, version: str | None = None) -> ScoreKey:
    version = version or get_proxies([proxy])[0].version
    return ScoreKey("nb201", arch, SPEC.dataset, proxy, SPEC.batch_size, SPEC.seed, SPEC.label, version)


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """A table of 4 of the 5 archs (the fifth lacks synflow, so it is left out), one NaN score,
    written into a folder that stands in for the shipped one."""
    folder = tmp_path / "shipped"
    folder.mkdir()
    monkeypatch.setattr(tables, "SHIPPED_DIR", folder)
    with Store(tmp_path / "source.sqlite") as store:
        rows = [StoredScore(key(a, "params"), 1000.0 + i, None, 0.5 + i) for i, a in enumerate(ARCHS)]
        rows += [StoredScore(key(a, "synflow"), 10.0 * i, None, 0.5 + i) for i, a in enumerate(ARCHS[:3])]
        rows.append(StoredScore(key(ARCHS[3], "synflow"), math.nan, "dead cell", 3.5))
        rows.append(StoredScore(key(ARCHS[0], "params", "0"), -1.0, None, 0.1))  # an older version
        store.put_many(rows)
        provenance = write_table(store, "nb201", SPEC, PROXIES, folder, space_size=15625)
    return folder, provenance


def test_a_table_reads_back_exactly_with_its_provenance(shipped):
    _, provenance = shipped
    assert provenance["archs"] == 4 and provenance["space_size"] == 15625
    assert provenance["nan"] == {"params": 0, "synflow": 1}
    assert provenance["proxies"] == {p: get_proxies([p])[0].version for p in PROXIES}
    assert provenance["probe"]["fingerprint"] == tables.probe_fingerprint(SPEC)
    assert provenance["seconds_per_arch"] == pytest.approx(np.mean([0.5, 1.5, 2.5, 3.5]))
    wide = gradnas.load_scores("nb201", "digits")
    assert wide.attrs["provenance"] == provenance
    wide = wide.set_index("arch")
    assert sorted(wide.index) == sorted(ARCHS[:4])
    assert [wide.loc[a, "params"] for a in ARCHS[:4]] == [1000.0, 1001.0, 1002.0, 1003.0]
    assert [wide.loc[a, "synflow"] for a in ARCHS[:3]] == [0.0, 10.0, 20.0]
    assert math.isnan(wide.loc[ARCHS[3], "synflow"])
    tidy = gradnas.load_scores("nb201", "digits", tidy=True)
    assert tidy.loc[tidy["arch"] == ARCHS[3]].set_index("proxy").loc["synflow", "reason"] == "dead cell"


def test_no_table_is_a_one_line_error_naming_the_shipped_ones(shipped):
    expected = r"no shipped score table for nb101/cifar10; shipped: nb201/digits"
    with pytest.raises(GradnasError, match=expected):
        gradnas.load_scores("nb101", "cifar10")


def test_fill_store_copies_matching_rows_and_never_replaces(shipped, tmp_path):
    with Store(tmp_path / "study.sqlite") as store:
        store.put(key(ARCHS[1], "params"), 7.0)  # computed here before: kept
        copied = fill_store(store, "nb201", SPEC, ["params", "synflow"], archs=ARCHS[:2])
        assert copied == 3
        frame = store.to_frame().set_index(["arch", "proxy"])["value"]
    assert frame.loc[(ARCHS[1], "params")] == 7.0 and frame.loc[(ARCHS[0], "params")] == 1000.0
    assert frame.loc[(ARCHS[1], "synflow")] == 10.0 and len(frame) == 4


def test_another_probe_draw_takes_nothing(shipped, tmp_path):
    with Store(tmp_path / "study.sqlite") as store:
        assert fill_store(store, "nb201", ProbeSpec("digits", 16, 1), PROXIES) == 0
        assert fill_store(store, "nb201", ProbeSpec("digits", 8, 0), PROXIES) == 0
        assert fill_store(store, "nb101", SPEC, PROXIES) == 0


def test_a_stale_proxy_version_is_named_and_not_used(shipped, tmp_path):
    folder, _ = shipped
    table = ScoreTable.read("nb201", "digits", folder)
    rows = table.rows.astype({"version": str})
    rows.loc[rows["proxy"] == "synflow", "version"] = "0"
    rows.to_parquet(folder / "scores_nb201_digits.parquet", index=False)
    with Store(tmp_path / "study.sqlite") as store:
        with pytest.warns(UserWarning, match=r"holds synflow version 0, this gradnas computes version 1"):
            copied = fill_store(store, "nb201", SPEC, PROXIES)
        assert copied == 4 and set(store.to_frame()["proxy"]) == {"params"}


def test_a_table_probed_with_other_images_is_announced_and_not_used(shipped, tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "probe_fingerprint", lambda spec: "another")
    with Store(tmp_path / "study.sqlite") as store:
        with pytest.warns(UserWarning, match="probed with other images"):
            assert fill_store(store, "nb201", SPEC, PROXIES) == 0


def test_a_study_takes_the_table_scores_and_computes_only_the_rest(shipped, tmp_path, monkeypatch):
    bench = tmp_path / "bench.csv"
    pd.DataFrame({"arch": ARCHS, "digits": [50.0, 60.0, 55.0, 70.0, 65.0]}).to_csv(bench, index=False)
    computed = []
    real_execute = gradnas.correlate.execute

    def execute(tasks, **options):
        computed.extend((t.arch, p) for t in tasks for p in t.proxies)
        return real_execute(tasks, **{**options, "workers": 1})

    monkeypatch.setattr(gradnas.correlate, "execute", execute)
    study = Study(proxies=tuple(PROXIES), benchmark=str(bench), archs="all", probe=SPEC)
    lines = []
    run_study(study, tmp_path / "out", progress=False, log=lines.append)
    assert sorted(computed) == [(ARCHS[4], "params"), (ARCHS[4], "synflow")]
    assert "8 scores taken from the shipped nb201/digits score table" in lines
    scores = pd.read_csv(tmp_path / "out" / "scores.csv").set_index("arch")
    assert scores.loc[ARCHS[2], "synflow"] == 20.0 and scores.loc[ARCHS[0], "params"] == 1000.0


def test_a_search_screen_reads_the_table_without_computing(shipped, tmp_path):
    screen = StoredScores("synflow", tmp_path / "search.sqlite", "nb201", SPEC, compute=False)
    values, seconds = screen(ARCHS[:3])
    assert values.tolist() == [0.0, 10.0, 20.0] and seconds == pytest.approx(0.5 + 1.5 + 2.5)
    with pytest.raises(GradnasError, match="1 archs have no stored synflow score"):
        screen([ARCHS[4]])
