"""Model factories for `gradnas rank --models examples/my_models.py:small ...` and rank_my_models.py.

Each factory takes no argument and returns a fresh nn.Module for 32x32 RGB images, 10 classes.
"""

from torch import nn


def _cnn(width: int, depth: int) -> nn.Module:
    layers, channels = [], 3
    for _ in range(depth):
        layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
        channels = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10))


def small() -> nn.Module:
    return _cnn(width=8, depth=2)


def wide() -> nn.Module:
    return _cnn(width=32, depth=2)


def deep() -> nn.Module:
    return _cnn(width=8, depth=4)
