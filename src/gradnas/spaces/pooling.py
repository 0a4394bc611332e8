"""Pooling layers that run PyTorch's faster CPU kernels.

PyTorch's CPU pooling kernels are several times slower on contiguous NCHW tensors than on
channels-last ones (an NB201 network spent about a fifth of a probe pass in its two average pools),
and both layouts give bit-identical outputs and gradients. These layers pool a 4-d CPU tensor in the
channels-last layout and hand back contiguous outputs and gradients, so nothing around them sees a
difference (a channels-last gradient would send the convolutions' backward down another kernel).
"""

from __future__ import annotations

import torch
import torch.nn as nn


class _ChannelsLastOnCpu(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or x.dim() != 4:
            return super().forward(x)
        channels_last = x.contiguous(memory_format=torch.channels_last)
        if channels_last.requires_grad:  # hand the gradient back contiguous too, as before
            channels_last.register_hook(torch.Tensor.contiguous)
        return super().forward(channels_last).contiguous()


class AvgPool2d(_ChannelsLastOnCpu, nn.AvgPool2d):
    """`nn.AvgPool2d`, pooling CPU batches channels-last."""


class MaxPool2d(_ChannelsLastOnCpu, nn.MaxPool2d):
    """`nn.MaxPool2d`, pooling CPU batches channels-last."""
