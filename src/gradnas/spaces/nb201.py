"""The NAS-Bench-201 cell space (arXiv 2001.00326): 6 edges, 5 ops, 5**6 = 15,625 architectures.

`build` reproduces the benchmark's own network so that parameter counts (1,531,546 for the
all-`nor_conv_3x3` CIFAR-10 net) and gradient-based scores match the published setting.

`parse` also reads NAS-Bench-Suite-Zero's key text, NASLib's op indices: a tuple of 6 codes
(`SUITE_ZERO_OPS`) on NASLib's edges (`SUITE_ZERO_EDGES`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from gradnas.errors import GradnasError, unknown_choice
from gradnas.spaces.pooling import AvgPool2d
from gradnas.validate import check_rng, image_shape, int_literal, positive_int

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
# (to, from) per edge, in the order edges appear in the canonical string.
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NUM_OPS = len(OPS)
NUM_EDGES = len(EDGES)
NUM_ARCHS = NUM_OPS**NUM_EDGES
# NASLib's op codes and edge order (its nodes are numbered from 1: edge (u, v) is our v-1 ← u-1)
SUITE_ZERO_OPS: tuple[str, ...] = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
SUITE_ZERO_EDGES: tuple[tuple[int, int], ...] = ((1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4))


def _edge(e: int) -> str:
    to, frm = EDGES[e]
    return f"{to}←{frm}"


def _op_index(op: object, e: int) -> int:
    """Index of an op given as an int in range or an op name; GradnasError naming the edge."""
    if isinstance(op, str):
        if op not in OPS:
            raise GradnasError(f"edge {_edge(e)}: {unknown_choice('NB201 op', op, OPS)}")
        return OPS.index(op)
    if isinstance(op, (int, np.integer)) and not isinstance(op, bool):
        if 0 <= op < NUM_OPS:
            return int(op)
        raise GradnasError(f"edge {_edge(e)}: op index must be in 0..{NUM_OPS - 1}, got {op}")
    raise GradnasError(f"edge {_edge(e)}: op must be an int or an op name, got {op!r}")


@dataclass(frozen=True, order=True)
class NB201Arch:
    """One NB201 cell: `ops[e]` is the op index (into OPS) on edge EDGES[e].

    The constructor also accepts op names and normalises them to indices, so
    `NB201Arch(("nor_conv_3x3",) * 6) == NB201Arch((3,) * 6)`. Ordering follows `index`.
    """

    ops: tuple[int, ...]

    def __post_init__(self) -> None:
        ops = self.ops
        if isinstance(ops, (str, bytes)) or not isinstance(ops, Sequence):
            raise GradnasError(f"NB201 ops must be a sequence of {NUM_EDGES} ops, got {ops!r}")
        if len(ops) != NUM_EDGES:
            raise GradnasError(f"NB201 arch needs {NUM_EDGES} ops, got {len(ops)}")
        object.__setattr__(self, "ops", tuple(_op_index(op, e) for e, op in enumerate(ops)))

    @classmethod
    def from_ops(cls, ops: Sequence[int | str]) -> NB201Arch:
        """From 6 op indices or op names in canonical edge order."""
        return cls(ops)  # type: ignore[arg-type]  # normalised in __post_init__

    @classmethod
    def from_index(cls, index: int) -> NB201Arch:
        """Inverse of `index`: base-5 digits, edge 0 the most significant."""
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise GradnasError(f"NB201 index must be an int, got {index!r}")
        if not 0 <= index < NUM_ARCHS:
            raise GradnasError(f"NB201 index must be in 0..{NUM_ARCHS - 1}, got {index}")
        index = int(index)
        digits = []
        for _ in range(NUM_EDGES):
            index, d = divmod(index, NUM_OPS)
            digits.append(d)
        return cls(tuple(reversed(digits)))

    @classmethod
    def from_string(cls, text: str) -> NB201Arch:
        """Parse the canonical string exactly (no whitespace anywhere, not even at the ends)."""
        if not isinstance(text, str):
            raise GradnasError(f"NB201 arch string must be a str, got {type(text).__name__}")
        if any(ch.isspace() for ch in text):
            raise GradnasError(f"NB201 arch string must not contain whitespace: {text!r}")
        nodes = text.split("+")
        if len(nodes) != 3:
            raise GradnasError(
                f"NB201 arch string needs 3 nodes separated by '+', got {len(nodes)}: {text!r}"
            )
        ops: list[int] = []
        for to, node in enumerate(nodes, start=1):
            if len(node) < 2 or node[0] != "|" or node[-1] != "|":
                raise GradnasError(f"node {to} must be written '|...|', got {node!r} in {text!r}")
            tokens = node[1:-1].split("|")
            if len(tokens) != to:
                raise GradnasError(f"node {to} needs {to} edges, got {len(tokens)} in {text!r}")
            for frm, token in enumerate(tokens):
                e = len(ops)
                name, sep, src = token.partition("~")
                if not sep:
                    raise GradnasError(f"edge {_edge(e)} must read 'op~{frm}', got {token!r}")
                if src != str(frm):
                    raise GradnasError(f"edge {_edge(e)} must read from node {frm}, got ~{src}")
                ops.append(_op_index(name, e))
        arch = cls(tuple(ops))
        if str(arch) != text:  # belt and braces: accept only the exact canonical spelling
            raise GradnasError(f"not a canonical NB201 arch string: {text!r}")
        return arch

    @property
    def index(self) -> int:
        """Position in `NB201Space.archs()`: base-5 number, edge 0 the most significant digit."""
        i = 0
        for op in self.ops:
            i = i * NUM_OPS + op
        return i

    @property
    def op_names(self) -> tuple[str, ...]:
        return tuple(OPS[op] for op in self.ops)

    def __str__(self) -> str:
        names = self.op_names
        return "+".join(
            "|" + "|".join(f"{names[e]}~{frm}" for e, (to, frm) in enumerate(EDGES) if to == node) + "|"
            for node in (1, 2, 3)
        )


def as_arch(arch: NB201Arch | str | Sequence[int | str]) -> NB201Arch:
    """Accept an NB201Arch, its string, or its 6 ops (indices or names)."""
    if isinstance(arch, NB201Arch):
        return arch
    if isinstance(arch, str):
        return NB201Arch.from_string(arch)
    return NB201Arch.from_ops(arch)


# ---------------------------------------------------------------- network (benchmark definition)


class Zero(nn.Module):
    """The `none` op: x * 0 keeps the autograd graph connected (upstream grads are 0, not None)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def relu_conv_bn(
    c_in: int, c_out: int, k: int, stride: int = 1, affine: bool = True, track: bool = True
) -> nn.Sequential:
    """ReLU-Conv-BN; non-inplace ReLU so hooks see unmodified inputs.

    `affine=False, track=False` gives the BN of a differentiable-search supernet: no learnable
    scale and no running statistics, so every forward is a pure function of weights and input.
    """
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False),
        nn.BatchNorm2d(c_out, affine=affine, track_running_stats=track),
    )


def make_op(name: str, channels: int, affine: bool = True, track: bool = True) -> nn.Module:
    """One NB201 op at constant channels and stride 1 (`affine`, `track`: see `relu_conv_bn`)."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return relu_conv_bn(channels, channels, 1, affine=affine, track=track)
    if name == "nor_conv_3x3":
        return relu_conv_bn(channels, channels, 3, affine=affine, track=track)
    if name == "avg_pool_3x3":
        return AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise unknown_choice("NB201 op", name, OPS)


class NB201Cell(nn.Module):
    """Nodes 0..3, node i = sum of its incoming edge ops; returns node 3."""

    def __init__(self, arch: NB201Arch, channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(make_op(name, channels) for name in arch.op_names)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        e = 0
        for to in (1, 2, 3):
            total = self.edges[e](nodes[0])
            for frm in range(1, to):
                total = total + self.edges[e + frm](nodes[frm])
            e += to
            nodes.append(total)
        return nodes[3]


class ResidualReduction(nn.Module):
    """Between stages: halve H, W and change channels, with an avg-pool + 1x1 conv shortcut.

    The shortcut pool uses ceil_mode so odd sizes (e.g. 9x9) match the stride-2 conv's
    ceil(H/2); for even sizes (all benchmark datasets) it is identical to the benchmark's pool.
    `track=False` drops the BN running statistics, as a search supernet needs.
    """

    def __init__(self, c_in: int, c_out: int, track: bool = True) -> None:
        super().__init__()
        self.conv_a = relu_conv_bn(c_in, c_out, 3, stride=2, track=track)
        self.conv_b = relu_conv_bn(c_out, c_out, 3, track=track)
        self.shortcut = nn.Sequential(
            AvgPool2d(2, stride=2, padding=0, ceil_mode=True),
            nn.Conv2d(c_in, c_out, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """Stem, 3 stages of N cells (C, 2C, 4C) joined by reductions, BN-ReLU-GAP-Linear head."""

    def __init__(self, arch: NB201Arch, num_classes: int, in_channels: int, C: int, N: int):
        super().__init__()
        self.arch = arch
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        blocks: list[nn.Module] = []
        for stage, width in enumerate((C, 2 * C, 4 * C)):
            if stage > 0:
                blocks.append(ResidualReduction(width // 2, width))
            blocks.extend(NB201Cell(arch, width) for _ in range(N))
        self.cells = nn.ModuleList(blocks)
        self.lastact = nn.Sequential(nn.BatchNorm2d(4 * C), nn.ReLU())
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * C, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.stem(x)
        for block in self.cells:
            out = block(out)
        out = self.global_pooling(self.lastact(out)).flatten(1)
        return self.classifier(out)


# ---------------------------------------------------------------- the space


class NB201Space:
    """NAS-Bench-201: archs are `NB201Arch`; `archs()` and `index` share one order."""

    name = "nb201"
    size = NUM_ARCHS
    ops = OPS
    edges = EDGES
    decisions = (NUM_OPS,) * NUM_EDGES  # one categorical choice per edge, for policies and models

    def encode(self, arch: NB201Arch) -> tuple[int, ...]:
        """The arch as one choice index per decision (its op indices)."""
        return as_arch(arch).ops

    def decode(self, choices: Sequence[int]) -> NB201Arch:
        return NB201Arch(tuple(int(c) for c in choices))

    def parse(self, text: str) -> NB201Arch:
        """The canonical string, or a Suite-Zero key (see the module docstring)."""
        if isinstance(text, str) and text.lstrip().startswith("("):
            return from_suite_zero_key(text)
        return NB201Arch.from_string(text)

    def format(self, arch: NB201Arch) -> str:
        return str(as_arch(arch))

    def archs(self) -> Iterator[NB201Arch]:
        """All 15,625 archs in index order."""
        return (NB201Arch.from_index(i) for i in range(NUM_ARCHS))

    def sample(self, rng: np.random.Generator) -> NB201Arch:
        return NB201Arch.from_index(int(check_rng(rng).integers(NUM_ARCHS)))

    def sample_many(self, n: int, rng: np.random.Generator, unique: bool = True) -> list[NB201Arch]:
        """`n` uniform draws; without replacement when `unique` (so n <= 15,625)."""
        n = positive_int(n, "number of samples", 0)
        rng = check_rng(rng)
        if unique:
            if n > NUM_ARCHS:
                raise GradnasError(f"cannot draw {n} unique NB201 archs; there are {NUM_ARCHS}")
            idx = rng.choice(NUM_ARCHS, size=n, replace=False)
        else:
            idx = rng.integers(NUM_ARCHS, size=n)
        return [NB201Arch.from_index(int(i)) for i in idx]

    def mutate(self, arch: NB201Arch, rng: np.random.Generator) -> NB201Arch:
        """Uniform edge, then a uniform op among the 4 other ops on it (regularized evolution's mutation)."""
        arch, rng = as_arch(arch), check_rng(rng)
        e = int(rng.integers(NUM_EDGES))
        ops = list(arch.ops)
        ops[e] = (ops[e] + 1 + int(rng.integers(NUM_OPS - 1))) % NUM_OPS
        return NB201Arch(tuple(ops))

    def mutate_by_node(self, arch: NB201Arch, rng: np.random.Generator) -> NB201Arch:
        """The NAS-Bench-201 reference code's mutation: a uniform node (1, 2 or 3), then a uniform
        edge into it, then a uniform op among the 4 others; so node 1's single edge changes a third
        of the time, each of node 3's three edges a ninth."""
        arch, rng = as_arch(arch), check_rng(rng)
        node = 1 + int(rng.integers(3))
        e = node * (node - 1) // 2 + int(rng.integers(node))  # edges into node j start at j(j-1)/2
        ops = list(arch.ops)
        ops[e] = (ops[e] + 1 + int(rng.integers(NUM_OPS - 1))) % NUM_OPS
        return NB201Arch(tuple(ops))

    def neighbours(self, arch: NB201Arch) -> list[NB201Arch]:
        """The 24 archs differing from `arch` on exactly one edge (edge-major, then op order)."""
        arch = as_arch(arch)
        out = []
        for e in range(NUM_EDGES):
            for op in range(NUM_OPS):
                if op != arch.ops[e]:
                    out.append(NB201Arch(arch.ops[:e] + (op,) + arch.ops[e + 1 :]))
        return out

    def build(
        self,
        arch: NB201Arch | str | Sequence[int | str],
        num_classes: int = 10,
        input_shape: tuple[int, int, int] = (3, 32, 32),
        C: int = 16,
        N: int = 5,
    ) -> NB201Network:
        """The benchmark network for `arch`, freshly initialised by torch's default init.

        H and W must be >= 8: stage 3 runs at H/4, and batch-of-one BatchNorm needs more than
        one value per channel there.
        """
        arch = as_arch(arch)
        num_classes = positive_int(num_classes, "num_classes", 2)
        in_channels = image_shape(input_shape, 8)[0]
        return NB201Network(arch, num_classes, in_channels, positive_int(C, "C", 1), positive_int(N, "N", 1))

    def thin(
        self, arch: NB201Arch | str | Sequence[int | str], num_classes: int, input_shape: tuple[int, int, int]
    ) -> NB201Network:
        """TE-NAS's thin network for counting linear regions: the same cells, one channel wide
        (C = 1) and one cell per stage (N = 1), so tiny inputs fall into few enough regions to count."""
        return self.build(arch, num_classes, input_shape, C=1, N=1)


def from_suite_zero_key(text: str) -> NB201Arch:
    """The arch a Suite-Zero key such as "(2, 2, 3, 0, 2, 4)" writes (see the module docstring)."""
    codes = int_literal(text, "NB201 Suite-Zero key")
    if not isinstance(codes, tuple) or len(codes) != NUM_EDGES or not all(isinstance(c, int) for c in codes):
        raise GradnasError(f"NB201 Suite-Zero key must be a tuple of {NUM_EDGES} op codes: {text!r}")
    if any(c >= len(SUITE_ZERO_OPS) for c in codes):
        named = ", ".join(f"{i} = {n}" for i, n in enumerate(SUITE_ZERO_OPS))
        raise GradnasError(f"NB201 Suite-Zero key: op codes must be in 0..4 ({named}), got {list(codes)}")
    by_edge = {(v - 1, u - 1): SUITE_ZERO_OPS[c] for (u, v), c in zip(SUITE_ZERO_EDGES, codes)}
    return NB201Arch(tuple(by_edge[edge] for edge in EDGES))
