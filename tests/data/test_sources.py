"""Image sources: real files, digits constants, synthetic data, npz checks, CIFAR binary."""

import numpy as np
import pytest
import torch

from gradnas.data import sources
from gradnas.data.paths import resolve_data_dir
from gradnas.data.sources import (
    DATASETS,
    ImageSet,
    load_cifar10,
    load_cifar100,
    load_dataset,
    read_cifar_binary,
)
from gradnas.errors import GradnasError

SHARED = resolve_data_dir()  # the full data directory of this checkout

# Label counts of the exact prefixes, read once from the shared files (official label order).
CIFAR10_TRAIN_EXACT_COUNTS = [107, 123, 109, 106, 106, 95, 121, 110, 109, 116]
CIFAR10_TEST_EXACT_COUNTS = [105, 93, 100, 104, 92, 87, 114, 102, 110, 110]


@pytest.fixture(scope="module")
def cifar10_exact():
    return load_dataset("cifar10")


def test_registry_names():
    assert set(DATASETS) == {"cifar10", "cifar100", "digits", "synthetic", "synthetic-text"}


def test_unknown_dataset_lists_choices():
    with pytest.raises(GradnasError, match="unknown dataset 'mnist'; valid choices: cifar10, "
                                           "cifar100, digits, synthetic"):
        load_dataset("mnist")


def test_unknown_option_is_a_clear_error():
    with pytest.raises(GradnasError, match="no option 'exactly'; valid options: split, exact"):
        load_dataset("cifar10", exactly=False)
    with pytest.raises(GradnasError, match="unknown split 'val'"):
        load_dataset("cifar10", split="val")


def test_cifar10_exact_prefix(cifar10_exact):
    s = cifar10_exact
    assert s.name == "cifar10" and s.variant == "train-exact"
    assert s.x.shape == (1102, 32, 32, 3) and s.x.dtype == np.uint8
    assert s.y.dtype == np.int64 and s.num_classes == 10
    assert np.bincount(s.y, minlength=10).tolist() == CIFAR10_TRAIN_EXACT_COUNTS
    assert s.input_shape == (3, 32, 32)
    assert s.mean == pytest.approx((125.3 / 255, 123.0 / 255, 113.9 / 255))
    assert s.std == pytest.approx((63.0 / 255, 62.1 / 255, 66.7 / 255))


def test_cifar10_exact_prefix_matches_jpeg_images(cifar10_exact):
    jpeg = load_dataset("cifar10", exact=False)
    assert jpeg.x.shape == (10000, 32, 32, 3) and jpeg.variant == "train-jpeg"
    assert np.array_equal(jpeg.y[:1102], cifar10_exact.y)
    n = len(cifar10_exact)
    mae = np.abs(jpeg.x[:n].astype(np.float64) - cifar10_exact.x.astype(np.float64)).mean()
    assert 4.0 < mae < 8.0  # PROVENANCE.md: about 5.8/255
    shifted = np.abs(jpeg.x[1:n + 1].astype(np.float64) - cifar10_exact.x.astype(np.float64))
    assert shifted.mean() > 40.0  # a mismatched order would look like this
    assert np.bincount(jpeg.y, minlength=10).sum() == 10000


def test_cifar10_test_split():
    s = load_dataset("cifar10", split="test")
    assert s.x.shape == (1017, 32, 32, 3) and s.variant == "test-exact"
    assert np.bincount(s.y, minlength=10).tolist() == CIFAR10_TEST_EXACT_COUNTS


def test_cifar100_partial():
    s = load_dataset("cifar100")
    assert s.x.shape == (916, 32, 32, 3) and s.num_classes == 100
    assert s.y[:4].tolist() == [49, 33, 72, 51]  # PROVENANCE.md: mountain, forest, seal, mushroom
    counts = np.bincount(s.y, minlength=100)
    assert counts.sum() == 916 and (counts > 0).all()
    assert int((counts >= 8).sum()) == 74


def test_to_tensor_normalizes(cifar10_exact):
    s = cifar10_exact
    t = s.to_tensor([0, 5, 7])
    assert t.shape == (3, 3, 32, 32) and t.dtype == torch.float32
    manual = (s.x[[0, 5, 7]].astype(np.float64) / 255 - np.array(s.mean)) / np.array(s.std)
    np.testing.assert_allclose(t.numpy(), manual.transpose(0, 3, 1, 2), atol=1e-5)
    full = s.to_tensor(None)
    assert full.shape == (1102, 3, 32, 32)
    assert full.mean(dim=(0, 2, 3)).abs().max() < 0.05  # NB201 constants fit these images
    assert (full.std(dim=(0, 2, 3)) - 1).abs().max() < 0.05


def test_to_tensor_rejects_bad_indices(cifar10_exact):
    with pytest.raises(GradnasError, match="out of range"):
        cifar10_exact.to_tensor([5000])
    with pytest.raises(GradnasError, match="1-D sequence of integers"):
        cifar10_exact.to_tensor([0.5])


def test_digits_statistics():
    from sklearn.datasets import load_digits as sk_digits

    s = load_dataset("digits")
    assert s.x.shape == (1797, 8, 8, 1) and s.x.dtype == np.float32
    assert s.num_classes == 10 and s.input_shape == (1, 8, 8)
    assert np.bincount(s.y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    scaled = sk_digits().images.astype(np.float64) / 16.0
    assert s.mean[0] == pytest.approx(scaled.mean(), abs=1e-12)
    assert s.std[0] == pytest.approx(scaled.std(), abs=1e-12)
    assert 0.0 <= s.x.min() and s.x.max() <= 1.0
    t = s.to_tensor(None).double()
    assert abs(t.mean().item()) < 1e-6 and abs(t.std().item() - 1) < 1e-3


def test_synthetic_is_seeded_and_balanced():
    a = load_dataset("synthetic", n=100, shape=(2, 5, 6), num_classes=4, seed=3)
    b = load_dataset("synthetic", n=100, shape=(2, 5, 6), num_classes=4, seed=3)
    c = load_dataset("synthetic", n=100, shape=(2, 5, 6), num_classes=4, seed=4)
    assert a.x.shape == (100, 5, 6, 2) and a.x.dtype == np.float32 and a.input_shape == (2, 5, 6)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)
    assert np.bincount(a.y).tolist() == [25, 25, 25, 25]
    assert a.mean == (0.0, 0.0) and a.std == (1.0, 1.0)
    assert torch.equal(a.to_tensor([1, 2]), torch.from_numpy(a.x[[1, 2]].transpose(0, 3, 1, 2)))
    d = load_dataset("synthetic")
    assert d.x.shape == (512, 32, 32, 3) and d.num_classes == 10
    with pytest.raises(GradnasError, match="three positive ints"):
        load_dataset("synthetic", shape=(3, 32))


def test_imageset_validation():
    x = np.zeros((4, 2, 2, 1), np.uint8)
    y = np.zeros(4, np.int64)
    with pytest.raises(GradnasError, match="4-D"):
        ImageSet("t", x[0], y, 2, (0.0,), (1.0,))
    with pytest.raises(GradnasError, match="uint8 or float32"):
        ImageSet("t", x.astype(np.float64), y, 2, (0.0,), (1.0,))
    with pytest.raises(GradnasError, match="int64 of shape"):
        ImageSet("t", x, y[:3], 2, (0.0,), (1.0,))
    with pytest.raises(GradnasError, match=r"labels must lie in \[0, 2\)"):
        ImageSet("t", x, y + 2, 2, (0.0,), (1.0,))
    with pytest.raises(GradnasError, match="one per channel"):
        ImageSet("t", x, y, 2, (0.0, 0.0), (1.0, 1.0))
    with pytest.raises(GradnasError, match="std must be positive"):
        ImageSet("t", x, y, 2, (0.0,), (0.0,))


def _write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_npz_missing_key(tmp_path):
    _write_npz(tmp_path / "cifar10_train_subset.npz", y=np.zeros(3, np.int64))
    with pytest.raises(GradnasError, match="missing array 'x_exact_prefix'"):
        load_cifar10(tmp_path)


@pytest.mark.parametrize(
    "x, y, message",
    [
        (np.zeros((3, 32, 32), np.uint8), np.zeros(3, np.int64), r"should be uint8 \('N', 32, 32, 3\)"),
        (np.zeros((3, 32, 32, 3), np.uint8), np.zeros(3, np.int32), "'y' should be int64"),
        (np.zeros((3, 32, 32, 3), np.uint8), np.full(3, 10, np.int64), "labels outside"),
        (np.zeros((3, 32, 32, 3), np.uint8), np.zeros(2, np.int64), "2 labels for 3 images"),
    ],
)
def test_npz_with_wrong_contents_is_a_clear_error(tmp_path, x, y, message):
    _write_npz(tmp_path / "cifar10_train_subset.npz", x_exact_prefix=x, y=y)
    with pytest.raises(GradnasError, match=message):
        load_cifar10(tmp_path)


def test_npz_corrupt_file_and_no_pickles(tmp_path):
    (tmp_path / "cifar100_test_partial.npz").write_bytes(b"not a zip archive at all")
    with pytest.raises(GradnasError, match="cannot read .* as an npz archive"):
        load_dataset("cifar100", data_dir=tmp_path)
    _write_npz(tmp_path / "cifar100_test_partial.npz",
               x=np.zeros((1, 32, 32, 3), np.uint8), y=np.array([object()], dtype=object))
    with pytest.raises(GradnasError, match="cannot read"):
        load_dataset("cifar100", data_dir=tmp_path)


def test_missing_data_file_names_where_it_looked(tmp_path):
    with pytest.raises(GradnasError, match="cifar10_test.npz' not found; looked in"):
        load_dataset("cifar10", data_dir=tmp_path, split="test")


def _cifar_records(labels, label_bytes, seed=0):
    rng = np.random.default_rng(seed)
    n = len(labels)
    chw = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
    lab = np.asarray(labels, np.uint8).reshape(n, label_bytes)
    raw = np.concatenate([lab, chw.reshape(n, -1)], axis=1)
    return raw.tobytes(), chw


def test_read_cifar10_binary(tmp_path):
    data, chw = _cifar_records([3, 0, 9], 1)
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(data)
    x, y = read_cifar_binary(path)
    assert x.shape == (3, 32, 32, 3) and x.dtype == np.uint8
    assert y.tolist() == [3, 0, 9] and y.dtype == np.int64
    assert np.array_equal(x, chw.transpose(0, 2, 3, 1))
    # channel-major record: byte 1 is R of pixel (0,0); byte 1 + 1024 is G of pixel (0,0)
    raw = np.frombuffer(data, np.uint8)
    assert x[0, 0, 0, 0] == raw[1] and x[0, 0, 0, 1] == raw[1 + 1024]
    assert x[0, 0, 1, 2] == raw[1 + 2048 + 1]  # B of row 0, column 1
    assert x[0, 1, 0, 0] == raw[1 + 32]  # R of row 1, column 0


def test_read_cifar100_binary_returns_fine_labels(tmp_path):
    data, chw = _cifar_records([[1, 49], [19, 33]], 2)
    path = tmp_path / "test.bin"
    path.write_bytes(data)
    x, y = read_cifar_binary(path, label_bytes=2)
    assert y.tolist() == [49, 33]
    assert np.array_equal(x, chw.transpose(0, 2, 3, 1))


def test_read_cifar_binary_errors(tmp_path):
    data, _ = _cifar_records([1, 2], 1)
    path = tmp_path / "bad.bin"
    path.write_bytes(data[:-1])
    with pytest.raises(GradnasError, match="not a positive multiple of the 3073-byte record"):
        read_cifar_binary(path)
    path.write_bytes(b"")
    with pytest.raises(GradnasError, match="3073-byte record"):
        read_cifar_binary(path)
    path.write_bytes(data)  # 2 * 3073 bytes is not a multiple of 3074
    with pytest.raises(GradnasError, match="3074-byte record"):
        read_cifar_binary(path, label_bytes=2)
    with pytest.raises(GradnasError, match="label_bytes must be 1"):
        read_cifar_binary(path, label_bytes=3)
    with pytest.raises(GradnasError, match="not found"):
        read_cifar_binary(tmp_path / "missing.bin")


def test_no_pickle_loading_in_sources():
    text = open(sources.__file__).read()
    assert "allow_pickle=True" not in text and "import pickle" not in text


@pytest.fixture
def only_shipped(monkeypatch, tmp_path):
    """No data directory anywhere: as after `pip install` in a fresh directory."""
    from gradnas.data import paths

    monkeypatch.setattr(paths, "_REPO_DATA_DIR", None)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(paths.ENV_VAR, raising=False)


def test_shipped_cifar_equals_the_exact_images_of_the_full_data(only_shipped):
    c10, c100 = load_cifar10(), load_cifar100()
    with np.load(SHARED / "cifar10_train_subset.npz", allow_pickle=False) as full:
        assert np.array_equal(c10.x, full["x_exact_prefix"]) and np.array_equal(c10.y, full["y"][:1102])
    with np.load(SHARED / "cifar100_test_partial.npz", allow_pickle=False) as full:
        assert np.array_equal(c100.x, full["x"]) and np.array_equal(c100.y, full["y"])
    assert (len(c10), len(c100)) == (1102, 916)


def test_shipped_copy_says_what_needs_the_full_data(only_shipped):
    from gradnas.data.paths import DataNotFound

    with pytest.raises(DataNotFound, match="exact=False needs the full data") as info:
        load_cifar10(exact=False)
    assert "data_dir=DIR" in str(info.value) and "docs/data.md" in str(info.value)
    with pytest.raises(DataNotFound, match="cifar10_test.npz' not found"):
        load_cifar10(split="test")
