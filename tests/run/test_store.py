"""The SQLite results store: round-trips, idempotent puts, crash safety and concurrent writers."""

from __future__ import annotations

import math
import multiprocessing
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradnas.run.store as store_module
from gradnas.errors import GradnasError
from gradnas.run.store import ScoreKey, Store, StoredScore

SRC = Path(store_module.__file__).resolve().parents[2]


def key(arch: str = "|a|", **changes) -> ScoreKey:
    fields = dict(space="nb201", arch=arch, dataset="cifar10", proxy="gradsign",
                  batch_size=64, seed=0, probe="uniform", version="1")
    fields.update(changes)
    return ScoreKey(**fields)


def run_python(code: str, *args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "deep" / "dir" / "scores.sqlite") as s:
        yield s


def test_round_trip(store):
    k = key(batch_size=np.int64(64))
    assert store.put(k, 0.1 + 0.2, seconds=1.25)
    got = store.get(k)
    assert got.key == k and got.value == 0.1 + 0.2 and got.reason is None and got.seconds == 1.25
    assert got.created.endswith("+00:00")
    assert store.get(key("|b|")) is None
    assert store.path.parent.is_dir()
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@settings(max_examples=50, deadline=None)
@given(value=st.floats(allow_nan=False))
def test_values_round_trip_exactly(tmp_path_factory, value):
    with Store(tmp_path_factory.mktemp("rt") / "s.sqlite") as s:
        s.put(key(), value)
        got = s.get(key()).value
        assert got == value and type(got) is float


def test_nan_needs_and_keeps_its_reason(store):
    assert store.put(key(), float("nan"), reason="singular Gram matrix")
    got = store.get(key())
    assert math.isnan(got.value) and got.reason == "singular Gram matrix"
    with pytest.raises(GradnasError, match="NaN score needs a reason"):
        store.put(key("|b|"), float("nan"))
    frame = store.to_frame()
    assert math.isnan(frame["value"].iloc[0]) and frame["reason"].iloc[0] == "singular Gram matrix"


def test_reput_keeps_first_value_and_never_duplicates(store):
    rows = [StoredScore(key(f"|{i}|"), float(i)) for i in range(10)]
    assert store.put_many(rows) == 10
    assert store.put_many(rows + [StoredScore(key("|3|"), 99.0)]) == 0
    assert not store.put(key("|3|"), 42.0)
    assert store.get(key("|3|")).value == 3.0
    assert len(store.to_frame()) == 10
    assert store.put_many([]) == 0


def test_existing(store):
    stored = [key(f"|{i}|", seed=i % 2) for i in range(0, 2000, 2)]
    store.put_many(StoredScore(k, 1.0) for k in stored)
    asked = [key(f"|{i}|", seed=i % 2) for i in range(2000)]
    asked += [key("|0|", proxy="snip"), key("|0|", version="2"), key("|0|", probe="balanced8")]
    assert store.existing(asked) == set(stored)
    assert store.existing([]) == set()


def test_to_frame_filters(store):
    store.put_many([StoredScore(key("|a|"), 1.0), StoredScore(key("|a|", proxy="snip"), 2.0),
                    StoredScore(key("|b|", seed=1), 3.0, seconds=0.5)])
    frame = store.to_frame()
    assert list(frame.columns) == ["space", "arch", "dataset", "proxy", "batch_size", "seed",
                                   "probe", "version", "value", "reason", "seconds", "created"]
    assert len(frame) == 3 and frame["seed"].dtype == np.int64
    assert store.to_frame(proxy="snip")["value"].tolist() == [2.0]
    assert sorted(store.to_frame(seed=[0, 1], arch="|a|")["value"]) == [1.0, 2.0]
    assert store.to_frame(dataset="cifar100").empty
    with pytest.raises(GradnasError, match="unknown filter 'acc'"):
        store.to_frame(acc=1)


def test_bad_keys_and_rows(store):
    with pytest.raises(GradnasError, match="batch_size must be an integer"):
        key(batch_size=64.0)
    with pytest.raises(GradnasError, match="StoredScore rows"):
        store.put_many([(key(), 1.0)])
    with pytest.raises(GradnasError, match="must be numbers"):
        store.put(key(), "high")


def test_unusable_paths(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(GradnasError, match="cannot create the folder"):
        Store(tmp_path / "file" / "s.sqlite")
    (tmp_path / "junk.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(GradnasError, match="cannot open results store"):
        Store(tmp_path / "junk.sqlite").get(key())


def test_reopen_and_pickle(tmp_path):
    path = tmp_path / "s.sqlite"
    with Store(path) as s:
        s.put(key(), 5.0)
    clone = pickle.loads(pickle.dumps(Store(path)))
    assert clone.get(key()).value == 5.0
    clone.close()


def _put_in_child(s: Store) -> None:
    s.put(key("|child|"), 7.0)


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_forked_child_opens_its_own_connection(store):
    store.put(key("|parent|"), 1.0)
    child = multiprocessing.get_context("fork").Process(target=_put_in_child, args=(store,))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert store.get(key("|child|")).value == 7.0
    store.put(key("|parent2|"), 2.0)  # the parent's connection still works
    assert len(store.to_frame()) == 3


CRASH_WRITER = """
    import sys
    from gradnas.run.store import ScoreKey, Store, StoredScore
    store = Store(sys.argv[1])
    i = 0
    while True:
        rows = [StoredScore(ScoreKey("nb201", f"{i}/{j}", "cifar10", "p", 64, 0, "uniform", "1"),
                            i / 7 + j, seconds=0.5) for j in range(5)]
        store.put_many(rows)
        print(i, flush=True)
        i += 1
"""


def test_kill_9_loses_no_committed_row(tmp_path):
    path = tmp_path / "crash.sqlite"
    child = run_python(CRASH_WRITER, str(path))
    acked = []
    while len(acked) < 150:
        line = child.stdout.readline()
        assert line, f"writer died early: {child.stderr.read()}"
        acked.append(int(line))
    os.kill(child.pid, signal.SIGKILL)
    out, _ = child.communicate(timeout=30)
    acked += [int(x) for x in out.split()]
    assert child.returncode == -signal.SIGKILL

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with Store(path) as s:
        frame = s.to_frame()
    transactions = frame["arch"].str.split("/").str[0].astype(int)
    assert len(frame) >= 5 * len(acked)
    assert set(range(len(acked))) <= set(transactions)
    assert (transactions.value_counts() == 5).all()  # whole transactions only
    for arch, value in zip(frame["arch"], frame["value"]):
        i, j = map(int, arch.split("/"))
        assert value == i / 7 + j


CONCURRENT_WRITER = """
    import sys, time
    from pathlib import Path
    from gradnas.run.store import ScoreKey, Store, StoredScore
    path, start, stop, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    while not go.exists():
        time.sleep(0.001)
    store = Store(path)
    inserted = 0
    for i in range(start, stop, 5):
        inserted += store.put_many(
            StoredScore(ScoreKey("nb201", str(a), "cifar10", "p", 64, 0, "uniform", "1"), a / 3)
            for a in range(i, min(i + 5, stop)))
    print(inserted)
"""


def test_concurrent_writers_give_the_union(tmp_path):
    path, go = tmp_path / "shared.sqlite", tmp_path / "go"
    writers = [run_python(CONCURRENT_WRITER, str(path), a, b, str(go))
               for a, b in (("0", "400"), ("200", "600"), ("100", "500"))]
    go.touch()
    inserted = 0
    for w in writers:
        out, err = w.communicate(timeout=60)
        assert w.returncode == 0, err
        inserted += int(out)
    assert inserted == 600  # every key inserted by exactly one writer
    with Store(path) as s:
        frame = s.to_frame()
    assert len(frame) == 600 and frame["arch"].is_unique
    assert sorted(frame["arch"].astype(int)) == list(range(600))
    assert (frame["value"] == frame["arch"].astype(int) / 3).all()


def test_a_damaged_store_or_a_text_value_is_one_line(tmp_path):
    path = tmp_path / "scores.sqlite"
    with Store(path) as s:
        s.put(key(), 1.5)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE scores SET value = 'abc'")
    with Store(path) as s, pytest.raises(GradnasError) as caught:
        s.to_frame()
    assert str(caught.value).startswith(f"results store {str(path)!r} holds a value that is not a number: ")
    damaged = tmp_path / "damaged.sqlite"
    with Store(damaged) as s:
        s.put_many(StoredScore(key(f"|{i}|"), float(i), None) for i in range(300))
    data = bytearray(damaged.read_bytes())
    noise = (bytes(range(256)) * 64)[: 4096 * 2 - 100]
    data[4096 + 100 : 4096 * 3] = noise  # pages 2 and 3 overwritten
    damaged.write_bytes(bytes(data))
    with Store(damaged) as s, pytest.raises(GradnasError, match="cannot be read .*move it away"):
        s.to_frame()


def test_a_full_disk_is_one_line_and_keeps_what_was_stored(tmp_path):
    path = tmp_path / "s.sqlite"
    with Store(path) as s:
        s.put_many(StoredScore(key(f"|{i}|"), float(i), None) for i in range(10))
        pages = s._connection().execute("PRAGMA page_count").fetchone()[0]
        s._connection().execute(f"PRAGMA max_page_count={pages + 1}")  # the disk fills up now
        with pytest.raises(GradnasError) as caught:
            s.put_many(StoredScore(key(f"|{i}|" * 200), float(i), None) for i in range(10, 2000))
    assert str(caught.value) == (
        f"results store {str(path)!r}: the disk is full; free space and re-run (every score stored "
        "before is kept)"
    )
    with Store(path) as s:
        assert sorted(s.to_frame()["value"]) == [float(i) for i in range(10)]


def test_a_store_that_cannot_be_set_up_is_not_left_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(Store, "schema", "CREATE TABLE scores (")  # fails like a full disk would
    path = tmp_path / "s.sqlite"
    with pytest.raises(GradnasError, match="cannot open results store"):
        Store(path).get(key())
    assert sorted(p.name for p in tmp_path.iterdir()) == []
