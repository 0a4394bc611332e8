"""Data directory resolution: order, no silent fall-through, messages that say where we looked."""

from pathlib import Path

import pytest

from gradnas.data import paths
from gradnas.data.paths import (
    ENV_VAR,
    SHIPPED_DIR,
    DataNotFound,
    find_data_file,
    is_shipped,
    resolve_data_dir,
)
from gradnas.errors import GradnasError

REPO_ROOT = Path(paths.__file__).resolve().parents[3]


@pytest.fixture
def layout(tmp_path, monkeypatch):
    """cwd = tmp/work/repo, with tmp/work/shared/data present; repo fallback -> tmp/repo_data."""
    work = tmp_path / "work"
    repo = work / "repo"
    repo.mkdir(parents=True)
    cwd_data = work / "shared" / "data"
    cwd_data.mkdir(parents=True)
    repo_data = tmp_path / "repo_data"
    repo_data.mkdir()
    monkeypatch.chdir(repo)
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(paths, "_REPO_DATA_DIR", repo_data)
    return {"tmp": tmp_path, "cwd_data": cwd_data, "repo_data": repo_data}


def test_repo_fallback_points_beside_the_repository():
    assert (REPO_ROOT / "src" / "gradnas" / "data" / "paths.py").is_file()
    assert (REPO_ROOT / "pyproject.toml").is_file()
    assert paths._REPO_DATA_DIR.resolve() == (REPO_ROOT.parent / "shared" / "data").resolve()


def test_explicit_beats_env_and_defaults(layout, monkeypatch):
    explicit = layout["tmp"] / "explicit"
    explicit.mkdir()
    env = layout["tmp"] / "env"
    env.mkdir()
    monkeypatch.setenv(ENV_VAR, str(env))
    assert resolve_data_dir(explicit) == explicit.resolve()
    assert resolve_data_dir(str(explicit)) == explicit.resolve()


def test_env_beats_defaults(layout, monkeypatch):
    env = layout["tmp"] / "env"
    env.mkdir()
    monkeypatch.setenv(ENV_VAR, str(env))
    assert resolve_data_dir() == env.resolve()


def test_empty_env_counts_as_unset(layout, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "")
    assert resolve_data_dir() == layout["cwd_data"].resolve()


def test_cwd_relative_beats_repo_fallback(layout):
    assert resolve_data_dir() == layout["cwd_data"].resolve()


def test_repo_fallback_used_last(layout):
    layout["cwd_data"].rmdir()
    assert resolve_data_dir() == layout["repo_data"].resolve()


def test_missing_explicit_is_an_error_not_a_fall_through(layout):
    with pytest.raises(GradnasError, match="from data_dir does not exist"):
        resolve_data_dir(layout["tmp"] / "nope")


def test_explicit_file_is_not_a_directory(layout):
    f = layout["tmp"] / "file.txt"
    f.write_text("x")
    with pytest.raises(GradnasError, match="is not a directory"):
        resolve_data_dir(f)


def test_missing_env_dir_is_an_error_not_a_fall_through(layout, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(layout["tmp"] / "nope"))
    with pytest.raises(GradnasError, match=r"\$GRADNAS_DATA does not exist"):
        resolve_data_dir()


def test_nothing_found_lists_every_place(layout):
    layout["cwd_data"].rmdir()
    layout["repo_data"].rmdir()
    with pytest.raises(GradnasError) as info:
        resolve_data_dir()
    msg = str(info.value)
    assert str(layout["cwd_data"].resolve()) in msg
    assert str(layout["repo_data"].resolve()) in msg
    assert "set GRADNAS_DATA" in msg
    assert "\n" not in msg


def test_find_file_in_forced_dir(layout):
    d = layout["tmp"] / "explicit"
    d.mkdir()
    (d / "a.npz").write_bytes(b"")
    assert find_data_file("a.npz", d) == (d / "a.npz").resolve()
    with pytest.raises(GradnasError) as info:
        find_data_file("b.npz", d)
    assert str(d.resolve() / "b.npz") in str(info.value)
    assert "GRADNAS_DATA" in str(info.value)


def test_find_file_tries_each_default_dir(layout):
    (layout["repo_data"] / "a.npz").write_bytes(b"")
    # ../shared/data exists but lacks the file: the repository's own data is still found.
    assert find_data_file("a.npz") == (layout["repo_data"] / "a.npz").resolve()


def test_find_file_missing_everywhere_names_all_places(layout):
    with pytest.raises(GradnasError) as info:
        find_data_file("zzz.npz")
    msg = str(info.value)
    assert str(layout["cwd_data"].resolve() / "zzz.npz") in msg
    assert str(layout["repo_data"].resolve() / "zzz.npz") in msg
    assert str(SHIPPED_DIR / "zzz.npz") in msg
    assert "pass data_dir=DIR or set GRADNAS_DATA=DIR" in msg and "--data-dir" not in msg
    assert "--data-dir DIR" in info.value.for_cli()


def test_shipped_copy_is_the_last_resort(layout):
    # no data directory holds the table: the copy inside the package is used
    path = find_data_file("nb201_accuracy.csv.gz")
    assert path == SHIPPED_DIR / "nb201_accuracy.csv.gz" and is_shipped(path)
    (layout["repo_data"] / "nb201_accuracy.csv.gz").write_bytes(b"")
    assert (
        find_data_file("nb201_accuracy.csv.gz") == (layout["repo_data"] / "nb201_accuracy.csv.gz").resolve()
    )


def test_forced_dir_does_not_fall_back_to_the_shipped_copy(layout):
    with pytest.raises(DataNotFound, match="from data_dir"):
        find_data_file("nb201_accuracy.csv.gz", layout["cwd_data"])


def test_no_repository_place_in_an_installed_package(monkeypatch, tmp_path):
    # outside a source checkout only the real places are listed: ../shared/data and the shipped copy
    monkeypatch.setattr(paths, "_REPO_DATA_DIR", None)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(DataNotFound) as info:
        find_data_file("cifar10_test.npz")
    msg = str(info.value)
    assert msg.count("cifar10_test.npz") == 3  # the name, then two places
    assert str((tmp_path / ".." / "shared" / "data").resolve() / "cifar10_test.npz") in msg


def test_find_file_env_does_not_fall_through(layout, monkeypatch):
    (layout["cwd_data"] / "a.npz").write_bytes(b"")
    env = layout["tmp"] / "env"
    env.mkdir()
    monkeypatch.setenv(ENV_VAR, str(env))
    with pytest.raises(GradnasError, match=r"from \$GRADNAS_DATA"):
        find_data_file("a.npz")


@pytest.mark.parametrize("bad", ["", "/etc/passwd", "../secret.npz"])
def test_find_file_rejects_paths_outside_the_data_dir(layout, bad):
    with pytest.raises(GradnasError, match="relative path"):
        find_data_file(bad)


def test_real_data_found_by_default_resolution(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    d = resolve_data_dir()
    assert (d / "cifar10_train_subset.npz").is_file()
    assert find_data_file("cifar100_test_partial.npz").parent == d
