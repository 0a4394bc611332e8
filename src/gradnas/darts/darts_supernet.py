"""The DARTS-space supernet (Liu et al. 2019): 8 ops on the 14 edges of normal and reduction cells.

Each cell takes the outputs of the two previous cells, builds 4 nodes from every earlier state
through mixed edges, and concatenates the 4 nodes. One α of shape (14, 8) is shared by all normal
cells and another by all reduction cells (the cells at 1/3 and 2/3 of the depth, which halve the
resolution and double the channels). BatchNorms keep no running statistics, so a forward pass is a
pure function of (w, α, input); cell ops' BNs also have no affine scale, as in DARTS.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from gradnas.errors import unknown_choice
from gradnas.spaces.darts_ops import FactorizedReduce, StridedZero, bn, dil_conv, relu_conv_bn, sep_conv
from gradnas.spaces.nb301 import CONCAT, DEPTH, WIDTH
from gradnas.spaces.nds import NDSArch
from gradnas.spaces.pooling import AvgPool2d, MaxPool2d
from gradnas.validate import positive_int

DARTS_OPS: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
NODES = 4
# (to, from) per edge: node i (2..5) reads every earlier state 0..i-1; states 0, 1 are the cell inputs.
DARTS_EDGES: tuple[tuple[int, int], ...] = tuple((to, frm) for to in range(2, 2 + NODES) for frm in range(to))


def make_darts_op(name: str, channels: int, stride: int) -> nn.Module:
    """One DARTS op; pools are followed by a BN as in DARTS's mixed op."""
    if name == "none":
        return StridedZero(stride)
    if name == "max_pool_3x3":
        return nn.Sequential(MaxPool2d(3, stride, padding=1), bn(channels))
    if name == "avg_pool_3x3":
        return nn.Sequential(AvgPool2d(3, stride, padding=1, count_include_pad=False), bn(channels))
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(channels, channels)
    if name in ("sep_conv_3x3", "sep_conv_5x5"):
        return sep_conv(channels, int(name[-1]), stride)
    if name in ("dil_conv_3x3", "dil_conv_5x5"):
        return dil_conv(channels, int(name[-1]), stride, dilation=2)
    raise unknown_choice("DARTS op", name, DARTS_OPS)


class DartsMixedOp(nn.Module):
    def __init__(self, channels: int, stride: int) -> None:
        super().__init__()
        self.ops = nn.ModuleList(make_darts_op(name, channels, stride) for name in DARTS_OPS)

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        return sum(w * op(x) for w, op in zip(mix, self.ops, strict=True))


class DartsSearchCell(nn.Module):
    """Preprocess both inputs to C channels, 4 mixed-edge nodes, output their concatenation (4C)."""

    def __init__(self, c_prev_prev: int, c_prev: int, C: int, reduction: bool, reduction_prev: bool) -> None:
        super().__init__()
        self.reduction = reduction
        # after a reduction, s0 is still at twice s1's resolution
        self.pre0 = FactorizedReduce(c_prev_prev, C) if reduction_prev else relu_conv_bn(c_prev_prev, C)
        self.pre1 = relu_conv_bn(c_prev, C)
        stride = 2 if reduction else 1
        self.edges = nn.ModuleList(DartsMixedOp(C, stride if frm < 2 else 1) for _, frm in DARTS_EDGES)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        for node in range(2, 2 + NODES):
            incoming = (
                self.edges[e](states[frm], mix[e]) for e, (to, frm) in enumerate(DARTS_EDGES) if to == node
            )
            states.append(sum(incoming))
        return torch.cat(states[2:], dim=1)


@dataclass(frozen=True)
class DartsGenotype:
    """The derived cells: for each of the 4 nodes, two (op name, input state) pairs, nodes in order."""

    normal: tuple[tuple[str, int], ...]
    reduce: tuple[tuple[str, int], ...]

    def nb301(self) -> NDSArch:
        """The cells in NAS-Bench-301's network (width 32, depth 8, every node concatenated), whose
        text form `gradnas train --space nb301 --arch` reads."""
        return NDSArch(self.normal, CONCAT, self.reduce, CONCAT, WIDTH, DEPTH)


def derive_cell(alpha: torch.Tensor) -> tuple[tuple[str, int], ...]:
    """DARTS's derivation: per node keep the 2 incoming edges whose strongest non-`none` softmax
    weight is largest, each with that op."""
    probs = torch.softmax(alpha.detach(), dim=-1)[:, 1:]  # softmax over all ops, then drop `none`
    best, best_op = probs.max(dim=1)
    chosen: list[tuple[str, int]] = []
    for node in range(2, 2 + NODES):
        edges = [e for e, (to, _) in enumerate(DARTS_EDGES) if to == node]
        top2 = sorted(edges, key=lambda e: float(best[e]), reverse=True)[:2]
        chosen.extend((DARTS_OPS[int(best_op[e]) + 1], DARTS_EDGES[e][1]) for e in sorted(top2))
    return tuple(chosen)


class DartsSupernet(nn.Module):
    """Stem conv (3C), `layers` search cells with reductions at 1/3 and 2/3 of the depth, GAP-Linear."""

    def __init__(self, C: int = 16, layers: int = 8, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        C, layers = positive_int(C, "C", 1), positive_int(layers, "layers", 3)
        num_classes = positive_int(num_classes, "num_classes", 2)
        in_channels = positive_int(in_channels, "in_channels", 1)
        c_stem = 3 * C
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, c_stem, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_stem, track_running_stats=False),
        )
        c_pp, c_p, c_cur, reduction_prev = c_stem, c_stem, C, False
        self.cells = nn.ModuleList()
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            c_cur = 2 * c_cur if reduction else c_cur
            self.cells.append(DartsSearchCell(c_pp, c_p, c_cur, reduction, reduction_prev))
            c_pp, c_p, reduction_prev = c_p, NODES * c_cur, reduction
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)
        shape = (len(DARTS_EDGES), len(DARTS_OPS))
        self.alpha_normal = nn.Parameter(1e-3 * torch.randn(shape))
        self.alpha_reduce = nn.Parameter(1e-3 * torch.randn(shape))

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alpha_normal, self.alpha_reduce]

    def weights(self) -> list[nn.Parameter]:
        """Every parameter except the two α."""
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normal = torch.softmax(self.alpha_normal, dim=-1)
        reduce = torch.softmax(self.alpha_reduce, dim=-1)
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, reduce if cell.reduction else normal)
        return self.classifier(self.global_pooling(s1).flatten(1))

    def genotype(self) -> DartsGenotype:
        return DartsGenotype(normal=derive_cell(self.alpha_normal), reduce=derive_cell(self.alpha_reduce))
