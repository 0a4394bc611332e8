"""Device specs: parsing, availability (CUDA and MPS faked by monkeypatching), the float64 rule and
the assignment of workers to GPUs. None of these tests needs an accelerator."""

import pytest
import torch

from gradnas import devices
from gradnas.devices import (
    as_float64,
    available_devices,
    check_dtype,
    float64_device,
    model_device,
    on_float64_device,
    parse_device,
    resolve_device,
    worker_device,
)
from gradnas.errors import GradnasError


@pytest.fixture
def machine(monkeypatch):
    """Pretend this machine has `gpus` CUDA devices and (or not) MPS."""

    def make(gpus: int = 0, mps: bool = False) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
        monkeypatch.setattr(devices, "_mps_available", lambda: mps)

    return make


@pytest.mark.parametrize(
    ("spec", "canonical"),
    [("auto", "auto"), ("cpu", "cpu"), (" CUDA ", "cuda"), ("cuda:3", "cuda:3"), ("mps", "mps")],
)
def test_parse_accepts_the_valid_forms(spec, canonical):
    assert parse_device(spec) == canonical


def test_parse_accepts_a_torch_device():
    assert parse_device(torch.device("cuda", 1)) == "cuda:1"


@pytest.mark.parametrize("spec", ["tpu", "cuda:x", "cuda:", "cpu:0", "mps:1", "gpu", "", 3, None])
def test_parse_refuses_other_forms_listing_the_valid_ones(spec):
    with pytest.raises(GradnasError) as err:
        parse_device(spec)
    assert str(err.value) == f"unknown device {spec!r}; valid forms: auto, cpu, cuda, cuda:N, mps"


def test_available_devices_list_cpu_then_gpus_then_mps(machine):
    machine(gpus=0)
    assert available_devices() == ["cpu"]
    machine(gpus=2, mps=True)
    assert available_devices() == ["cpu", "cuda:0", "cuda:1", "mps"]


def test_auto_is_the_first_accelerator_else_the_cpu(machine):
    machine(gpus=0)
    assert resolve_device("auto") == torch.device("cpu")
    machine(gpus=0, mps=True)
    assert resolve_device("auto") == torch.device("mps")
    machine(gpus=2, mps=True)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device() == torch.device("cuda", 0)  # auto is the default


def test_cuda_resolves_to_an_indexed_device(machine):
    machine(gpus=2)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)


@pytest.mark.parametrize(
    ("gpus", "spec", "available"),
    [(0, "cuda", "cpu"), (1, "cuda:7", "cpu, cuda:0"), (0, "mps", "cpu"), (2, "mps", "cpu, cuda:0, cuda:1")],
)
def test_an_absent_device_is_one_line_listing_the_available_ones(machine, gpus, spec, available):
    machine(gpus=gpus)
    with pytest.raises(GradnasError) as err:
        resolve_device(spec)
    assert str(err.value) == f"device {spec!r} is not available here; available: {available}"


def test_float64_stays_on_its_device_except_mps():
    assert float64_device(torch.device("cpu")) == torch.device("cpu")
    assert float64_device(torch.device("cuda", 1)) == torch.device("cuda", 1)
    assert float64_device(torch.device("mps")) == torch.device("cpu")


class FakeMps:
    """Stands for a tensor on MPS: `as_float64` must ask for float64 on the CPU."""

    device = torch.device("mps")

    def to(self, device, dtype=None):
        return (device, dtype)


def test_as_float64_hops_to_the_cpu_from_mps_only():
    assert as_float64(FakeMps()) == (torch.device("cpu"), torch.float64)
    assert on_float64_device(FakeMps()) == (torch.device("cpu"), None)
    x = torch.arange(3, dtype=torch.float32)
    assert as_float64(x).dtype == torch.float64 and as_float64(x).device == x.device
    assert torch.equal(as_float64(x), x.double())


def test_float64_models_are_refused_on_mps_only():
    check_dtype(torch.device("cpu"), torch.float64)
    check_dtype(torch.device("mps"), torch.float32)
    with pytest.raises(GradnasError, match="mps has no float64; use dtype float32 there, or the cpu device"):
        check_dtype(torch.device("mps"), torch.float64)


def test_model_device_reads_parameters_then_buffers():
    assert model_device(torch.nn.Linear(2, 2).to("meta")) == torch.device("meta")
    assert model_device(torch.nn.BatchNorm1d(2, affine=False).to("meta")) == torch.device("meta")
    assert model_device(torch.nn.ReLU()) == torch.device("cpu")


def test_workers_spread_over_the_gpus_when_no_gpu_is_named():
    spread = ["cuda:0", "cuda:1", "cuda:2", "cuda:0", "cuda:1"]
    assert [worker_device("auto", i, 3) for i in range(5)] == spread
    assert [worker_device("cuda", i, 2) for i in range(3)] == ["cuda:0", "cuda:1", "cuda:0"]


def test_workers_keep_a_named_device_or_one_without_gpus():
    assert [worker_device("cuda:1", i, 4) for i in range(3)] == ["cuda:1"] * 3
    assert [worker_device("cpu", i, 4) for i in range(2)] == ["cpu"] * 2
    assert [worker_device("auto", i, 0) for i in range(2)] == ["auto"] * 2
