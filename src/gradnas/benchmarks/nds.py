"""NDS ground truth (Radosavovic et al. 2019) from the released ``.json`` files, e.g. ``DARTS.json``.

A file holds a JSON list of records (or ``{"top": [...], "mid": [...]}``, as some released files
do; both parts are read). Each record has

- ``net``: ``{"genotype": {"normal": [[op, state], ...], "normal_concat": [...], "reduce": [...],
  "reduce_concat": [...]}, "width": w, "depth": d, ...}``;
- ``test_ep_top1``: the per-epoch top-1 test *error* in %; the accuracy is 100 − the last entry.

Other fields (optim, train curves, params, flops ...) are ignored. Archs are stored as the NDS
spaces' canonical strings (see `gradnas.spaces.nds`), which do not depend on the family; which
family checks a record (op set, nodes per cell) is, in order: the ``space`` argument, the family
the file name starts with (NDS's own names: ``DARTS``, ``ENAS``, ``PNAS``, ``NASNet``, ``Amoeba``,
e.g. ``ENAS_fix-w-d.json``), else per record the family with the fewest ops that accepts it.
Records of the same arch (e.g. trained with other hyperparameters) are averaged.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pandas as pd

from gradnas.benchmarks.suite_zero import read_json
from gradnas.benchmarks.table import TableBenchmark
from gradnas.errors import GradnasError, unknown_choice
from gradnas.spaces import get_space
from gradnas.spaces.nds import FAMILIES, NDSArch, NDSSpace

GENOTYPE_KEYS = ("normal", "normal_concat", "reduce", "reduce_concat")
SPACES = tuple(f"nds_{family}" for family in FAMILIES)


def _field(mapping: object, key: str, what: str) -> object:
    """``mapping[key]``; GradnasError naming ``what`` (the part of the record) otherwise."""
    if not isinstance(mapping, dict):
        raise GradnasError(f"{what} must be a JSON object, got {type(mapping).__name__}")
    if key not in mapping:
        raise GradnasError(f"{what} has no {key!r}; it has {', '.join(map(repr, mapping)) or 'no keys'}")
    return mapping[key]


def _read_records(path: Path) -> list:
    where = f"NDS benchmark {str(path)!r}"
    raw = read_json(path, "NDS benchmark")
    if isinstance(raw, dict) and all(isinstance(raw.get(part), list) for part in ("top", "mid")):
        raw = raw["top"] + raw["mid"]
    if not isinstance(raw, list):
        raise GradnasError(f"{where} must hold a JSON list of records, got {type(raw).__name__}")
    if not raw:
        raise GradnasError(f"{where} holds no records")
    return raw


def _record(record: object) -> tuple[NDSArch, float]:
    """The arch and final test accuracy of one record."""
    net = _field(record, "net", "the record")
    genotype = _field(net, "genotype", "net")
    cells = [_field(genotype, key, "net.genotype") for key in GENOTYPE_KEYS]
    arch = NDSArch(*cells, _field(net, "width", "net"), _field(net, "depth", "net"))
    errors = _field(record, "test_ep_top1", "the record")
    if not isinstance(errors, list) or not errors:
        raise GradnasError(f"test_ep_top1 must be a non-empty list of error %, got {errors!r}")
    last = errors[-1]
    if isinstance(last, bool) or not isinstance(last, (int, float)) or not 0 <= last <= 100:
        raise GradnasError(f"the last test_ep_top1 must be an error % in [0, 100], got {last!r}")
    return arch, 100.0 - last


def _family_of(arch: NDSArch, spaces: list[NDSSpace]) -> str:
    """The first of `spaces` that accepts `arch` (its canonical string, so it must round-trip)."""
    reasons: list[GradnasError] = []
    for space in spaces:
        try:
            space.parse(str(arch))
            return space.name
        except GradnasError as why:
            reasons.append(why)
    if len(reasons) == 1:
        raise reasons[0]
    raise GradnasError(
        "fits no NDS family (" + "; ".join(f"{s.name}: {r}" for s, r in zip(spaces, reasons)) + ")"
    )


def _spaces(path: Path, space: str | None) -> list[NDSSpace]:
    """The spaces a record may belong to, in the order tried (see the module docstring)."""
    if space is not None:
        if space not in SPACES:
            raise unknown_choice("NDS space", space, SPACES)
        return [get_space(space)]
    file_name = path.name.lower()
    named = [name for name in SPACES if file_name.startswith(name.removeprefix("nds_"))]
    if named:
        return [get_space(named[0])]
    return sorted((get_space(name) for name in SPACES), key=lambda s: len(s.family.ops))


def load_nds(path: str | os.PathLike, dataset: str = "cifar10", space: str | None = None) -> TableBenchmark:
    """The NDS benchmark in the ``.json`` at ``path``: test accuracy (%) as column ``dataset``.
    GradnasError naming the record index for any malformed record."""
    path = Path(path)
    if not isinstance(dataset, str) or not dataset or dataset == "arch":
        raise GradnasError(f"dataset must be a non-empty column name other than 'arch', got {dataset!r}")
    spaces = _spaces(path, space)
    archs, accuracies, families = [], [], Counter()
    for i, record in enumerate(_read_records(path)):
        try:
            arch, accuracy = _record(record)
            families[_family_of(arch, spaces)] += 1
        except GradnasError as why:
            raise GradnasError(f"NDS record {i} of {path.name}: {why}") from why
        archs.append(str(arch))
        accuracies.append(accuracy)
    frame = (
        pd.DataFrame({"arch": archs, dataset: accuracies}).groupby("arch", sort=False, as_index=False).mean()
    )
    found = ", ".join(f"{name}: {n}" for name, n in families.items())
    description = (
        f"NDS from {path.name}: {len(archs)} records ({found}), {len(frame)} distinct archs; "
        "test accuracy = 100 - final test_ep_top1, averaged over records of one arch"
    )
    return TableBenchmark(frame, path.stem, description, metric="test_accuracy")
