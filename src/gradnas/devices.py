"""Which torch device gradnas computes on: device specs, what this machine has, float64's home.

A spec is ``auto`` (the first accelerator available: CUDA, then Apple's MPS, else the CPU),
``cpu``, ``cuda`` (the first GPU), ``cuda:N`` or ``mps``. MPS has no float64, so work that must be
float64 (eigensolvers, log-determinants, synflow's products) hops to the CPU there: every such
step asks `float64_device` where to run.
"""

from __future__ import annotations

import re

import torch

from .errors import GradnasError

DEFAULT_DEVICE = "auto"
KINDS = ("auto", "cpu", "cuda", "cuda:N", "mps")
_FORM = re.compile(r"(auto|cpu|mps|cuda)(?::(\d+))?")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available_devices() -> list[str]:
    """The devices this process can compute on, CPU first: ["cpu", "cuda:0", ..., "mps"]."""
    return ["cpu", *(f"cuda:{i}" for i in range(gpu_count())), *(["mps"] if _mps_available() else [])]


def parse_device(spec: object) -> str:
    """`spec` as a canonical spec string, checked for form only (not for availability): the
    parts of `KINDS`, with an index only on cuda. A torch.device is accepted too."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    match = _FORM.fullmatch(spec.strip().lower()) if isinstance(spec, str) else None
    if match is None or (match[2] is not None and match[1] != "cuda"):
        raise GradnasError(f"unknown device {spec!r}; valid forms: {', '.join(KINDS)}")
    return match[0]


def resolve_device(spec: object = DEFAULT_DEVICE) -> torch.device:
    """The torch.device that `spec` names on this machine (a CUDA device always with its index);
    a one-line error listing the available devices when it is not here."""
    name = parse_device(spec)
    available = available_devices()
    if name == "auto":
        name = next((d for d in available if d != "cpu"), "cpu")
    elif name == "cuda":
        name = "cuda:0"
    if name not in available:
        raise GradnasError(f"device {spec!r} is not available here; available: {', '.join(available)}")
    return torch.device(name)


def model_device(model: torch.nn.Module) -> torch.device:
    """Where a module's parameters (else buffers) live; the CPU for a module holding neither."""
    tensor = next(iter([*model.parameters(), *model.buffers()]), None)
    return torch.device("cpu") if tensor is None else tensor.device


def float64_device(device: torch.device) -> torch.device:
    """Where float64 work for tensors on `device` runs: the same device, except the CPU for MPS,
    which has no float64."""
    return torch.device("cpu") if device.type == "mps" else device


def on_float64_device(tensor: torch.Tensor) -> torch.Tensor:
    """`tensor` as it is, on `float64_device` of its device (for reductions with dtype=float64)."""
    return tensor.to(float64_device(tensor.device))


def as_float64(tensor: torch.Tensor) -> torch.Tensor:
    """`tensor` in float64, on `float64_device` of its device."""
    return tensor.to(float64_device(tensor.device), torch.float64)


def check_dtype(device: torch.device, dtype: torch.dtype) -> None:
    """Refuse a model dtype the device cannot compute in (float64 on MPS)."""
    if dtype == torch.float64 and float64_device(device) != device:
        raise GradnasError(f"{device} has no float64; use dtype float32 there, or the cpu device")


def worker_device(spec: str, index: int, gpus: int) -> str:
    """The device spec worker `index` computes on: a spec that names no particular GPU ("auto",
    "cuda") spreads the workers over the `gpus` GPUs in turn; any other spec is kept as it is."""
    if gpus > 0 and parse_device(spec) in ("auto", "cuda"):
        return f"cuda:{index % gpus}"
    return spec


def gpu_count() -> int:
    """The number of CUDA devices this process sees (0 without CUDA)."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0
