"""The channels-last pools must be bit-identical to PyTorch's, forward and backward."""

import pytest
import torch
import torch.nn as nn

from gradnas.spaces.pooling import AvgPool2d, MaxPool2d

SETTINGS = [
    (AvgPool2d, nn.AvgPool2d, dict(kernel_size=3, stride=1, padding=1, count_include_pad=False)),
    (AvgPool2d, nn.AvgPool2d, dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    (AvgPool2d, nn.AvgPool2d, dict(kernel_size=2, stride=2, padding=0, ceil_mode=True)),
    (MaxPool2d, nn.MaxPool2d, dict(kernel_size=3, stride=1, padding=1)),
    (MaxPool2d, nn.MaxPool2d, dict(kernel_size=2, stride=2, ceil_mode=True)),
]


@pytest.mark.parametrize("ours, theirs, options", SETTINGS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pools_match_pytorchs_bit_for_bit(ours, theirs, options, dtype):
    x = torch.randn(5, 6, 9, 9, generator=torch.Generator().manual_seed(0), dtype=dtype, requires_grad=True)
    fast, plain = ours(**options), theirs(**options)
    assert isinstance(fast, theirs)
    y_fast, y_plain = fast(x), plain(x)
    assert y_fast.is_contiguous() and torch.equal(y_fast, y_plain)
    g = torch.randn_like(y_plain)
    (grad_fast,), (grad_plain,) = torch.autograd.grad(y_fast, x, g), torch.autograd.grad(y_plain, x, g)
    assert grad_fast.is_contiguous() and torch.equal(grad_fast, grad_plain)


def test_three_dimensional_inputs_pool_as_pytorchs():
    x = torch.randn(6, 9, 9, generator=torch.Generator().manual_seed(1))
    ours, theirs = AvgPool2d(3, 1, 1, count_include_pad=False), nn.AvgPool2d(3, 1, 1, count_include_pad=False)
    assert torch.equal(ours(x), theirs(x))
