"""A test that lacks the full data directory or ray fails saying so, not deep inside."""

from pathlib import Path

CONFTEST = (Path(__file__).parent / "conftest.py").read_text()


def test_missing_data_or_ray_fails_with_what_is_needed(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
        import pytest
        from gradnas.data import load_dataset
        from gradnas.errors import DataNotFound

        @pytest.fixture
        def images(tmp_path):
            return load_dataset("cifar10", split="test", data_dir=tmp_path)

        def test_data(images):
            pass

        def test_ray():
            raise ModuleNotFoundError("No module named 'ray'", name="ray")

        def test_other():
            raise ModuleNotFoundError("No module named 'other'", name="other")

        def test_expected():
            with pytest.raises(DataNotFound):
                load_dataset("cifar10", split="test", data_dir="/nonexistent")
        """
    )
    result = pytester.runpytest("-q")
    result.assert_outcomes(passed=1, failed=2, errors=1)
    out = result.stdout.str()
    assert "this test needs the full data directory (../shared/data beside the checkout" in out
    assert "cifar10_test.npz' not found" in out
    assert "this test needs ray, which the README's install command brings (the dev extra)" in out
    assert "No module named 'other'" in out
