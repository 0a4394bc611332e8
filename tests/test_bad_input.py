"""Bad input found by fuzzing: a one-line error (exit code 2 on the command line), never a traceback."""

import dataclasses
import json
import math

import pytest
import torch
from torch import nn

from gradnas import probe_batch, rank, score
from gradnas.cli import _seed, main
from gradnas.errors import GradnasError
from gradnas.validate import MAX_SEED

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
FACTORIES = """
import torch
def fails():
    raise ValueError("boom\\nsecond line")
def needs(width):
    return torch.nn.Linear(width, 10)
"""


def one_line_error(capsys, args) -> str:
    try:
        code = main(args)
    except SystemExit as stop:  # argparse's own refusals
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    return err[-1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rank", "--archs", "0"], "argument --archs: expected an integer of at least 1, got 0"),
        (["rank", "--archs", "2", "--top", "0"], "argument --top: expected an integer of at least 1, got 0"),
        (["search", "--seed", "-1"], f"--seed: expected an integer of at least 0 and at most {MAX_SEED}"),
        (["score", "--arch", ARCH, "--seed", str(2**64)], "argument --seed: expected an integer of at least"),
        (["correlate", "--seed", str(2**40)], "argument --seed: expected an integer of at least 0"),
    ],
)
def test_counts_and_seeds_out_of_range_are_refused_by_every_command(capsys, args, message):
    assert message in one_line_error(capsys, [*args, "--dataset", "digits", "--proxies", "params"])


def test_cli_seed_bound_is_the_library_bound():
    assert _seed(str(MAX_SEED)) == MAX_SEED


def test_out_locations_that_cannot_be_written_are_refused_before_scoring(capsys, tmp_path):
    rank_args = ["rank", "--archs", "2", "--dataset", "digits", "--proxies", "params", "--quiet"]
    err = one_line_error(capsys, [*rank_args, "--out", str(tmp_path)])
    assert err == f"gradnas: error: --out {tmp_path} is a directory; give a file name, e.g. {tmp_path}/" + (
        "ranked.csv"
    )
    afile = tmp_path / "file"
    afile.write_text("")
    corr = ["correlate", "--archs", "2", "--dataset", "digits", "--proxies", "params", "--quiet"]
    err = one_line_error(capsys, [*corr, "--out", str(afile)])
    assert err == f"gradnas: error: {afile} is a file, not a directory: choose a directory for the results"
    err = one_line_error(capsys, [*corr, "--out", str(afile / "inside")])
    assert err.startswith(f"gradnas: error: cannot create the directory {afile / 'inside'}: ")


def test_a_full_disk_while_writing_results_is_one_line(capsys, tmp_path, monkeypatch):
    import errno

    import pandas as pd

    def full(self, path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    rank_args = ["rank", "--archs", "2", "--dataset", "digits", "--proxies", "params", "--quiet"]
    err = one_line_error(capsys, [*rank_args, "--out", str(tmp_path / "ranked.csv")])
    assert err == f"gradnas: error: {tmp_path / 'ranked.csv'}: No space left on device"


def test_model_files_and_factories_that_fail_are_one_line(capsys, tmp_path):
    models = tmp_path / "models.py"
    models.write_text(FACTORIES)
    text = tmp_path / "models.txt"
    text.write_text("not python")
    base = ["rank", "--dataset", "digits", "--proxies", "params", "--models"]
    cases = {
        f"{models}:fails": "factory 'fails' failed: ValueError: boom",
        f"{models}:needs": "factory 'needs' failed: TypeError: needs() missing 1 required positional",
        f"{text}:fails": f"model file {text} must be a Python file (.py); gradnas runs it to find 'fails'",
    }
    for spec, message in cases.items():
        assert message in one_line_error(capsys, [*base, spec])


class TupleOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(x.flatten(1)), x


def test_api_inputs_are_checked_with_one_line_errors():
    batch = probe_batch("digits", batch_size=16, seed=0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    normed = nn.Sequential(nn.Flatten(), nn.BatchNorm1d(64), nn.Linear(64, 10))  # no batch of one
    empty = dataclasses.replace(batch, x=batch.x[:0], y=batch.y[:0], indices=())
    cases = [
        (lambda: score(None, batch, ["params"]), "the model must be a torch.nn.Module, got NoneType"),
        (lambda: score(lambda: net, batch, ["params"]), "got function; call the factory, or give it to"),
        (lambda: score(net, (batch.x, batch.y), ["params"]), "the batch must be a ProbeBatch"),
        (lambda: score(net, batch, []), "proxies must be a non-empty list of names, got []"),
        (lambda: score(net, empty, ["params"]), "the probe batch is empty"),
        (lambda: score(net, batch, "params"), "proxies must be a non-empty list of names, got 'params'"),
        (lambda: score(net, batch, ["params"], seed=-1), "seed must be an integer from 0 to 4294967295"),
        (lambda: score(net, batch, ["params"], seed=1.5), "seed must be an integer from 0 to"),
        (lambda: rank({"a": net}, batch, proxies=[]), "proxies must be a non-empty list of names"),
        (lambda: rank({"a": net}, batch, ["params"], seed=True), "seed must be an integer from 0 to"),
        (lambda: score(TupleOut(), batch, ["grad_norm"]), "must return one tensor of logits, got tuple"),
        (lambda: score(normed, batch, ["gradsign"], engine="loop"), "Expected more than 1 value per channel"),
    ]
    for call, message in cases:
        with pytest.raises(GradnasError) as caught:
            call()
        assert message in str(caught.value) and "\n" not in str(caught.value)
    assert math.isfinite(score(net, batch, iter(["grad_norm"]))["grad_norm"].value)  # any iterable
    assert score(net, batch, ["params"], seed=MAX_SEED)["params"].value == 650
    torch.manual_seed(0)  # the seed check leaves global state alone


def test_rank_models_computes_in_the_dtype_asked_for(tmp_path):
    from pathlib import Path

    import pandas as pd

    examples = Path(__file__).parents[1] / "examples" / "my_models.py"
    args = ["rank", "--models", f"{examples}:small", "--dataset", "synthetic", "--batch-size", "16"]
    got = {}
    for dtype in ("float32", "float64"):
        out = tmp_path / f"{dtype}.csv"
        assert main([*args, "--proxies", "grad_norm", "--dtype", dtype, "--out", str(out)]) == 0
        got[dtype] = float(pd.read_csv(out)["grad_norm"][0])
    from gradnas.models import load_factory

    batch = probe_batch("synthetic", batch_size=16, seed=0)
    wanted = rank({"small": load_factory(f"{examples}:small")}, batch, ["grad_norm"], dtype=torch.float64)
    assert got["float64"] == wanted["grad_norm"][0] and got["float64"] != got["float32"]


def test_library_errors_name_parameters_not_command_line_flags():
    import ast
    import re
    from pathlib import Path

    src = Path(__file__).parents[1] / "src" / "gradnas"
    flag = re.compile(r"(^|[\s(])--[a-z]")
    found = []
    for path in sorted(src.rglob("*.py")):
        if path.name in ("cli.py", "commands.py"):  # the command line itself
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and node.exc is not None:
                texts = [c.value for c in ast.walk(node.exc) if isinstance(c, ast.Constant)]
                flagged = [t for t in texts if isinstance(t, str) and flag.search(t) and "gradnas " not in t]
                found += [f"{path.name}: {t}" for t in flagged]  # a whole command to run may have flags
    assert found == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["search", "--algo", "reinforce", "--reinforce-lr", "-1"],
            "--reinforce-lr: expected a finite number > 0",
        ),
        (
            ["search", "--algo", "reinforce", "--reinforce-lr", "nan"],
            "--reinforce-lr: expected a finite number > 0",
        ),
        (["search", "--algo", "select", "--n", "0"], "--n: expected an integer of at least 1, got 0"),
        (["search", "--algo", "knas", "--m", "-5"], "--m: expected an integer of at least 1, got -5"),
        (["search", "--algo", "rs", "--pool", "0"], "--pool: expected an integer of at least 1, got 0"),
        (["search", "--algo", "rs", "--budget", "-3"], "--budget: expected a finite number > 0"),
        (["train", "--epochs", "0"], "--epochs: expected an integer of at least 1, got 0"),
    ],
)
def test_option_values_out_of_range_are_one_line_with_a_help_hint(capsys, args, message):
    with pytest.raises(SystemExit) as stop:
        main(args)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and "usage:" not in err
    command = args[0]
    assert err.startswith(f"gradnas {command}: error: argument ") and message in err
    assert err.endswith(f"(see gradnas {command} --help)\n")


def test_repeated_names_count_once(capsys):
    assert main(["score", "--arch", ARCH, "--dataset", "digits", "--proxies", "params,params", "--json"]) == 0
    assert list(json.loads(capsys.readouterr().out)["scores"]) == ["params"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["search", "--algo", "knas", "--assist", "params", "--k", "200", "--m", "100", "--runs", "1"],
            "k must be an int <= 100, got 200",
        ),
        (["search", "--algo", "rs", "--space", "bogus"], "unknown search space 'bogus'"),
        (["search", "--algo", "rs,rea", "--k", "20"], "--k applies to --algo knas, which is not among"),
        (["search", "--algo", "rs", "--reinforce-lr", "0.1"], "--reinforce-lr applies to --algo reinforce"),
        (
            ["search", "--algo", "rs", "--dataset", "digits"],
            "benchmark 'nb201' has no ground truth for dataset 'digits'; it has: ",
        ),
        (
            ["correlate", "--space", "nb101", "--archs", "3", "--proxies", "params"],
            "benchmark 'nb201' holds nb201 architectures, not nb101's: give space nb201",
        ),
        (["correlate", "--ray-address", "auto", "--proxies", "params"], "--ray-address needs --ray"),
        (
            ["score", "--arch", ARCH, "--proxies", "ensemble:default"],
            "score takes proxies, not ensembles (ensemble:default)",
        ),
        (
            ["train", "--dataset", "digits", "--arch", ARCH, "--momentum", "2"],
            "recipe momentum must be below 1",
        ),
        (
            ["train", "--dataset", "digits", "--arch", ARCH, "--data-dir", "/nonexistent/gradnas"],
            "data directory '/nonexistent/gradnas' from --data-dir does not exist",
        ),
        (["predict", "--labels", "-1"], "the number of labelled archs must be an int >= 5, got -1"),
    ],
)
def test_commands_refuse_what_they_would_misread_in_one_line(capsys, tmp_path, args, message):
    assert main([*args, "--out", str(tmp_path / "out")] if args[0] != "score" else args) == 2
    err = capsys.readouterr().err
    assert err.startswith("gradnas: error: ") and message in err and err.count("\n") == 1, err

