"""The NB201 supernet of differentiable search: every cell edge mixes all five NB201 ops.

Macro structure as the benchmark network, but each edge computes
Σ_o softmax(α_e)_o · o(x), with one α of shape (6, 5) shared by all cells. All BatchNorms keep no
running statistics (the cell ops' also no affine scale, as in DARTS and the NB201 search code), so
a forward pass is a pure function of (w, α, input), which the Hessian products rely on.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from gradnas.spaces.nb201 import EDGES, NUM_EDGES, NUM_OPS, OPS, NB201Arch, ResidualReduction, make_op
from gradnas.validate import positive_int


class MixedOp(nn.Module):
    """One edge: the five NB201 ops, summed with the given mixing weights."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.ops = nn.ModuleList(make_op(name, channels, affine=False, track=False) for name in OPS)

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        return sum(w * op(x) for w, op in zip(mix, self.ops, strict=True))


class SearchCell(nn.Module):
    """Nodes 0..3; node i sums the mixed edges from every earlier node; returns node 3."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(MixedOp(channels) for _ in EDGES)

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for node in (1, 2, 3):
            incoming = (self.edges[e](nodes[frm], mix[e]) for e, (to, frm) in enumerate(EDGES) if to == node)
            nodes.append(sum(incoming))
        return nodes[3]


class NB201Supernet(nn.Module):
    """Stem, 3 stages of N search cells (C, 2C, 4C) joined by reductions, BN-ReLU-GAP-Linear head."""

    def __init__(self, C: int = 16, N: int = 5, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        C, N = positive_int(C, "C", 1), positive_int(N, "N", 1)
        num_classes = positive_int(num_classes, "num_classes", 2)
        in_channels = positive_int(in_channels, "in_channels", 1)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C, track_running_stats=False)
        )
        blocks: list[nn.Module] = []
        for stage, width in enumerate((C, 2 * C, 4 * C)):
            if stage > 0:
                blocks.append(ResidualReduction(width // 2, width, track=False))
            blocks.extend(SearchCell(width) for _ in range(N))
        self.cells = nn.ModuleList(blocks)
        self.lastact = nn.Sequential(nn.BatchNorm2d(4 * C, track_running_stats=False), nn.ReLU())
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * C, num_classes)
        # DARTS's initialisation: near-uniform mixing, ties broken by the random draw.
        self.alpha = nn.Parameter(1e-3 * torch.randn(NUM_EDGES, NUM_OPS))

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alpha]

    def weights(self) -> list[nn.Parameter]:
        """Every parameter except α."""
        return [p for p in self.parameters() if p is not self.alpha]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mix = torch.softmax(self.alpha, dim=-1)
        out = self.stem(x)
        for block in self.cells:
            out = block(out, mix) if isinstance(block, SearchCell) else block(out)
        out = self.global_pooling(self.lastact(out)).flatten(1)
        return self.classifier(out)

    def genotype(self, exclude_none: bool = False) -> NB201Arch:
        """The arch with the largest α on each edge; with `exclude_none`, the largest among the others."""
        alpha = self.alpha.detach()
        if exclude_none:
            return NB201Arch(tuple(int(i) + 1 for i in alpha[:, 1:].argmax(dim=1)))
        return NB201Arch(tuple(int(i) for i in alpha.argmax(dim=1)))
