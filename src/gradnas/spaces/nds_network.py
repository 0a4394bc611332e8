"""The network of an NDS genotype: DARTS's NetworkCIFAR, as NDS (pycls) trains it, without the
auxiliary head and drop path; ops as pycls defines them, built from DARTS's op helpers with
affine BatchNorms that keep running statistics (a discrete network's BN).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn as nn

from gradnas.spaces.darts_ops import FactorizedReduce, StridedZero, bn, dil_conv, relu_conv_bn, sep_conv
from gradnas.spaces.pooling import AvgPool2d, MaxPool2d

if TYPE_CHECKING:
    from gradnas.spaces.nds import NDSArch, Pair


def _conv_1xk_kx1(channels: int, k: int, stride: int, affine: bool) -> nn.Sequential:
    """ReLU, a 1×k then a k×1 conv (each carrying the stride along its axis), BN: NASNet's cheap k×k."""
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(channels, channels, (1, k), (1, stride), (0, k // 2), bias=False),
        nn.Conv2d(channels, channels, (k, 1), (stride, 1), (k // 2, 0), bias=False),
        bn(channels, affine),
    )


# name -> builder(channels, stride, affine); stride 2 only on a reduction cell's edges from its
# inputs; `affine` False gives the ops BatchNorms without a learnable scale (NAS-Bench-301's
# network as NAS-Bench-Suite-Zero builds it), which keep no running statistics.
OPS: dict[str, Callable[[int, int, bool], nn.Module]] = {
    "none": lambda c, s, a: StridedZero(s),
    "skip_connect": lambda c, s, a: nn.Identity() if s == 1 else FactorizedReduce(c, c, affine=a),
    "avg_pool_3x3": lambda c, s, a: AvgPool2d(3, s, 1, count_include_pad=False),
    "max_pool_3x3": lambda c, s, a: MaxPool2d(3, s, 1),
    "max_pool_5x5": lambda c, s, a: MaxPool2d(5, s, 2),
    "max_pool_7x7": lambda c, s, a: MaxPool2d(7, s, 3),
    "conv_1x1": lambda c, s, a: relu_conv_bn(c, c, 1, s, affine=a),
    "conv_3x3": lambda c, s, a: relu_conv_bn(c, c, 3, s, affine=a),
    "conv_3x1_1x3": lambda c, s, a: _conv_1xk_kx1(c, 3, s, a),
    "conv_7x1_1x7": lambda c, s, a: _conv_1xk_kx1(c, 7, s, a),
    "sep_conv_3x3": lambda c, s, a: sep_conv(c, 3, s, affine=a),
    "sep_conv_5x5": lambda c, s, a: sep_conv(c, 5, s, affine=a),
    "sep_conv_7x7": lambda c, s, a: sep_conv(c, 7, s, affine=a),
    "dil_conv_3x3": lambda c, s, a: dil_conv(c, 3, s, 2, affine=a),
    "dil_conv_5x5": lambda c, s, a: dil_conv(c, 5, s, 2, affine=a),
    "dil_sep_conv_3x3": lambda c, s, a: sep_conv(c, 3, s, dilation=2, affine=a),
}


class NDSCell(nn.Module):
    """Preprocess both inputs to C channels; node j = op(state) + op(state); concat `concat`.

    On a reduction cell the ops reading the cell's inputs (states 0, 1) carry stride 2."""

    def __init__(
        self,
        pairs: tuple[Pair, ...],
        concat: tuple[int, ...],
        c_prev_prev: int,
        c_prev: int,
        C: int,
        reduction: bool,
        reduction_prev: bool,
        op_affine: bool = True,
    ) -> None:
        super().__init__()
        # after a reduction, s0 is still at twice s1's resolution
        self.pre0 = (
            FactorizedReduce(c_prev_prev, C, affine=True)
            if reduction_prev
            else relu_conv_bn(c_prev_prev, C, affine=True)
        )
        self.pre1 = relu_conv_bn(c_prev, C, affine=True)
        self.inputs = tuple(state for _, state in pairs)
        self.concat = concat
        self.ops = nn.ModuleList(
            OPS[op](C, 2 if reduction and state < 2 else 1, op_affine) for op, state in pairs
        )

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        for a in range(0, len(self.ops), 2):
            b = a + 1
            states.append(self.ops[a](states[self.inputs[a]]) + self.ops[b](states[self.inputs[b]]))
        return torch.cat([states[j] for j in self.concat], dim=1)


class NDSNetwork(nn.Module):
    """Stem conv3×3 (3 → 3·width) + BN, `depth` cells with reductions (stride 2, channels ×2) at
    depth//3 and 2·depth//3, global average pool, linear head. `op_affine`: see `OPS`."""

    def __init__(self, arch: NDSArch, num_classes: int, in_channels: int, op_affine: bool = True) -> None:
        super().__init__()
        self.arch = arch
        C = arch.width
        c_stem = 3 * C
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem)
        )
        c_pp, c_p, reduction_prev = c_stem, c_stem, False
        cells = []
        for i in range(arch.depth):
            reduction = i in (arch.depth // 3, 2 * arch.depth // 3)
            C = 2 * C if reduction else C
            pairs, concat = (
                (arch.reduce, arch.reduce_concat) if reduction else (arch.normal, arch.normal_concat)
            )
            cells.append(NDSCell(pairs, concat, c_pp, c_p, C, reduction, reduction_prev, op_affine))
            c_pp, c_p, reduction_prev = c_p, len(concat) * C, reduction
        self.cells = nn.ModuleList(cells)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(self.global_pooling(s1).flatten(1))
