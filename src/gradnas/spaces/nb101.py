"""The NAS-Bench-101 cell space (Ying et al., ICML 2019, arXiv 1902.09635): DAG cells of at most 7 vertices.

A cell is an upper-triangular adjacency matrix over vertices 0 (input) .. V-1 (output) plus one
op per interior vertex (conv3x3-bn-relu, conv1x1-bn-relu, maxpool3x3), with at most 9 edges.
Two specs describe the same network when they are equal after *pruning* (dropping vertices off
every input→output path) and *relabelling* interior vertices, so `NB101Arch` stores the pruned
cell in a canonical labelling: equality, hashing and the text form are those of the isomorphism
class, and benchmark rows for relabelled copies of one cell find each other.

Text form (what `format` writes; `parse` also reads any labelling and the long op names)::

    ops=conv3x3,conv1x1,maxpool3x3;edges=0-1,0-2,1-3,2-4,3-4

`ops` lists the interior vertices 1..V-2 in order, `edges` the pairs i-j (i < j) of the matrix.

`parse` also reads NAS-Bench-Suite-Zero's key text: a tuple of 56 integers, the 7×7 adjacency
matrix row by row, then the 7 vertex op codes (`SUITE_ZERO_CODES`); an interior vertex with no
edges is padding whatever its code.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from gradnas.errors import GradnasError, unknown_choice
from gradnas.spaces.base import arch_of, sample_repeatedly
from gradnas.spaces.nb101_network import NB101Network
from gradnas.validate import check_rng, image_shape, int_literal, positive_int

OPS: tuple[str, ...] = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
SHORT: dict[str, str] = {
    "conv3x3-bn-relu": "conv3x3",
    "conv1x1-bn-relu": "conv1x1",
    "maxpool3x3": "maxpool3x3",
}
_BY_NAME: dict[str, int] = {
    **{n: i for i, n in enumerate(OPS)},
    **{s: OPS.index(n) for n, s in SHORT.items()},
}
MAX_VERTICES = 7
_EDGE = re.compile(r"([0-9]+)-([0-9]+)")
MAX_EDGES = 9
NUM_CELLS = 423_624  # distinct cells (isomorphism classes) in the space, as counted by the benchmark


# NAS-Bench-Suite-Zero's vertex op codes, as its NB101 keys write them
SUITE_ZERO_CODES: tuple[str, ...] = ("input", "output", "maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu")


def spec_from_key(text: str) -> tuple[np.ndarray, list[str]]:
    """The (7×7 matrix, 7 op names) spec a Suite-Zero NB101 key writes, in the key's own vertex
    labelling, with padding vertices (interior, no edges) dropped; GradnasError naming the fault."""
    values = int_literal(text, "NB101 Suite-Zero key")
    size = MAX_VERTICES
    if not isinstance(values, tuple) or len(values) != size * size + size:
        raise GradnasError(f"NB101 Suite-Zero key must be a tuple of {size * size + size} integers: {text!r}")
    if not all(isinstance(v, int) for v in values):
        raise GradnasError(f"NB101 Suite-Zero key must hold integers only: {text!r}")
    matrix = np.array(values[: size * size], dtype=np.int64).reshape(size, size)
    codes = values[size * size :]
    if any(c >= len(SUITE_ZERO_CODES) for c in codes):
        raise GradnasError(
            f"NB101 Suite-Zero key: op codes must be in 0..{len(SUITE_ZERO_CODES) - 1} "
            f"({', '.join(f'{i} = {n}' for i, n in enumerate(SUITE_ZERO_CODES))}), got {list(codes)}"
        )
    linked = matrix.any(axis=0) | matrix.any(axis=1)
    keep = [v for v in range(size) if v in (0, size - 1) or linked[v] or codes[v] >= 2]
    return matrix[np.ix_(keep, keep)], [SUITE_ZERO_CODES[codes[v]] for v in keep]


def prune_spec(matrix: np.ndarray, ops: Sequence[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    """The spec with the vertices off every input→output path dropped, *keeping* its labelling.

    The benchmark's channel rule splits a cell's width over the vertices feeding the output in
    vertex order, so relabelling can move a rounding remainder between vertices of different ops:
    this is the network the benchmark built for the spec as written (`NB101Arch` is canonical)."""
    NB101Arch.from_spec(matrix, ops)  # the same checks as any spec
    m = np.asarray(matrix)
    keep = _prune(len(m), {(int(i), int(j)) for i, j in zip(*np.nonzero(m))})
    return m[np.ix_(keep, keep)].astype(np.uint8), tuple(ops[v] for v in keep)


def _op_code(name: object) -> int:
    if not isinstance(name, str) or name not in _BY_NAME:
        raise unknown_choice("NB101 op", name, [*OPS, *SHORT.values()])
    return _BY_NAME[name]


def _reachable(start: int, step: dict[int, list[int]]) -> set[int]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in step.get(todo.pop(), []):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _prune(size: int, edges: set[tuple[int, int]]) -> list[int]:
    """The vertices on some input→output path, in order; GradnasError if there is no such path."""
    out_of: dict[int, list[int]] = {}
    into: dict[int, list[int]] = {}
    for i, j in edges:
        out_of.setdefault(i, []).append(j)
        into.setdefault(j, []).append(i)
    keep = _reachable(0, out_of) & _reachable(size - 1, into)
    if size - 1 not in keep:
        raise GradnasError("NB101 cell has no path from the input (vertex 0) to the output")
    return sorted(keep)


def _canonical(ops: tuple[int, ...], edges: frozenset[tuple[int, int]]) -> tuple[tuple[int, ...], tuple]:
    """The smallest (ops, edges) encoding over every topological relabelling of interior vertices.

    Isomorphic cells have the same set of relabellings, hence the same minimum; at most 5! = 120
    orders are tried."""
    inner = len(ops)
    last = inner + 1
    best = None
    for order in itertools.permutations(range(1, last)):  # order[k] = old vertex given label k + 1
        label = {0: 0, last: last, **{old: k + 1 for k, old in enumerate(order)}}
        if any(label[i] >= label[j] for i, j in edges):
            continue
        code = (tuple(ops[old - 1] for old in order), tuple(sorted((label[i], label[j]) for i, j in edges)))
        if best is None or code < best:
            best = code
    return best


@dataclass(frozen=True)
class NB101Arch:
    """A pruned NB101 cell in canonical labelling (see the module docstring).

    Build one with `from_spec(matrix, ops)` or `NB101Space.parse`; `ops` are interior op codes
    (indices into OPS) and `edges` the (i, j) pairs of the adjacency matrix, i < j.
    """

    ops: tuple[int, ...]
    edges: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        """Only pruned cells in canonical labelling, so equal cells are equal objects."""
        size = len(self.ops) + 2
        if not all(isinstance(c, int) and 0 <= c < len(OPS) for c in self.ops):
            raise GradnasError(f"NB101 op codes must be ints in 0..{len(OPS) - 1}, got {self.ops}")
        if not all(0 <= i < j < size for i, j in self.edges):
            raise GradnasError(f"NB101 edges must be pairs i < j of the {size} vertices, got {self.edges}")
        kept = _prune(size, set(self.edges))
        if len(kept) != size or _canonical(self.ops, frozenset(self.edges)) != (self.ops, self.edges):
            raise GradnasError(
                "NB101Arch holds a pruned cell in canonical labelling; build one with "
                "NB101Arch.from_spec(matrix, ops) or NB101Space.parse(text)"
            )

    @classmethod
    def from_spec(cls, matrix: Sequence[Sequence[int]] | np.ndarray, ops: Sequence[str | int]) -> NB101Arch:
        """From a benchmark spec: a V×V 0/1 upper-triangular matrix and V ops, `input` first and
        `output` last (names, or codes into OPS for interior vertices); pruned and canonicalised."""
        m = np.asarray(matrix)
        if m.ndim != 2 or m.shape[0] != m.shape[1] or not 2 <= m.shape[0] <= MAX_VERTICES:
            raise GradnasError(f"NB101 matrix must be V×V with 2 <= V <= {MAX_VERTICES}, got shape {m.shape}")
        if not np.isin(m, (0, 1)).all():
            raise GradnasError("NB101 matrix entries must be 0 or 1")
        if np.tril(m).any():
            raise GradnasError("NB101 matrix must be strictly upper-triangular (edges i→j with i < j)")
        size = m.shape[0]
        if len(ops) != size:
            raise GradnasError(f"NB101 spec has a {size}×{size} matrix but {len(ops)} ops")
        if ops[0] != "input" or ops[-1] != "output":
            raise GradnasError(f"NB101 ops must start with 'input' and end with 'output', got {list(ops)}")
        codes = [
            op if isinstance(op, (int, np.integer)) and 0 <= op < len(OPS) else _op_code(op)
            for op in ops[1:-1]
        ]
        edges = {(int(i), int(j)) for i, j in zip(*np.nonzero(m))}
        return cls._pruned(size, tuple(int(c) for c in codes), edges)

    @classmethod
    def _pruned(cls, size: int, codes: tuple[int, ...], edges: set[tuple[int, int]]) -> NB101Arch:
        keep = _prune(size, edges)
        new = {old: k for k, old in enumerate(keep)}
        kept = frozenset((new[i], new[j]) for i, j in edges if i in new and j in new)
        if len(kept) > MAX_EDGES:
            raise GradnasError(f"NB101 cell has {len(kept)} edges after pruning; at most {MAX_EDGES} allowed")
        ops, canon = _canonical(tuple(codes[old - 1] for old in keep[1:-1]), kept)
        return cls(ops, canon)

    @classmethod
    def from_string(cls, text: str) -> NB101Arch:
        """Parse the text form (any labelling, short or long op names); see the module docstring."""
        if not isinstance(text, str):
            raise GradnasError(f"NB101 arch string must be a str, got {type(text).__name__}")
        parts = dict(part.partition("=")[::2] for part in text.strip().split(";"))
        if set(parts) != {"ops", "edges"} or text.count(";") != 1:
            raise GradnasError(f"NB101 arch string must read 'ops=...;edges=i-j,...', got {text!r}")
        names = parts["ops"].split(",") if parts["ops"] else []
        size = len(names) + 2
        if size > MAX_VERTICES:
            raise GradnasError(f"NB101 cell has {size} vertices; at most {MAX_VERTICES} allowed: {text!r}")
        pairs = parts["edges"].split(",") if parts["edges"] else []
        edges = set()
        for pair in pairs:
            found = _EDGE.fullmatch(pair)
            if not (found and int(found[1]) < int(found[2]) < size):
                raise GradnasError(
                    f"NB101 edge must read i-j with 0 <= i < j < {size}, got {pair!r} in {text!r}"
                )
            edges.add((int(found[1]), int(found[2])))
        if len(edges) != len(pairs):
            raise GradnasError(f"NB101 arch string lists an edge twice: {text!r}")
        return cls._pruned(size, tuple(_op_code(n) for n in names), edges)

    @property
    def num_vertices(self) -> int:
        return len(self.ops) + 2

    @property
    def matrix(self) -> np.ndarray:
        """The V×V adjacency matrix (uint8)."""
        m = np.zeros((self.num_vertices, self.num_vertices), dtype=np.uint8)
        for i, j in self.edges:
            m[i, j] = 1
        return m

    @property
    def op_names(self) -> tuple[str, ...]:
        """The V ops in the benchmark's spelling, `input` first and `output` last."""
        return ("input", *(OPS[c] for c in self.ops), "output")

    def fingerprint(self) -> str:
        """NAS-Bench-101's hash of this cell (see `fingerprint`)."""
        return fingerprint(self.matrix, [-1, *self.ops, -2])

    def __str__(self) -> str:
        ops = ",".join(SHORT[OPS[c]] for c in self.ops)
        return f"ops={ops};edges=" + ",".join(f"{i}-{j}" for i, j in self.edges)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def fingerprint(matrix: np.ndarray, labels: Sequence[int]) -> str:
    """NAS-Bench-101's graph hash of a pruned cell in any labelling: per-vertex hashes of
    (out-degree, in-degree, label), refined V times with the sorted hashes of in- and
    out-neighbours, then an MD5 of the sorted vertex hashes. `labels`: -1 for the input, -2 for
    the output, op codes (indices into OPS) between."""
    m = np.asarray(matrix)
    size = len(m)
    rows = zip(m.sum(axis=1).tolist(), m.sum(axis=0).tolist(), [int(x) for x in labels])
    hashes = [_md5(str(row)) for row in rows]
    for _ in range(size):
        hashes = [
            _md5(
                "".join(sorted(hashes[w] for w in range(size) if m[w, v]))
                + "|"
                + "".join(sorted(hashes[w] for w in range(size) if m[v, w]))
                + "|"
                + hashes[v]
            )
            for v in range(size)
        ]
    return _md5(str(sorted(hashes)))


def as_arch(arch: NB101Arch | str) -> NB101Arch:
    return arch_of(arch, NB101Arch, "nb101")


def _valid(size: int, ops: Sequence[int], edges: set[tuple[int, int]]) -> Iterator[NB101Arch]:
    """The cell these make, if it is a valid one (nothing otherwise)."""
    try:
        yield NB101Arch._pruned(size, tuple(ops), edges)
    except GradnasError:
        return


def _edited(arch: NB101Arch) -> Iterator[NB101Arch]:
    """Every valid cell one edit away: an edge added or removed (what it disconnects is pruned),
    an interior op changed, or, below 7 vertices, a new vertex with any op on a new path i → v → j."""
    size, ops, edges = arch.num_vertices, list(arch.ops), set(arch.edges)
    for pair in itertools.combinations(range(size), 2):
        yield from _valid(size, ops, edges ^ {pair})
    for v, op in enumerate(ops):
        for other in range(len(OPS)):
            if other != op:
                yield from _valid(size, [*ops[:v], other, *ops[v + 1 :]], edges)
    if size == MAX_VERTICES:
        return
    for i, j in itertools.combinations(range(size), 2):
        shift = {k: k + (k > i) for k in range(size)}  # the new vertex is i + 1
        moved = {(shift[a], shift[b]) for a, b in edges} | {(i, i + 1), (i + 1, shift[j])}
        for op in range(len(OPS)):
            yield from _valid(size + 1, [*ops[:i], op, *ops[i:]], moved)


_PAIRS = tuple(itertools.combinations(range(MAX_VERTICES), 2))  # the 21 entries above the diagonal


class NB101Space:
    """NAS-Bench-101: archs are canonical `NB101Arch` cells; too many to list (423,624)."""

    name = "nb101"
    size = NUM_CELLS
    ops = OPS
    # the benchmark's own encoding: each of the 21 matrix entries on or off, then 5 interior ops
    decisions = (2,) * len(_PAIRS) + (len(OPS),) * (MAX_VERTICES - 2)

    def encode(self, arch: NB101Arch | str) -> tuple[int, ...]:
        """The cell as a 7-vertex spec: its interior vertices first, unused ones left without
        edges (op 0), its output moved to vertex 6."""
        arch = as_arch(arch)
        last = arch.num_vertices - 1
        edges = {(i, MAX_VERTICES - 1 if j == last else j) for i, j in arch.edges}
        padding = (0,) * (MAX_VERTICES - arch.num_vertices)
        return tuple(int(pair in edges) for pair in _PAIRS) + arch.ops + padding

    def decode(self, choices: Sequence[int]) -> NB101Arch | None:
        bits, ops = choices[: len(_PAIRS)], tuple(int(c) for c in choices[len(_PAIRS) :])
        return next(_valid(MAX_VERTICES, ops, {p for p, bit in zip(_PAIRS, bits) if bit}), None)

    def parse(self, text: str) -> NB101Arch:
        """The text form (any labelling) or a Suite-Zero key (see the module docstring)."""
        if isinstance(text, str) and text.lstrip().startswith("("):
            return NB101Arch.from_spec(*spec_from_key(text))
        return NB101Arch.from_string(text)

    def format(self, arch: NB101Arch | str) -> str:
        return str(as_arch(arch))

    def archs(self) -> Iterator[NB101Arch]:
        raise NotImplementedError(
            "the NB101 space (423,624 cells) is not enumerated here; sample it, or score the "
            "cells of a benchmark file (gradnas correlate --benchmark FILE.npz)"
        )

    def sample(self, rng: np.random.Generator) -> NB101Arch:
        """The benchmark's random-search draw: each of the 21 matrix entries on with probability
        1/2 and uniform interior ops, redrawn until valid. Uniform over 7-vertex specs, so cells
        with many equivalent specs come up more often than under uniform draws of benchmark rows."""
        rng = check_rng(rng)
        while True:
            on = rng.random(len(_PAIRS)) < 0.5
            ops = tuple(int(c) for c in rng.integers(len(OPS), size=MAX_VERTICES - 2))
            arch = self.decode((*on, *ops))
            if arch is not None:
                return arch

    def sample_many(self, n: int, rng: np.random.Generator, unique: bool = True) -> list[NB101Arch]:
        return sample_repeatedly(self, n, rng, unique)

    def neighbours(self, arch: NB101Arch | str) -> list[NB101Arch]:
        """The distinct valid cells one edit away (an edge flipped, an op changed, or a vertex
        added on a new path), in a fixed order; never `arch` itself."""
        arch = as_arch(arch)
        return [a for a in dict.fromkeys(_edited(arch)) if a != arch]

    def mutate(self, arch: NB101Arch | str, rng: np.random.Generator) -> NB101Arch:
        """A uniform draw from `neighbours`."""
        options = self.neighbours(arch)
        return options[int(check_rng(rng).integers(len(options)))]

    def build(
        self,
        arch: NB101Arch | str,
        num_classes: int = 10,
        input_shape: tuple[int, int, int] = (3, 32, 32),
        stem_channels: int = 128,
        stacks: int = 3,
        cells_per_stack: int = 3,
    ) -> NB101Network:
        """The benchmark's network (128-channel stem, 3 stacks × 3 cells), freshly initialised.
        H and W must be at least 2**stacks, so the last stack still holds 2×2 values (batch-of-one
        BatchNorm needs more than one per channel)."""
        arch = as_arch(arch)
        stacks = positive_int(stacks, "stacks", 1)
        in_channels = image_shape(input_shape, 2**stacks)[0]
        return NB101Network(
            arch.matrix,
            arch.op_names,
            positive_int(num_classes, "num_classes", 2),
            in_channels,
            positive_int(stem_channels, "stem_channels", 1),
            stacks,
            positive_int(cells_per_stack, "cells_per_stack", 1),
        )
