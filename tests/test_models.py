"""Ranking practitioners' own models: factories from a file, reproducible builds, clear errors."""

import textwrap

import pytest
import torch
from torch import nn

import gradnas
from gradnas.cli import main
from gradnas.errors import GradnasError
from gradnas.models import build_candidate, load_factory

FACTORIES = textwrap.dedent(
    """
    from torch import nn

    def small():
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))

    def wide():
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

    def deep():
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                             nn.Linear(16, 10))

    def not_a_model():
        return 42
    """
)


@pytest.fixture
def factory_file(tmp_path):
    path = tmp_path / "candidates.py"
    path.write_text(FACTORIES)
    return path


def test_rank_orders_by_the_scores_and_names_the_models(factory_file):
    batch = gradnas.probe_batch("digits", batch_size=32, seed=0)  # 8×8, one channel: 64 inputs
    candidates = {name: load_factory(f"{factory_file}:{name}") for name in ("small", "wide", "deep")}
    frame = gradnas.rank(candidates, batch, ["params", "gradsign"])
    # parameters by hand: 64·10+10 = 650; 64·32+32 + 32·10+10 = 2,410; 64·16+16 + 16·16+16 + 16·10+10 = 1,482
    assert frame["model"].tolist() == ["wide", "deep", "small"]
    assert frame["params"].tolist() == [2410, 1482, 650]
    assert frame["rank"].tolist() == [1, 2, 3]
    by_gradsign = gradnas.rank(candidates, batch, ["params", "gradsign"], sort_by="gradsign")
    assert by_gradsign["gradsign"].is_monotonic_decreasing


def test_factories_are_built_reproducibly_without_touching_the_global_rng(factory_file):
    wide = load_factory(f"{factory_file}:wide")
    before = torch.random.get_rng_state()
    a, b = build_candidate(wide, seed=3), build_candidate(wide, seed=3)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = build_candidate(wide, seed=4)
    assert not torch.equal(next(a.parameters()), next(c.parameters()))
    module = nn.Linear(2, 2)
    assert build_candidate(module, seed=0) is module  # a module is used as given


def test_a_list_of_factories_is_named_by_their_function_names():
    def tiny():
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))

    batch = gradnas.probe_batch("digits", batch_size=16, seed=0)
    assert gradnas.rank([tiny], batch, ["params"])["model"].tolist() == ["tiny"]
    # two lambdas share a name: refused rather than one silently dropped
    with pytest.raises(GradnasError, match="several candidates are named '<lambda>'; pass a dict"):
        gradnas.rank([lambda: tiny(), lambda: tiny()], batch, ["params"])


def test_rank_called_the_space_way_says_which_function_to_use():
    with pytest.raises(GradnasError, match=r"needs a ProbeBatch, got list; .* use rank_archs"):
        gradnas.rank(["|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"], ["params"], gradnas.ProbeSpec())


def test_bad_factories_are_clear_errors(factory_file, tmp_path):
    for spec, message in [
        (f"{factory_file}", "path/to/file.py:name"),
        (f"{tmp_path / 'missing.py'}:small", "does not exist"),
        (f"{factory_file}:absent", "no callable 'absent'"),
    ]:
        with pytest.raises(GradnasError, match=message):
            load_factory(spec)
    with pytest.raises(GradnasError, match="returned int"):
        build_candidate(load_factory(f"{factory_file}:not_a_model"), seed=0)
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(GradnasError, match="cannot import .*boom"):
        load_factory(f"{broken}:x")


def test_cli_ranks_models_from_a_file(factory_file, capsys):
    specs = [f"{factory_file}:{name}" for name in ("small", "wide", "deep")]
    args = ["rank", "--models", *specs, "--dataset", "digits", "--proxies", "params", "--batch-size", "32"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "top 3 of 3 models by params" in out
    assert out.index(":wide") < out.index(":deep") < out.index(":small")
    assert main(["rank", "--models", f"{factory_file}:not_a_model", "--dataset", "digits"]) == 2
    assert "returned int" in capsys.readouterr().err


def test_rank_by_an_ensemble_orders_by_its_members_mean_rank_percentile(factory_file):
    batch = gradnas.probe_batch("digits", batch_size=32, seed=0)
    candidates = {name: load_factory(f"{factory_file}:{name}") for name in ("small", "wide", "deep")}
    frame = gradnas.rank(candidates, batch, ["params", "gradsign"], sort_by="ensemble:params+gradsign")
    by_params = frame.set_index("model")["params"].rank() / 3
    by_gradsign = frame.set_index("model")["gradsign"].rank() / 3
    expected = ((by_params + by_gradsign) / 2).sort_values(ascending=False, kind="stable")
    assert frame["model"].tolist() == expected.index.tolist()
    assert frame["ensemble:params+gradsign"].tolist() == pytest.approx(expected.tolist())
    with pytest.raises(GradnasError, match="cannot sort by ensemble:params\\+synflow: its members synflow"):
        gradnas.rank(candidates, batch, ["params", "gradsign"], sort_by="ensemble:params+synflow")
