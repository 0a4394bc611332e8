"""The DARTS search space at NAS-Bench-301's network (Siems et al., "NAS-Bench-301 and the Case for
Surrogate Benchmarks for Neural Architecture Search", arXiv:2008.09777).

An architecture is a DARTS genotype: a normal and a reduction cell of 4 nodes, each node summing
two (op, input state) pairs over the 7 DARTS ops (no `none`), every node concatenated. It is an
`NDSArch` with width 32 and depth 8, written in the NDS text form (see `gradnas.spaces.nds`).

The network is the one NAS-Bench-Suite-Zero scored (its `params` column, reproduced exactly by a
test over all 500 cells of its NB301 table): DARTS's NetworkCIFAR with 32 channels and 8 cells, no
auxiliary head, and BatchNorms without a learnable scale inside the cell ops (the stem and the
cells' input preprocessing keep theirs).

`parse` also reads the suite's key text, NASLib's "compact" genotype
`[[(input, op), ... 8 pairs], [... 8 pairs]]` (normal, then reduce), op codes into `COMPACT_OPS`.
"""

from __future__ import annotations

from gradnas.errors import GradnasError
from gradnas.spaces.nds import CELLS, NDSArch, NDSSpace
from gradnas.validate import int_literal

COMPACT_OPS: tuple[str, ...] = (
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
WIDTH, DEPTH, NODES = 32, 8, 4
CONCAT = tuple(range(2, 2 + NODES))


def from_compact(text: str) -> NDSArch:
    """The arch a compact genotype text writes (see the module docstring)."""
    cells = int_literal(text, "NB301 compact genotype")
    pairs_per_cell = 2 * NODES
    if not isinstance(cells, (list, tuple)) or len(cells) != len(CELLS):
        raise GradnasError(f"NB301 compact genotype must be [[normal pairs], [reduce pairs]]: {text[:80]!r}")
    decoded = []
    for cell, pairs in zip(CELLS, cells):
        if not isinstance(pairs, (list, tuple)) or len(pairs) != pairs_per_cell:
            raise GradnasError(
                f"NB301 compact genotype: the {cell} cell needs {pairs_per_cell} (input, op) pairs"
            )
        for pair in pairs:
            if not (
                isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(v, int) for v in pair)
            ):
                raise GradnasError(f"NB301 compact genotype: {cell} cell: expected (input, op), got {pair!r}")
            if pair[1] >= len(COMPACT_OPS):
                codes = ", ".join(f"{i} = {n}" for i, n in enumerate(COMPACT_OPS))
                raise GradnasError(
                    f"NB301 compact genotype: {cell} cell: unknown op code {pair[1]} ({codes})"
                )
        decoded.append([(COMPACT_OPS[op], state) for state, op in pairs])
    return NDSArch(decoded[0], CONCAT, decoded[1], CONCAT, WIDTH, DEPTH)


def to_compact(arch: NDSArch) -> str:
    """The compact genotype text of `arch` (each node's pairs in the arch's canonical order)."""
    cells = [[(state, COMPACT_OPS.index(op)) for op, state in getattr(arch, cell)] for cell in CELLS]
    return str(cells)


class NB301Space(NDSSpace):
    """NDS's DARTS family with NAS-Bench-301's fixed network: width 32, depth 8, no `none`,
    every node concatenated; sampling, mutation and `build` as in `NDSSpace`, with the cell
    ops' BatchNorms non-affine (NAS-Bench-Suite-Zero's network, see the module docstring)."""

    op_affine = False

    def __init__(self) -> None:
        super().__init__("darts", widths=(WIDTH,), depths=(DEPTH,))
        self.name = "nb301"

    def check(self, arch: NDSArch | str) -> NDSArch:
        if isinstance(arch, str) and arch.lstrip().startswith("["):
            arch = from_compact(arch)
        arch = super().check(arch)
        if (arch.width, arch.depth) != (WIDTH, DEPTH):
            raise GradnasError(
                f"nb301 archs have width {WIDTH} and depth {DEPTH}, got {arch.width}, {arch.depth}"
            )
        if arch.normal_concat != CONCAT or arch.reduce_concat != CONCAT:
            raise GradnasError(f"nb301 cells concatenate every node {list(CONCAT)}")
        if any(op == "none" for cell in CELLS for op, _ in getattr(arch, cell)):
            raise GradnasError("nb301 has no 'none' op; ops are " + ", ".join(COMPACT_OPS))
        return arch

    def parse(self, text: str) -> NDSArch:
        """The NDS text form or a compact genotype (see the module docstring)."""
        return self.check(text)
