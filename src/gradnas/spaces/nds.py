"""The NDS design spaces (Radosavovic et al. 2019, "On Network Design Spaces for Visual Recognition").

An architecture is a DARTS-style genotype: a normal and a reduction cell, each node taking two
(op, input state) pairs and summing them, the cell's output concatenating the nodes its `concat`
lists, plus a width (channels of the first cells) and a depth (number of cells). The network
(`gradnas.spaces.nds_network`) is DARTS's NetworkCIFAR, which NDS trains. The five families DARTS,
ENAS, PNAS, NASNet and Amoeba differ only in what they *sample*: op set, nodes per cell, and which
nodes the output concatenates (all of them, or the loose ends no other node reads). So the text
form and the network do not depend on the family: one string is one network in every space that
accepts it, and a benchmark of mixed families needs no family tag.

Text form (one line, no spaces; fields in this order)::

    normal=sep_conv_3x3~0+sep_conv_3x3~1,skip_connect~0+dil_conv_3x3~2,...;normal_concat=2,3,4,5;
    reduce=max_pool_3x3~0+max_pool_3x3~1,...;reduce_concat=2,3,4,5;width=16;depth=20

Cells list nodes 2, 3, ... separated by ',', each node as `op~state+op~state`; states 0 and 1 are
the cell's inputs (the outputs of the two previous cells), state j >= 2 is node j. Concat lists are
strictly increasing node numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from gradnas.errors import GradnasError, unknown_choice
from gradnas.spaces.base import arch_of, sample_repeatedly
from gradnas.spaces.nds_network import NDSNetwork
from gradnas.validate import check_rng, image_shape, positive_int

# ---------------------------------------------------------------- families


@dataclass(frozen=True)
class Family:
    """What one NDS design space samples (op sets and node counts as in pycls/NNI)."""

    name: str
    ops: tuple[str, ...]  # sampled and mutated
    nodes: int
    loose_end: bool  # concat only the nodes no other node reads (else every node)
    parse_only: tuple[str, ...] = ()  # accepted in genotypes, never sampled

    @property
    def accepted(self) -> tuple[str, ...]:
        return self.ops + self.parse_only


_ENAS = ("skip_connect", "sep_conv_3x3", "sep_conv_5x5", "avg_pool_3x3", "max_pool_3x3")
FAMILIES: dict[str, Family] = {
    # pycls lists `none` among DARTS's ops; NNI leaves it out of the discrete space: a node of two
    # `none` inputs is constant zero. So it parses but is never drawn.
    "darts": Family(
        "darts",
        ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5")
        + ("dil_conv_3x3", "dil_conv_5x5"),
        nodes=4,
        loose_end=False,
        parse_only=("none",),
    ),
    "enas": Family("enas", _ENAS, nodes=5, loose_end=True),
    "pnas": Family(
        "pnas", _ENAS + ("sep_conv_7x7", "conv_7x1_1x7", "dil_conv_3x3"), nodes=5, loose_end=False
    ),
    "nasnet": Family(
        "nasnet",
        _ENAS
        + ("sep_conv_7x7", "conv_7x1_1x7", "conv_3x1_1x3", "dil_conv_3x3", "max_pool_5x5")
        + ("max_pool_7x7", "conv_1x1", "conv_3x3"),
        nodes=5,
        loose_end=True,
    ),
    "amoeba": Family(
        "amoeba", _ENAS + ("sep_conv_7x7", "dil_sep_conv_3x3", "conv_7x1_1x7"), nodes=5, loose_end=True
    ),
}
ALL_OPS: tuple[str, ...] = tuple(sorted({op for family in FAMILIES.values() for op in family.accepted}))
# NDS draws width and depth uniformly from these (NNI's NDS defaults, the paper's CIFAR setting).
WIDTHS: tuple[int, ...] = (16, 24, 32)
DEPTHS: tuple[int, ...] = (4, 8, 12, 16, 20)
MIN_WIDTH, MIN_DEPTH = 2, 3  # FactorizedReduce splits the width in two; two distinct reductions
MAX_WIDTH, MAX_DEPTH = 1024, 200  # far beyond NDS's own; a typo must not build until memory runs out


# ---------------------------------------------------------------- architectures

Pair = tuple[str, int]
CELLS = ("normal", "reduce")
_INT = re.compile(r"0|[1-9][0-9]*")


def _where(cell: str, k: int) -> str:
    return f"{cell} cell, node {2 + k // 2}"


def _pair(pair: object, cell: str, k: int) -> Pair:
    """One (op, input state) pair, checked: a known op and a state that exists before its node."""
    where = _where(cell, k)
    if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
        raise GradnasError(f"{where}: each input must be an (op, state) pair, got {pair!r}")
    op, state = pair
    if op not in ALL_OPS:
        raise GradnasError(f"{where}: {unknown_choice('NDS op', op, ALL_OPS)}")
    node = 2 + k // 2
    if isinstance(state, bool) or not isinstance(state, (int, np.integer)) or not 0 <= state < node:
        raise GradnasError(
            f"{where}: input state must be an int in 0..{node - 1} (the states before it), got {state!r}"
        )
    return op, int(state)


def _cell(pairs: object, cell: str) -> tuple[Pair, ...]:
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence):
        raise GradnasError(f"{cell} cell must be a sequence of (op, state) pairs, got {pairs!r}")
    if len(pairs) < 2 or len(pairs) % 2:
        raise GradnasError(f"{cell} cell needs two (op, state) pairs per node, got {len(pairs)} pairs")
    return tuple(_pair(p, cell, k) for k, p in enumerate(pairs))


def _concat(concat: object, cell: str, nodes: int) -> tuple[int, ...]:
    what = f"{cell}_concat"
    if isinstance(concat, (str, bytes)) or not isinstance(concat, Sequence) or not concat:
        raise GradnasError(f"{what} must be a non-empty list of node numbers, got {concat!r}")
    for j in concat:
        if isinstance(j, bool) or not isinstance(j, (int, np.integer)) or not 2 <= j <= nodes + 1:
            raise GradnasError(f"{what}: nodes are numbered 2..{nodes + 1}, got {j!r}")
    if any(a >= b for a, b in zip(concat, concat[1:])):
        raise GradnasError(f"{what} must list distinct nodes in increasing order, got {list(concat)}")
    return tuple(int(j) for j in concat)


def _sorted_nodes(pairs: tuple[Pair, ...]) -> tuple[Pair, ...]:
    """Each node's two pairs in (state, op) order: a node sums them, so either order is the same
    network, and one spelling per network lets equal genotypes compare and print equal."""
    nodes = (sorted(pairs[k : k + 2], key=lambda p: (p[1], p[0])) for k in range(0, len(pairs), 2))
    return tuple(pair for node in nodes for pair in node)


@dataclass(frozen=True)
class NDSArch:
    """A genotype with its width and depth. Cells hold two (op, input state) pairs per node, nodes
    in order; the constructor accepts lists (as JSON gives them) and normalises them to tuples,
    each node's pairs in (state, op) order."""

    normal: tuple[Pair, ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[Pair, ...]
    reduce_concat: tuple[int, ...]
    width: int
    depth: int

    def __post_init__(self) -> None:
        normal, reduce = (
            _sorted_nodes(_cell(self.normal, "normal")),
            _sorted_nodes(_cell(self.reduce, "reduce")),
        )
        if len(normal) != len(reduce):
            counts = f"{len(normal) // 2} and {len(reduce) // 2}"
            raise GradnasError(f"normal and reduce cells need the same number of nodes, got {counts}")
        nodes = len(normal) // 2
        fields = {
            "normal": normal,
            "reduce": reduce,
            "normal_concat": _concat(self.normal_concat, "normal", nodes),
            "reduce_concat": _concat(self.reduce_concat, "reduce", nodes),
            "width": positive_int(self.width, "width", MIN_WIDTH, MAX_WIDTH),
            "depth": positive_int(self.depth, "depth", MIN_DEPTH, MAX_DEPTH),
        }
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    @property
    def nodes(self) -> int:
        return len(self.normal) // 2

    def __str__(self) -> str:
        def cell(pairs: tuple[Pair, ...]) -> str:
            terms = [f"{op}~{state}" for op, state in pairs]
            return ",".join(f"{a}+{b}" for a, b in zip(terms[::2], terms[1::2]))

        def ints(values: tuple[int, ...]) -> str:
            return ",".join(map(str, values))

        return (
            f"normal={cell(self.normal)};normal_concat={ints(self.normal_concat)};"
            f"reduce={cell(self.reduce)};reduce_concat={ints(self.reduce_concat)};"
            f"width={self.width};depth={self.depth}"
        )

    @classmethod
    def from_string(cls, text: str) -> NDSArch:
        """Parse the canonical string (see the module docstring); every field is read strictly
        (no spaces, signs or leading zeros), so only the canonical spelling parses."""
        if not isinstance(text, str):
            raise GradnasError(f"NDS arch string must be a str, got {type(text).__name__}")
        if any(ch.isspace() for ch in text):
            raise GradnasError(f"NDS arch string must not contain whitespace: {text!r}")
        keys = ("normal", "normal_concat", "reduce", "reduce_concat", "width", "depth")
        parts = text.split(";")
        if len(parts) != len(keys):
            raise GradnasError(
                f"NDS arch string needs {len(keys)} fields separated by ';' ({', '.join(keys)}), "
                f"got {len(parts)}: {text!r}"
            )
        values: dict[str, str] = {}
        for key, part in zip(keys, parts):
            name, sep, value = part.partition("=")
            if name != key or not sep:
                raise GradnasError(f"NDS arch string: expected '{key}=...', got {part!r}")
            values[key] = value
        return cls(
            _parse_cell(values["normal"], "normal"),
            _parse_ints(values["normal_concat"], "normal_concat"),
            _parse_cell(values["reduce"], "reduce"),
            _parse_ints(values["reduce_concat"], "reduce_concat"),
            *(_parse_int(values[key], key) for key in ("width", "depth")),
        )


def _parse_int(text: str, what: str) -> int:
    if not _INT.fullmatch(text):
        raise GradnasError(f"{what} must be a non-negative integer without leading zeros, got {text!r}")
    return int(text)


def _parse_ints(text: str, what: str) -> list[int]:
    return [_parse_int(t, what) for t in text.split(",")]


def _parse_cell(text: str, cell: str) -> list[tuple[str, int]]:
    pairs = []
    for n, node in enumerate(text.split(",")):
        terms = node.split("+")
        if len(terms) != 2:
            raise GradnasError(f"{cell} cell, node {2 + n}: expected 'op~state+op~state', got {node!r}")
        for term in terms:
            op, sep, state = term.partition("~")
            if not sep:
                raise GradnasError(f"{cell} cell, node {2 + n}: expected 'op~state', got {term!r}")
            pairs.append((op, _parse_int(state, f"{cell} cell, node {2 + n}: input state")))
    return pairs


def loose_ends(pairs: Sequence[Pair]) -> tuple[int, ...]:
    """The nodes no other node of the cell reads (NASNet's rule for what a cell outputs)."""
    read = {state for _, state in pairs}
    return tuple(j for j in range(2, 2 + len(pairs) // 2) if j not in read)


# ---------------------------------------------------------------- the spaces


class NDSSpace:
    """One NDS family: `parse` accepts the family's ops and node count; `sample` draws every input
    state and op uniformly, applies the family's concat rule, and draws width and depth uniformly
    from `widths` and `depths` (NDS's ranges by default; one value each fixes them)."""

    size = None  # far too many to count or list
    op_affine = True  # learnable BatchNorm scales inside the cell ops (see nds_network.OPS)

    def __init__(self, family: str, widths: Sequence[int] = WIDTHS, depths: Sequence[int] = DEPTHS) -> None:
        if family not in FAMILIES:
            raise unknown_choice("NDS family", family, FAMILIES)
        self.family = FAMILIES[family]
        self.name = f"nds_{family}"
        self.widths = tuple(positive_int(w, "width", MIN_WIDTH, MAX_WIDTH) for w in widths)
        self.depths = tuple(positive_int(d, "depth", MIN_DEPTH, MAX_DEPTH) for d in depths)
        if not self.widths or not self.depths:
            raise GradnasError(f"{self.name}: widths and depths must not be empty")

    def check(self, arch: NDSArch | str) -> NDSArch:
        """`arch` (or the arch its string spells), if it is in this family; GradnasError otherwise."""
        arch = arch_of(arch, NDSArch, self.name)
        if arch.nodes != self.family.nodes:
            raise GradnasError(f"{self.name} cells have {self.family.nodes} nodes, got {arch.nodes}")
        for cell in CELLS:
            for k, (op, _) in enumerate(getattr(arch, cell)):
                if op not in self.family.accepted:
                    raise GradnasError(
                        f"{_where(cell, k)}: {unknown_choice(f'{self.name} op', op, self.family.accepted)}"
                    )
        return arch

    def parse(self, text: str) -> NDSArch:
        return self.check(NDSArch.from_string(text))

    def format(self, arch: NDSArch | str) -> str:
        return str(self.check(arch))

    def archs(self) -> Iterator[NDSArch]:
        raise NotImplementedError(f"{self.name} is too large to enumerate; use sample()")

    @property
    def decisions(self) -> tuple[int, ...]:
        """Per cell and pair, its op (the family's sampled ops) then its input state; then the
        width and the depth: what `sample` draws, one categorical choice each."""
        ops = len(self.family.ops)
        per_cell = tuple(k for node in range(2, 2 + self.family.nodes) for k in (ops, node, ops, node))
        return per_cell * len(CELLS) + (len(self.widths), len(self.depths))

    @property
    def shapes(self) -> set[tuple[int, int]]:
        """The (width, depth) pairs this space draws."""
        return {(w, d) for w in self.widths for d in self.depths}

    def encode(self, arch: NDSArch | str) -> tuple[int, ...]:
        """The choices `decode` turns back into `arch`; GradnasError for an arch this family
        never draws (an op it only parses, a width or depth outside its ranges)."""
        arch = self.check(arch)
        pairs = [pair for cell in CELLS for pair in getattr(arch, cell)]
        ops = self.family.ops
        drawn = all(op in ops for op, _ in pairs) and (arch.width, arch.depth) in self.shapes
        if not drawn:
            raise GradnasError(
                f"{self.name} draws ops {list(ops)}, widths {list(self.widths)} and depths "
                f"{list(self.depths)}; it cannot encode {arch}"
            )
        choices = [c for op, state in pairs for c in (ops.index(op), state)]
        return (*choices, self.widths.index(arch.width), self.depths.index(arch.depth))

    def decode(self, choices: Sequence[int]) -> NDSArch:
        """The arch these choices spell, its concat by the family's rule (every choice is valid)."""
        ops, half = self.family.ops, 4 * self.family.nodes
        cells = []
        for start in (0, half):
            pairs = [(ops[int(choices[k])], int(choices[k + 1])) for k in range(start, start + half, 2)]
            cells += [pairs, self._output(pairs)]
        return NDSArch(*cells, self.widths[int(choices[-2])], self.depths[int(choices[-1])])

    def _output(self, pairs: Sequence[Pair]) -> tuple[int, ...]:
        return loose_ends(pairs) if self.family.loose_end else tuple(range(2, 2 + len(pairs) // 2))

    def sample(self, rng: np.random.Generator) -> NDSArch:
        rng = check_rng(rng)
        ops = self.family.ops
        cells = []
        for _ in CELLS:
            pairs = [
                (ops[int(rng.integers(len(ops)))], int(rng.integers(node)))
                for node in range(2, 2 + self.family.nodes)
                for _ in range(2)
            ]
            cells += [pairs, self._output(pairs)]
        width = self.widths[int(rng.integers(len(self.widths)))]
        depth = self.depths[int(rng.integers(len(self.depths)))]
        return NDSArch(*cells, width, depth)

    def sample_many(self, n: int, rng: np.random.Generator, unique: bool = True) -> list[NDSArch]:
        return sample_repeatedly(self, n, rng, unique)

    def _with(self, arch: NDSArch, cell: str, k: int, pair: Pair) -> NDSArch:
        """`arch` with pair k of `cell` replaced; an input change re-derives a loose-end concat."""
        pairs = list(getattr(arch, cell))
        rewired = pairs[k][1] != pair[1]
        pairs[k] = pair
        changes: dict[str, object] = {cell: pairs}
        if rewired and self.family.loose_end:
            changes[f"{cell}_concat"] = loose_ends(pairs)
        return replace(arch, **changes)

    def _alternatives(self, pair: Pair, k: int, ops: bool) -> list[Pair]:
        op, state = pair
        if ops:
            return [(o, state) for o in self.family.ops if o != op]
        return [(op, s) for s in range(2 + k // 2) if s != state]

    def mutate(self, arch: NDSArch | str, rng: np.random.Generator) -> NDSArch:
        """AmoebaNet's mutation: a uniform cell and pair, then with equal chance a different op
        (from the family's sampled ops) or a different input state for it. Width and depth stay."""
        arch, rng = self.check(arch), check_rng(rng)
        cell = CELLS[int(rng.integers(2))]
        k = int(rng.integers(2 * arch.nodes))
        options = self._alternatives(getattr(arch, cell)[k], k, ops=bool(rng.integers(2)))
        return self._with(arch, cell, k, options[int(rng.integers(len(options)))])

    def neighbours(self, arch: NDSArch | str) -> list[NDSArch]:
        """Every distinct arch one op change or one input change away (cell, pair, ops before
        inputs); changing either of two equal pairs of a node gives the same arch, once."""
        arch = self.check(arch)
        changed = (
            self._with(arch, cell, k, pair)
            for cell in CELLS
            for k, old in enumerate(getattr(arch, cell))
            for ops in (True, False)
            for pair in self._alternatives(old, k, ops)
        )
        return list(dict.fromkeys(changed))

    def build(
        self,
        arch: NDSArch | str,
        num_classes: int = 10,
        input_shape: tuple[int, int, int] = (3, 32, 32),
    ) -> NDSNetwork:
        """The genotype's network, freshly initialised by torch's default init. H and W must be
        >= 8: the last stage runs at H/4, and batch-of-one BatchNorm needs more than one value."""
        arch = self.check(arch)
        num_classes = positive_int(num_classes, "num_classes", 2)
        in_channels = image_shape(input_shape, 8)[0]
        return NDSNetwork(arch, num_classes, in_channels, op_affine=self.op_affine)


# zero-argument factories for the registry in spaces/base.py
nds_darts = partial(NDSSpace, "darts")
nds_enas = partial(NDSSpace, "enas")
nds_pnas = partial(NDSSpace, "pnas")
nds_nasnet = partial(NDSSpace, "nasnet")
nds_amoeba = partial(NDSSpace, "amoeba")
