"""Training-free proxies: registered functions of a one-pass `Probe`."""

import copy
from collections.abc import Iterable

import torch
from torch import nn

from ..devices import model_device, resolve_device
from ..errors import GradnasError
from ..validate import check_seed
from . import (  # noqa: F401  (registers proxies)
    activation,
    aznas,
    cost,
    gradalign,
    gradsign,
    kernel,
    meco,
    saliency,
    swap,
    vkdnw,
    zico,
)
from .expressivity import ThinNetwork
from .probe import Probe
from .registry import PROXIES, NonFinite, ProxyInfo, Score, evaluate, get_proxies, proxy

# The nine proxies this project set out to compute (bench/speed.py times them together). Three of
# their readings rank NB201 backwards (knas, gt_correlation, gradalign_1/2: measured ρ < 0).
SEED_PROXIES = (
    "gradsign",
    "mgm",
    "mgm_layerwise",
    "knas",
    "gt_correlation",
    "gt_value",
    "gt_kernel",
    "gradalign_1",
    "gradalign_2",
)
# The default of `score` and `correlate`: the seed proxies' readings that rank forwards (measured
# NB201 ρ > 0 on CIFAR-10 and CIFAR-100), GradAlign's as its forward ("diverse") readings.
FORWARD_PROXIES = (
    "gradsign",
    "mgm",
    "mgm_layerwise",
    "gt_value",
    "gt_kernel",
    "gradalign_2_diverse",
    "gradalign_2_sign_diverse",
)


def check_inputs(model: object, batch: object, proxies: Iterable[str], seed: object) -> list[str]:
    """What `score` is given, checked before any work (one line saying what is wrong); the proxy
    names as a list."""
    if not isinstance(model, nn.Module):
        hint = "; call the factory, or give it to gradnas.rank" if callable(model) else ""
        raise GradnasError(f"the model must be a torch.nn.Module, got {type(model).__name__}{hint}")
    if not all(hasattr(batch, field) for field in ("x", "y", "num_classes")):
        raise GradnasError(
            f"the batch must be a ProbeBatch (x, y, num_classes; see gradnas.probe_batch), "
            f"got {type(batch).__name__}"
        )
    if len(batch.y) == 0:
        raise GradnasError("the probe batch is empty")
    names = [] if isinstance(proxies, str) else list(proxies)
    if not names:
        raise GradnasError(f"proxies must be a non-empty list of names, got {proxies!r}")
    check_seed(seed)
    return names


def score(
    model: nn.Module,
    batch,
    proxies: Iterable[str] = FORWARD_PROXIES,
    *,
    dtype: torch.dtype = torch.float32,
    engine: str = "auto",
    seed: int = 0,
    thin: ThinNetwork | None = None,
    device: str | torch.device | None = None,
) -> dict[str, Score]:
    """Score any classifier on a probe batch; all requested proxies share one per-sample pass.

    `batch` has `x` ((n, C, H, W) images, or int64 (n, L) token ids, on which proxies that
    differentiate or perturb the input are NaN), integer labels `y` (n,) and `num_classes`. `seed`
    fixes the coordinates sampled by the GT-NAS proxies and every random draw; `thin` is the network
    that `linear_regions` counts on (TE-NAS; without it, the model on the probe batch). The model is
    not modified. A proxy that this model does not allow (say, per-sample gradients through a
    BatchNorm over a 1×1 map) is NaN with the reason and the others are computed; when no proxy
    can be computed at all, the first reason is raised as a GradnasError.

    `device` (a spec such as "cpu", "cuda:1" or "auto"; see gradnas.devices) is where to compute;
    by default, wherever the model's parameters are. A batch on another device is moved there.
    """
    infos = get_proxies(check_inputs(model, batch, proxies, seed))
    target = model_device(model) if device is None else resolve_device(device)
    if model_device(model) != target:
        model = copy.deepcopy(model).to(target)  # the caller's model stays where it is
    probe = Probe(model, batch, dtype=dtype, engine=engine, seed=seed, thin=thin)
    for info in infos:
        probe.require(*info.ingredients)
    scores = {info.name: evaluate(info, probe) for info in infos}
    failures = {str(e): e for e in probe.failed.values() if not isinstance(e, NonFinite)}
    if failures and all(s.reason in failures for s in scores.values()):
        # nothing could be computed: most likely the batch does not fit the model; say so
        raise next(iter(failures.values()))
    return scores


__all__ = [
    "PROXIES",
    "SEED_PROXIES",
    "FORWARD_PROXIES",
    "Probe",
    "ThinNetwork",
    "ProxyInfo",
    "Score",
    "get_proxies",
    "proxy",
    "score",
]
