"""The NAS-Bench-101 reference network, as the benchmark trained it (Ying et al. 2019, §2.1).

Stem conv3x3-BN-ReLU (128 channels), then 3 stacks of 3 cells; each later stack opens with a 2×2
max-pool and doubles the channels; global average pool and a linear head. Inside a cell (the
benchmark's channel rule): the vertices feeding the output split its channels evenly (the first
ones take the remainder) and are concatenated; other vertices take the largest width among their
successors; a vertex sums its inputs, truncated to its width (first channels), plus a 1×1
projection of the cell input where connected; an input→output edge adds a projection of the
input to the concatenation. Convs have no bias; BN is TF's (momentum 0.997, eps 1e-5).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from gradnas.errors import GradnasError
from gradnas.spaces.pooling import MaxPool2d


def conv_bn_relu(c_in: int, c_out: int, k: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False),
        nn.BatchNorm2d(c_out, eps=1e-5, momentum=0.003),
        nn.ReLU(),
    )


def vertex_channels(c_in: int, c_out: int, matrix: np.ndarray) -> list[int]:
    """Each vertex's width under the benchmark's rule (see the module docstring)."""
    size = len(matrix)
    widths = [c_in, *[0] * (size - 2), c_out]
    feeds_output = [v for v in range(1, size - 1) if matrix[v, size - 1]]
    if not feeds_output:
        return widths
    share, extra = divmod(c_out, len(feeds_output))
    if share == 0:
        raise GradnasError(
            f"{c_out} channels cannot be split over the {len(feeds_output)} vertices feeding the "
            "cell's output; use more stem channels"
        )
    for k, v in enumerate(feeds_output):
        widths[v] = share + (k < extra)
    for v in range(size - 2, 0, -1):
        if not matrix[v, size - 1]:
            widths[v] = max(widths[w] for w in range(v + 1, size - 1) if matrix[v, w])
    return widths


def make_op(name: str, channels: int) -> nn.Module:
    if name == "conv3x3-bn-relu":
        return conv_bn_relu(channels, channels, 3)
    if name == "conv1x1-bn-relu":
        return conv_bn_relu(channels, channels, 1)
    return MaxPool2d(3, stride=1, padding=1)  # maxpool3x3: names are checked by NB101Arch


class NB101Cell(nn.Module):
    def __init__(self, matrix: np.ndarray, op_names: tuple[str, ...], c_in: int, c_out: int) -> None:
        super().__init__()
        self.matrix = matrix
        self.widths = vertex_channels(c_in, c_out, matrix)
        size = len(matrix)
        # Keys are vertex numbers; a vertex with no projection or op (pruned cells have none) is absent.
        self.projections = nn.ModuleDict(
            {str(v): conv_bn_relu(c_in, self.widths[v], 1) for v in range(1, size) if matrix[0, v]}
        )
        self.ops = nn.ModuleDict({str(v): make_op(op_names[v], self.widths[v]) for v in range(1, size - 1)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = len(self.matrix)
        states = [x]
        for v in range(1, size - 1):
            inputs = [states[u][:, : self.widths[v]] for u in range(1, v) if self.matrix[u, v]]
            if self.matrix[0, v]:
                inputs.append(self.projections[str(v)](x))
            states.append(self.ops[str(v)](sum(inputs[1:], inputs[0])))
        concat = [states[v] for v in range(1, size - 1) if self.matrix[v, size - 1]]
        out = torch.cat(concat, dim=1) if concat else None
        if self.matrix[0, size - 1]:
            projected = self.projections[str(size - 1)](x)
            out = projected if out is None else out + projected
        return out


class NB101Network(nn.Module):
    def __init__(
        self,
        matrix: np.ndarray,
        op_names: tuple[str, ...],
        num_classes: int,
        in_channels: int,
        stem_channels: int,
        stacks: int,
        cells_per_stack: int,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn_relu(in_channels, stem_channels, 3)]
        c = stem_channels
        for stack in range(stacks):
            c_out = c if stack == 0 else 2 * c
            if stack:
                layers.append(MaxPool2d(2, stride=2, ceil_mode=True))  # TF 'same' on odd sizes
            for _ in range(cells_per_stack):
                layers.append(NB101Cell(matrix, op_names, c, c_out))
                c = c_out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)  # a module, so proxies can find the pre-pooling features
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))
