"""The engine computes where the model lives: no tensor of its own is created on a default device,
the batch follows the model, and float64 ingredients follow `float64_device` (the CPU for MPS)."""

import sys
from pathlib import Path

import pytest
import torch
from torch.overrides import TorchFunctionMode

import gradnas
from gradnas.errors import GradnasError
from gradnas.proxies import PROXIES, Probe, score
from gradnas.run.tasks import build_model, build_thin

ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|none~2|"
FACTORIES = {
    torch.zeros, torch.ones, torch.empty, torch.full, torch.eye, torch.arange, torch.tensor,
    torch.as_tensor, torch.randn, torch.rand, torch.randint, torch.randperm, torch.linspace,
}  # fmt: skip
# Draws made on the CPU on purpose (then moved), so that every device gets the same random numbers.
CPU_DRAWS = {"_crops", "zen_terms", "_gradient_gain"}
SOURCE = str(Path(gradnas.__file__).parent)


class FactoryCalls(TorchFunctionMode):
    """Records the gradnas functions that call a tensor factory without saying on which device."""

    def __init__(self):
        super().__init__()
        self.callers: set[str] = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in FACTORIES and "device" not in kwargs:
            frame = sys._getframe(1)
            while frame is not None and not frame.f_code.co_filename.startswith(SOURCE):
                frame = frame.f_back
            if frame is not None:
                self.callers.add(frame.f_code.co_name)
        return func(*args, **kwargs)


@pytest.fixture(scope="module")
def probe_parts():
    batch = gradnas.probe_batch("digits", batch_size=8, seed=0)
    return build_model("nb201", ARCH, batch, 0), batch, build_thin("nb201", ARCH, batch, 0)


def test_every_tensor_the_engine_creates_names_its_device(probe_parts):
    model, batch, thin = probe_parts
    with FactoryCalls() as calls:
        scores = score(model, batch, list(PROXIES), thin=thin)
    assert sum(s.reason is None for s in scores.values()) > len(scores) // 2  # the engine really ran
    assert calls.callers <= CPU_DRAWS, f"tensors created on the default device by {calls.callers - CPU_DRAWS}"


def test_the_scan_sees_a_factory_without_a_device():
    def careless():
        return torch.zeros(2)

    careless.__code__ = careless.__code__.replace(co_filename=f"{SOURCE}/proxies/careless.py")
    with FactoryCalls() as calls:
        careless()
        torch.zeros(2, device="cpu")
    assert calls.callers == {"careless"}


def test_the_batch_is_moved_to_the_models_device(probe_parts):
    _, batch, _ = probe_parts
    probe = Probe(build_model("nb201", ARCH, batch, 0).to("meta"), batch)
    assert probe.device == probe.f64 == torch.device("meta")
    assert probe.x.device == probe.labels.device == torch.device("meta")
    assert batch.x.device == torch.device("cpu")  # the caller's batch is left as it was


def test_on_mps_float64_ingredients_live_on_the_cpu_and_float64_models_are_refused(monkeypatch):
    monkeypatch.setattr("gradnas.proxies.probe.model_device", lambda model: torch.device("mps"))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    batch = gradnas.ProbeBatch(torch.zeros(2, 1, 8, 8), torch.tensor([0, 1]), 10)
    with pytest.raises(GradnasError, match="mps has no float64"):
        Probe(model, batch, dtype=torch.float64)
    monkeypatch.setattr(torch.Tensor, "to", lambda self, *args, **kwargs: self)  # no MPS to move to
    assert Probe(model, batch).f64 == torch.device("cpu")


def test_score_on_the_cpu_by_name_equals_the_default_and_leaves_the_model(probe_parts):
    model, batch, thin = probe_parts
    names = ["gradsign", "synflow", "naswot", "zen", "linear_regions", "mgm"]
    default = score(model, batch, names, thin=thin)
    assert score(model, batch, names, thin=thin, device="cpu") == default
    assert score(model, batch, names, thin=thin, device=torch.device("cpu")) == default
    with pytest.raises(GradnasError, match="device 'cuda:7' is not available here; available: cpu"):
        score(model, batch, names, device="cuda:7")


def test_probe_batch_and_rank_take_a_device(probe_parts):
    model, batch, _ = probe_parts
    assert gradnas.probe_batch("digits", batch_size=8, seed=0, device="cpu").x.equal(batch.x)
    with pytest.raises(GradnasError, match="device 'cuda' is not available here; available: cpu"):
        gradnas.probe_batch("digits", batch_size=8, device="cuda")
    default = gradnas.rank({"m": model}, batch, ["gradsign", "params"])
    on_cpu = gradnas.rank({"m": model}, batch, ["gradsign", "params"], device="cpu")
    assert on_cpu.drop(columns="seconds").equals(default.drop(columns="seconds"))
    with pytest.raises(GradnasError, match="unknown device 'gpu'"):
        gradnas.rank({"m": model}, batch, ["params"], device="gpu")
