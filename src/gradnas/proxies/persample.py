"""Per-sample gradients with batch-of-one semantics, delivered as column blocks.

Every gradient proxy is a reduction over the n×P matrix of per-sample gradients (row i: the
gradient of sample i's loss, computed as if sample i were a batch of one). Materializing that
matrix costs n×P memory, so both engines here hand it out as *blocks*: a run of consecutive
columns of one parameter (flattened) for all n samples. Reducers consume blocks one at a time.

- `loop_blocks`: the reference — n forward/backward passes with a batch of one.
- `fast_blocks`: one batched pass. Batch-of-one BatchNorm in train mode is exactly instance
  normalization with the BN's affine parameters, so one forward with every BatchNorm replaced by
  that reproduces each sample's output and output-gradient; per-sample weight gradients then
  follow from each layer's input and output-gradient (conv, linear, embedding, norm affine and
  bias parameters), computed per chunk of output channels or vocabulary rows so memory stays
  bounded whatever the model's size.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GradnasError

DEFAULT_BLOCK_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Block:
    """Columns ``start .. start + grads.shape[1]`` of parameter ``name``'s per-sample gradients."""

    name: str
    start: int
    grads: torch.Tensor  # (n, width)


class UnsupportedModel(GradnasError):
    """The fast engine cannot reproduce batch-of-one semantics for this model."""


def scored_parameter_names(model: nn.Module) -> list[str]:
    """Names of the `weight` of every Conv2d and Linear, in `model.modules()` order."""
    names = {id(p): n for n, p in model.named_parameters()}
    scored = []
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)) and module.weight is not None:
            name = names.get(id(module.weight))
            if name is not None and name not in scored:
                scored.append(name)
    return scored


def probe_copy(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """A train-mode copy in `dtype`, so probing never mutates the caller's model."""
    probe = copy.deepcopy(model).to(dtype).train()
    return probe.requires_grad_(True)


def forward_checked(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The model's logits, with a shape mismatch reported as bad input rather than deep inside."""
    try:
        logits = model(x)
    except GradnasError:
        raise  # already says what is wrong (a hook's finding, say)
    except (RuntimeError, ValueError) as err:  # ValueError: e.g. BatchNorm on one value per channel
        first = str(err).strip().splitlines()[0]
        raise GradnasError(f"the model cannot take a probe batch of shape {tuple(x.shape)}: {first}") from err
    if not isinstance(logits, torch.Tensor):
        raise GradnasError(f"the model must return one tensor of logits, got {type(logits).__name__}")
    return logits


@contextmanager
def hooked(modules, hook, *, pre: bool = False) -> Iterator[None]:
    """Forward hooks (or pre-hooks) on `modules` for the duration of a `with` block."""
    handles = [m.register_forward_pre_hook(hook) if pre else m.register_forward_hook(hook) for m in modules]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def sample_losses(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if logits.dim() != 2 or logits.shape[0] != y.shape[0]:
        raise GradnasError(
            f"model output must be logits of shape (batch, classes); got {tuple(logits.shape)} "
            f"for a batch of {y.shape[0]}"
        )
    if int(y.max()) >= logits.shape[1]:
        raise GradnasError(f"label {int(y.max())} is out of range for a model with {logits.shape[1]} outputs")
    return F.cross_entropy(logits, y, reduction="none")


# --------------------------------------------------------------------------- reference loop


def loop_blocks(model: nn.Module, x: torch.Tensor, y: torch.Tensor, names: list[str]) -> Iterator[Block]:
    """The plain reference: one batch-of-one forward/backward per sample (a parameter whose
    gradient is None counts as zeros). Yields one full-width block per parameter."""
    params = dict(model.named_parameters())
    wanted = [params[n] for n in names]
    rows: list[list[torch.Tensor]] = [[] for _ in names]
    for i in range(x.shape[0]):
        loss = sample_losses(forward_checked(model, x[i : i + 1]), y[i : i + 1]).sum()
        grads = torch.autograd.grad(loss, wanted, allow_unused=True)
        for row, g, p in zip(rows, grads, wanted):
            row.append(torch.zeros_like(p).flatten() if g is None else g.detach().flatten())
    for name, row in zip(names, rows):
        yield Block(name, 0, torch.stack(row))


# Measured (1 thread): the nine seed proxies cost 2.81x a batched pass through the fast engine and
# 2.42x through the loop on NB101 (128-512 channels, 3 cells, batch 128, quiet machine);
# 1.75-2.42x and 1.18-1.55x on NB301 (cell inputs of 128-512 channels, 2 cells, batch 64); on NB201
# (16-64 channels) the loop costs more than the fast engine. A batch-of-one pass is efficient only
# when its convolutions are wide, so `auto` takes the loop from this width up.
LOOP_MIN_WIDTH = 128
LOOP_MAX_BYTES = 4 * 2**30  # the loop holds all n per-sample gradients at once


def prefers_loop(model: nn.Module, names: list[str], n: int, itemsize: int) -> bool:
    """Whether the reference loop should beat the fast engine on `model` (see LOOP_MIN_WIDTH):
    the scored convolutions' parameter-weighted mean input width per group is at least
    LOOP_MIN_WIDTH, and the n per-sample gradients of `names` fit in LOOP_MAX_BYTES (4 GiB: an
    NB101 cell of up to 8 M parameters at batch 128)."""
    params = dict(model.named_parameters())
    if n * sum(params[name].numel() for name in names) * itemsize > LOOP_MAX_BYTES:
        return False
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    weights = [m.weight.numel() for m in convs]
    if not convs or not sum(weights):
        return False
    width = sum(w * m.in_channels // m.groups for w, m in zip(weights, convs)) / sum(weights)
    return width >= LOOP_MIN_WIDTH


# --------------------------------------------------------------------------- fast engine


class SampleNorm(nn.Module):
    """Batch-of-one BatchNorm for a whole batch: per-sample (instance) statistics, the BN's
    own affine parameters (the same Parameter objects, under the same names)."""

    def __init__(self, bn: nn.modules.batchnorm._BatchNorm):
        super().__init__()
        self.eps = bn.eps
        self.weight = bn.weight
        self.bias = bn.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3 or x[0, 0].numel() < 2:
            raise GradnasError(
                f"BatchNorm on input {tuple(x.shape)} sees one value per channel in a batch of "
                "one, so per-sample gradients are undefined; use larger inputs"
            )
        return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)


def replace_batchnorm(model: nn.Module, make) -> None:
    """Replace every BatchNorm child of `model` by `make(bn)`, in place."""
    for parent in model.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(parent, child_name, make(child))


def _swap_batchnorm(model: nn.Module) -> None:
    replace_batchnorm(model, SampleNorm)
    for module in model.modules():
        if getattr(module, "inplace", False) is True:
            module.inplace = False  # keep every recorded layer output intact for autograd


@dataclass
class _Call:
    """One call of a recorded module: what its per-sample gradients are computed from."""

    module: nn.Module
    inp: torch.Tensor
    out: torch.Tensor
    version: int
    gout: torch.Tensor | None = None


def _check_supported(module: nn.Module, attr: str, name: str) -> None:
    if isinstance(module, nn.Conv2d):
        if module.padding_mode != "zeros" or isinstance(module.padding, str):
            raise UnsupportedModel(f"{name}: Conv2d with padding {module.padding!r}/{module.padding_mode}")
    elif isinstance(module, nn.Embedding):
        if module.max_norm is not None or module.scale_grad_by_freq:
            raise UnsupportedModel(f"{name}: Embedding with max_norm or scale_grad_by_freq")
    elif not isinstance(module, (nn.Linear, SampleNorm, nn.LayerNorm)):
        raise UnsupportedModel(f"{name}: per-sample gradients of {type(module).__name__}.{attr}")


def _owners(model: nn.Module, names: list[str]) -> dict[str, tuple[nn.Module, str]]:
    """For each wanted parameter, the (module, attribute) that holds it."""
    by_id = {id(p): n for n, p in model.named_parameters()}
    found: dict[str, list[tuple[nn.Module, str]]] = {n: [] for n in names}
    for module in model.modules():
        for attr, p in module._parameters.items():
            name = by_id.get(id(p)) if p is not None else None
            if name in found:
                _check_supported(module, attr, name)
                found[name].append((module, attr))
    for name, pairs in found.items():
        if len(pairs) != 1:
            raise UnsupportedModel(f"{name}: held by {len(pairs)} modules")
    return {name: pairs[0] for name, pairs in found.items()}


def _record_calls(
    model: nn.Module, owners: dict[str, tuple[nn.Module, str]], x: torch.Tensor, y: torch.Tensor
):
    """One batched forward and backward; returns each recorded module's calls with output grads.

    The per-sample formulas hold only if every call splits its rows by sample and the calls
    account for every use of the wanted parameters, so both are checked here (UnsupportedModel
    otherwise): a batch-second layout, an input shared by the batch, or a weight used outside
    its module's forward (as PyTorch's attention uses `out_proj`) would silently give wrong rows.
    """
    modules = {m for m, _ in owners.values()}
    calls: list[_Call] = []

    def hook(module, inputs, output):
        calls.append(_Call(module, inputs[0].detach(), output, output._version))

    with hooked(modules, hook):
        # the graph must reach every layer's output: via x for images, the embedding for token ids
        if x.is_floating_point():
            x = x.detach().requires_grad_(True)
        loss = sample_losses(forward_checked(model, x), y).sum()
    for call in calls:
        if call.out._version != call.version:
            raise UnsupportedModel(f"{type(call.module).__name__} output modified in place")
        if call.inp.dim() == 0 or call.inp.shape[0] != len(y):
            raise UnsupportedModel(
                f"{type(call.module).__name__} input {tuple(call.inp.shape)} is shared by the batch, "
                "not one row per sample"
            )
    _check_rows_follow_samples(model, modules, x.detach(), calls)
    live = [c for c in calls if c.out.requires_grad]
    # A called convolution's weight is not checked (see below), so its batch gradient, a third of
    # a batched backward pass, is not asked for: autograd then skips computing it.
    called = {c.module for c in live}
    checked = {
        name: (module, attr)
        for name, (module, attr) in owners.items()
        if not (attr == "weight" and isinstance(module, nn.Conv2d) and module in called)
    }
    params = [getattr(module, attr) for module, attr in checked.values()]
    grads = torch.autograd.grad(loss, [c.out for c in live] + params, allow_unused=True, retain_graph=True)
    for call, g in zip(live, grads):
        call.gout = g
    _check_calls_account_for_gradients(checked, live, grads[len(live) :])
    for call in calls:
        call.out = call.out.detach()  # frees the graph kept for the check
    return calls


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal up to the rounding of summing the same terms in another order."""
    return bool((a - b).norm() <= 1e-4 * max(a.norm(), b.norm()) + torch.finfo(b.dtype).tiny)


def _check_rows_follow_samples(model: nn.Module, modules: set[nn.Module], x: torch.Tensor, calls) -> None:
    """The first two samples alone, swapped, must give every recorded output those samples' rows
    of the full batch, swapped: a cheap probe that each layer's first dimension is the sample.

    A wrong layout changes shapes or values grossly, so values are compared against the largest
    output's scale: rounding differences between batch sizes, which normalising a near-constant
    map can blow up in a layer whose outputs are all near zero, are far below it."""
    if len(x) < 2:
        return
    order = torch.tensor([1, 0], device=x.device)
    outs: list[torch.Tensor] = []
    with hooked(modules, lambda module, inputs, output: outs.append(output)), torch.no_grad():
        forward_checked(model, x[order])
    if len(outs) != len(calls):
        raise UnsupportedModel("the recorded layers run a different number of times on a smaller batch")
    rows = [call.out.detach()[order] for call in calls]
    scale = max(float(r.norm()) for r in rows) if rows else 0.0
    for call, out, expected in zip(calls, outs, rows):
        if out.shape != expected.shape or float((out - expected).norm()) > 1e-3 * scale:
            raise UnsupportedModel(
                f"{type(call.module).__name__} output rows do not follow the samples: the batch is "
                "not its first dimension, or samples are mixed"
            )


def _check_calls_account_for_gradients(owners, live: list[_Call], batch_grads) -> None:
    """A parameter's gradient must come from its module's recorded calls: none if the module was
    never called, and exactly the gradient through those calls otherwise. `owners` leaves out the
    weights of called convolutions, whose local check would cost as much as the backward pass."""
    for (name, (module, attr)), full in zip(owners.items(), batch_grads):
        param = getattr(module, attr)
        own = [c for c in live if c.module is module and c.gout is not None]
        if not own:
            missed = full is not None and bool(full.any())
        else:
            (through,) = torch.autograd.grad(
                [c.out for c in own], param, [c.gout for c in own], retain_graph=True, allow_unused=True
            )
            missed = not _close(
                torch.zeros_like(param) if through is None else through,
                torch.zeros_like(param) if full is None else full,
            )
        if missed:
            raise UnsupportedModel(
                f"{name}: used outside its module's forward (the module's calls miss part of its gradient)"
            )


def _chunks(total: int, per_item: int, n: int, budget: int, itemsize: int) -> Iterator[tuple[int, int]]:
    step = max(1, budget // max(1, n * per_item * itemsize))
    for a in range(0, total, step):
        yield a, min(total, a + step)


GROUPED_CONV_MIN_POSITIONS = 1024  # measured: the grouped-conv form wins from 32×32 outputs up


def _conv_weight_blocks(calls: list[_Call], n: int, budget: int) -> Iterator[tuple[int, torch.Tensor]]:
    """Per-sample conv weight gradients, chunked over output channels.

    G[i, o, c, kh, kw] = Σ_p gout[i, o, p] · x_pad[i, c, p·stride + (kh, kw)·dilation]: a batched
    matmul per kernel offset over strided views of the input (no unfold buffer); for large output
    maps a grouped convolution that treats samples as groups does the same sum faster on CPU.
    """
    conv: nn.Conv2d = calls[0].module
    k = conv.weight[0].numel()  # (in/groups)·kh·kw columns per output channel
    per_group = conv.out_channels // conv.groups
    positions = calls[0].gout[0, 0].numel()
    by_conv = conv.groups == 1 and positions >= GROUPED_CONV_MIN_POSITIONS
    for g in range(conv.groups):
        for a, b in _chunks(per_group, k, n, budget, calls[0].inp.element_size()):
            lo, hi = g * per_group + a, g * per_group + b
            parts = (
                _conv_grads_grouped(conv, c, n, lo, hi)
                if by_conv
                else _conv_grads_shifted(conv, c, n, g, lo, hi)
                for c in calls
            )
            yield lo * k, sum(parts).reshape(n, -1)


def _conv_grads_shifted(conv: nn.Conv2d, call: _Call, n: int, group: int, lo: int, hi: int) -> torch.Tensor:
    cin = conv.in_channels // conv.groups
    x = call.inp[:, group * cin : (group + 1) * cin]
    ph, pw = conv.padding
    if ph or pw:
        x = F.pad(x, (pw, pw, ph, ph))
    gout = call.gout[:, lo:hi]
    ho, wo = gout.shape[2:]
    gout = gout.reshape(n, hi - lo, -1)
    (sh, sw), (dh, dw) = conv.stride, conv.dilation
    kh, kw = conv.kernel_size
    out = x.new_empty(n, hi - lo, cin, kh, kw)
    for i in range(kh):
        for j in range(kw):
            view = x[:, :, i * dh : i * dh + sh * (ho - 1) + 1 : sh, j * dw : j * dw + sw * (wo - 1) + 1 : sw]
            out[:, :, :, i, j] = torch.bmm(gout, view.reshape(n, cin, -1).transpose(1, 2))
    return out


def _conv_grads_grouped(conv: nn.Conv2d, call: _Call, n: int, lo: int, hi: int) -> torch.Tensor:
    """The same sum as a convolution of the input (samples as channels) with each sample's
    output-gradient map as its kernel: batch = input channels, groups = samples."""
    gout = call.gout[:, lo:hi]
    kernel = gout.reshape(n * (hi - lo), 1, *gout.shape[2:])
    out = F.conv2d(
        call.inp.transpose(0, 1),
        kernel,
        padding=conv.padding,
        stride=conv.dilation,
        dilation=conv.stride,
        groups=n,
    )
    kh, kw = conv.kernel_size
    out = out[:, :, :kh, :kw]  # with stride > 1 the correlation can overhang the kernel
    return out.reshape(conv.in_channels, n, hi - lo, kh, kw).permute(1, 2, 0, 3, 4)


def _linear_weight_blocks(calls: list[_Call], n: int, budget: int) -> Iterator[tuple[int, torch.Tensor]]:
    lin: nn.Linear = calls[0].module
    xs = [c.inp.reshape(n, -1, lin.in_features) for c in calls]
    gs = [c.gout.reshape(n, -1, lin.out_features) for c in calls]
    for a, b in _chunks(lin.out_features, lin.in_features, n, budget, xs[0].element_size()):
        block = sum(torch.bmm(g[:, :, a:b].transpose(1, 2), x) for g, x in zip(gs, xs))
        yield a * lin.in_features, block.reshape(n, -1)


def _embedding_weight_blocks(calls: list[_Call], n: int, budget: int) -> Iterator[tuple[int, torch.Tensor]]:
    """Per-sample embedding gradients, chunked over vocabulary rows: row v of sample i sums the
    output gradients at the positions where sample i holds id v (zero at `padding_idx`)."""
    emb: nn.Embedding = calls[0].module
    d = emb.embedding_dim
    ids = [c.inp.reshape(n, -1) for c in calls]
    gs = [c.gout.reshape(n, -1, d) for c in calls]
    sample = torch.arange(n, device=ids[0].device)[:, None]
    for a, b in _chunks(emb.num_embeddings, d, n, budget, gs[0].element_size()):
        block = gs[0].new_zeros(n * (b - a), d)
        for i, g in zip(ids, gs):
            inside = (i >= a) & (i < b)
            block.index_add_(0, (sample * (b - a) + i - a)[inside], g[inside])
        block = block.reshape(n, b - a, d)
        if emb.padding_idx is not None and a <= emb.padding_idx < b:
            block[:, emb.padding_idx - a] = 0
        yield a * d, block.reshape(n, -1)


def _channel_sums(call: _Call, n: int, times_input: bool) -> torch.Tensor:
    """Per-sample gradient of a per-channel parameter: Σ over positions of gout (· the input,
    which for a norm's weight is the normalized input x̂)."""
    g, module = call.gout, call.module
    if times_input:
        if isinstance(module, SampleNorm):
            g = g * F.instance_norm(call.inp, eps=module.eps)
        elif isinstance(module, nn.LayerNorm):
            g = g * F.layer_norm(call.inp, module.normalized_shape, eps=module.eps)
        else:
            g = g * call.inp
    if isinstance(module, nn.LayerNorm):  # normalized dims last
        return g.reshape(n, -1, module.weight.numel()).sum(1)
    if isinstance(module, nn.Linear):  # features last
        return g.reshape(n, -1, g.shape[-1]).sum(1)
    return g.reshape(n, g.shape[1], -1).sum(2)


def _param_blocks(attr: str, calls: list[_Call], n: int, budget: int) -> Iterator[tuple[int, torch.Tensor]]:
    module = calls[0].module
    if attr == "weight" and isinstance(module, nn.Conv2d):
        yield from _conv_weight_blocks(calls, n, budget)
    elif attr == "weight" and isinstance(module, nn.Linear):
        yield from _linear_weight_blocks(calls, n, budget)
    elif isinstance(module, nn.Embedding):
        yield from _embedding_weight_blocks(calls, n, budget)
    else:  # biases, and the affine weight of a norm
        times_input = attr == "weight"
        yield 0, sum(_channel_sums(c, n, times_input) for c in calls)


def fast_blocks(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    names: list[str],
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> Iterator[Block]:
    """Per-sample gradients of `names` from one batched pass; same values as `loop_blocks`.

    `model` must be a probe copy (it is modified: BatchNorms are replaced). Raises
    `UnsupportedModel` (at once, before any block) for layers it cannot handle, so callers can
    fall back to the loop.
    """
    _swap_batchnorm(model)
    owners = _owners(model, names)
    calls = _record_calls(model, owners, x, y)
    return _blocks_from_calls(model, owners, calls, names, x, block_bytes)


def _blocks_from_calls(
    model: nn.Module,
    owners: dict[str, tuple[nn.Module, str]],
    calls: list[_Call],
    names: list[str],
    x: torch.Tensor,
    block_bytes: int,
) -> Iterator[Block]:
    n = x.shape[0]
    params = dict(model.named_parameters())
    for name in names:
        module, attr = owners[name]
        live = [c for c in calls if c.module is module and c.gout is not None]
        if live:
            blocks = _param_blocks(attr, live, n, block_bytes)
        else:  # never called, or not connected to the loss: a zero gradient
            blocks = _zero_blocks(params[name], n, block_bytes)
        for start, grads in blocks:
            yield Block(name, start, grads.detach())


def _zero_blocks(param: torch.Tensor, n: int, budget: int) -> Iterator[tuple[int, torch.Tensor]]:
    for a, b in _chunks(param.numel(), 1, n, budget, param.element_size()):
        yield a, param.new_zeros(n, b - a)
