"""DARTS's cell operations (Liu et al. 2019), shared by the DARTS supernet and the NDS networks.

Separable and dilated convolutions, the factorized reduction and a strided zero. By default their
BatchNorms have no affine scale and keep no running statistics (the supernet's pure-function BN);
`affine=True` gives a discrete network's BN.
"""

from __future__ import annotations

import torch
import torch.nn as nn


def bn(channels: int, affine: bool = False) -> nn.BatchNorm2d:
    """The supernet's pure-function BN, or with `affine` a discrete network's BN (learnable scale
    and running statistics, as in DARTS's evaluation networks)."""
    return nn.BatchNorm2d(channels, affine=affine, track_running_stats=affine)


def _relu_conv(c_in: int, c_out: int, k: int, stride: int, dilation: int = 1, groups: int = 1) -> list:
    """ReLU then a bias-free conv padded to keep the size (up to the stride)."""
    padding = dilation * (k - 1) // 2
    conv = nn.Conv2d(c_in, c_out, k, stride, padding, dilation=dilation, groups=groups, bias=False)
    return [nn.ReLU(), conv]


def relu_conv_bn(c_in: int, c_out: int, k: int = 1, stride: int = 1, affine: bool = False) -> nn.Sequential:
    """ReLU-Conv-BN; the 1×1 one brings a cell input to the cell's width (`affine`: see `bn`)."""
    return nn.Sequential(*_relu_conv(c_in, c_out, k, stride), bn(c_out, affine))


def dil_conv(channels: int, k: int, stride: int, dilation: int, affine: bool = False) -> nn.Sequential:
    """ReLU, depthwise k×k (dilated) conv, pointwise conv, BN (`affine`: see `bn`)."""
    depthwise = _relu_conv(channels, channels, k, stride, dilation, groups=channels)
    return nn.Sequential(*depthwise, nn.Conv2d(channels, channels, 1, bias=False), bn(channels, affine))


def sep_conv(channels: int, k: int, stride: int, dilation: int = 1, affine: bool = False) -> nn.Sequential:
    """Two depthwise-separable convs in a row, the first carrying the stride (undilated in DARTS;
    NDS's `dil_sep_conv` dilates both)."""
    return nn.Sequential(
        *dil_conv(channels, k, stride, dilation, affine), *dil_conv(channels, k, 1, dilation, affine)
    )


class FactorizedReduce(nn.Module):
    """Halve H, W without losing pixels: two stride-2 1×1 convs, one offset by a pixel, concatenated.

    The offset input is zero-padded back to full size, so odd sizes work too; for even sizes the
    padding is never sampled and this is DARTS's operation."""

    def __init__(self, c_in: int, c_out: int, affine: bool = False) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.conv_a = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_b = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.bn = bn(c_out, affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = nn.functional.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))
        return self.bn(torch.cat([self.conv_a(x), self.conv_b(shifted)], dim=1))


class StridedZero(nn.Module):
    """The `none` op: zeros shaped like the edge's output (graph kept connected, as NB201's Zero)."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)
