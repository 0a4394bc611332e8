"""A model some proxies cannot score (a torchvision-style ResNet on 32x32 inputs: its last stage's
BatchNorm sees a 1x1 map, so per-sample gradients are undefined) still gets every other proxy."""

import math

import torch
from torch import nn

from gradnas import probe_batch, score


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.down(x))


def torchvision_style_resnet() -> nn.Module:
    """7x7 stride-2 stem and max-pool, then three stride-2 stages: 32x32 becomes 1x1."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 7, 2, 3, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, 1),
        Block(8, 16, 2),
        Block(16, 16, 2),
        Block(16, 16, 2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )


def test_each_proxy_that_cannot_be_computed_is_nan_with_the_reason_and_the_others_are_computed():
    model, batch = torchvision_style_resnet(), probe_batch("synthetic", batch_size=16, seed=0)
    names = ["gradsign", "synflow", "naswot", "mgm", "gradalign_1", "snip", "params"]
    scores = score(model, batch, names)
    for name in ("gradsign", "mgm", "gradalign_1"):  # per-sample gradients
        assert math.isnan(scores[name].value)
        assert "BatchNorm on input (16, 16, 1, 1) sees one value per channel" in scores[name].reason
    for name in ("synflow", "naswot", "snip", "params"):  # batch statistics or no gradients at all
        assert scores[name].ok and math.isfinite(scores[name].value)
        assert scores[name] == score(model, batch, [name])[name]  # as if scored alone
    assert scores["params"].value == sum(p.numel() for p in model.parameters())
