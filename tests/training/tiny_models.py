"""Model factories for the training tests (loaded by file path, as `--models FILE.py:NAME` does)."""

import random

import numpy as np
import torch
from torch import nn


class Noisy(nn.Module):
    """A small CNN for 8×8 digits whose training forward draws from torch's (dropout), numpy's and
    Python's global generators, so a resume is exact only if all three are restored."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(4 * 4 * 4, 10)

    def forward(self, x):
        h = nn.functional.max_pool2d(torch.relu(self.bn(self.conv(x))), 2).flatten(1)
        if self.training:
            noise = torch.from_numpy(np.random.standard_normal(h.shape).astype(np.float32))
            h = h + 0.01 * noise * random.random()
        return self.fc(self.drop(h))


def noisy():
    return Noisy()


class Bomb(nn.Module):
    """A linear classifier whose output turns NaN from its 11th training batch on."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x):
        if self.training:
            self.calls += 1
        out = self.fc(x.flatten(1))
        return out * float("nan") if self.calls > 10 else out


def bomb():
    return Bomb()
