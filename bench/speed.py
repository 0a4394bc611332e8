"""How much does scoring an architecture cost, relative to one ordinary training step?

For the same seeded random architectures of a space (NAS-Bench-201 unless ``--space``) and one
probe batch, this times, on the CPU it runs on:

  (a) batched    one batched forward + backward of the probe batch in train mode
                 (``F.cross_entropy(model(x), y).backward()``) -- the unit of cost;
  (b) loop       the per-sample reference: n batch-of-one forward/backward passes producing the
                 per-sample gradients of every scored parameter (``loop_blocks`` on a probe copy,
                 drained; the copy is included, as the engine pays for it too);
  (c) nine       ``score(model, batch, SEED_PROXIES)`` with the default engine -- all nine seed
                 proxies from one shared per-sample pass;
  (d) gradsign   ``score(model, batch, ["gradsign"])`` alone, to show one proxy against nine;
  (e) apart9     the reference tools' style: for each of the nine proxies, a fresh network (built
                 and initialised again, as foresight and NASLib do) and its own ``score`` call;
  (f) fast9      optionally (``--compare-engines``), the nine proxies with ``engine="fast"``;
  (g) loop9      and with ``engine="loop"`` (``auto`` picks one of the two per model).

Absolute seconds depend on the machine, its load and the thread count, so the figures that
matter are the *ratios* to (a), measured in the same run on the same model a moment apart. The
targets are in TARGETS (nine proxies and GradSign alone, per space). Each architecture's model is built after
``torch.manual_seed(seed)``; the first architecture is run once untimed as a warm-up; with
``--repeats R`` each timing is the minimum of R runs. On a machine shared with other jobs,
``--threads 1`` keeps torch's worker threads from fighting them for cores (which inflates some
timings many-fold at random); process CPU seconds are recorded beside wall seconds as a check.

    python bench/speed.py --archs 20 --batch-size 128 --dataset cifar10
    python bench/speed.py --space nb101 --archs 10 --batch-size 128 --dataset cifar10
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gradnas.data import probe_batch
from gradnas.proxies import SEED_PROXIES, score
from gradnas.proxies.persample import loop_blocks, probe_copy, scored_parameter_names
from gradnas.run.tasks import build_model
from gradnas.spaces import get_space

# Timed stages, in column order; ratios are taken against "batched".
STAGES = ["batched", "loop", "nine", "gradsign", "apart9", "fast9", "loop9"]
OPTIONAL = ("fast9", "loop9")
# (nine proxies, GradSign alone): the largest ratios to one batched pass this project aims for
TARGETS = {"nb201": (1.5, 1.25), "text": (2.5, None), "nb101": (2.0, None)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--space", default="nb201", help="search space to sample from (default: nb201)")
    p.add_argument("--archs", type=int, default=20, help="number of random architectures")
    p.add_argument("--batch-size", type=int, default=128, help="probe batch size")
    p.add_argument("--dataset", default="cifar10", help="probe dataset (cifar10, digits, synthetic, ...)")
    p.add_argument("--seed", type=int, default=0, help="seed for the archs, the batch, model init, proxies")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--repeats", type=int, default=1, help="runs per timing; the minimum is kept")
    p.add_argument("--out", default="results/speed.csv", help="CSV of per-architecture rows")
    p.add_argument(
        "--compare-engines", action="store_true",
        help="also time the nine proxies with engine='fast' and with engine='loop' (slow)",
    )
    return p.parse_args(argv)


# --------------------------------------------------------------------------- the timed work


def batched_pass(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    model.train()
    F.cross_entropy(model(x), y).backward()


def reference_loop(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    copy = probe_copy(model, torch.float32)
    for _ in loop_blocks(copy, x, y, scored_parameter_names(model)):
        pass


class ScoreRun:
    """Calls `score` and remembers which proxies came back undefined and any engine warning."""

    def __init__(self, proxies, engine: str, seed: int):
        self.proxies, self.engine, self.seed = list(proxies), engine, seed
        self.undefined: list[str] = []
        self.warnings: list[str] = []

    def __call__(self, model: nn.Module, batch) -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scores = score(model, batch, self.proxies, engine=self.engine, seed=self.seed)
        self.undefined = [name for name, s in scores.items() if not s.ok]
        self.warnings = [str(w.message) for w in caught]


Work = Callable[[], None]


def timed(fn: Work, repeats: int, before: Work | None = None) -> tuple[float, float]:
    """Wall-clock and process-CPU seconds of the fastest of `repeats` runs of `fn`; `before` runs
    untimed before each. CPU seconds are a cross-check: on a shared machine the wall clock also
    counts time spent waiting for a core."""
    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        if before is not None:
            before()
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def apart(build: Callable[[], nn.Module], batch, seed: int) -> None:
    """The nine proxies as the reference tools compute them: a fresh network and pass each."""
    for name in SEED_PROXIES:
        score(build(), batch, [name], seed=seed)


def measure(
    model: nn.Module, batch, args: argparse.Namespace, build: Callable[[], nn.Module]
) -> dict[str, object]:
    """Seconds for every stage on `model` (`build` makes a fresh copy of it), plus what the
    scoring reported."""
    x, y = (batch.x if batch.is_tokens else batch.x.float()), batch.y

    def zero_grads() -> None:
        model.zero_grad(set_to_none=True)

    nine = ScoreRun(SEED_PROXIES, "auto", args.seed)
    one = ScoreRun(["gradsign"], "auto", args.seed)
    work: dict[str, tuple[Work, Work | None]] = {
        "batched": (lambda: batched_pass(model, x, y), zero_grads),
        "loop": (lambda: reference_loop(model, x, y), zero_grads),
        "nine": (lambda: nine(model, batch), None),
        "gradsign": (lambda: one(model, batch), None),
        "apart9": (lambda: apart(build, batch, args.seed), None),
    }
    if args.compare_engines:
        fast9, loop9 = ScoreRun(SEED_PROXIES, "fast", args.seed), ScoreRun(SEED_PROXIES, "loop", args.seed)
        work["fast9"] = (lambda: fast9(model, batch), None)
        work["loop9"] = (lambda: loop9(model, batch), None)
    row: dict[str, object] = {}
    for key, (fn, before) in work.items():
        row[key], row[f"{key}_cpu"] = timed(fn, args.repeats, before)
    zero_grads()
    row["undefined"] = ";".join(nine.undefined)
    row["engine_warning"] = " | ".join(nine.warnings + one.warnings)
    return row


# --------------------------------------------------------------------------- reporting


def load_average() -> str:
    """The 1/5/15-minute load averages: other work on the machine inflates wall-clock times."""
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except (AttributeError, OSError):
        return "n/a"


def short_arch(text: str) -> str:
    """`|nor_conv_3x3~0|+|none~0|skip_connect~1|+...` -> `c3/z,s/...`: the six ops, cell by cell."""
    abbrev = {"none": "z", "skip_connect": "s", "nor_conv_1x1": "c1", "nor_conv_3x3": "c3",
              "avg_pool_3x3": "p"}
    nodes = []
    for node in text.split("+"):
        ops = [tok.split("~")[0] for tok in node.strip("|").split("|")]
        nodes.append(",".join(abbrev.get(op, op) for op in ops))
    return "/".join(nodes)


def summarize(rows: list[dict[str, object]], stages: list[str], space: str) -> list[str]:
    base = [float(r["batched"]) for r in rows]
    lines = [f"summary over {len(rows)} archs (seconds per arch; ratios to one batched forward+backward)"]
    for key in stages:
        secs = [float(r[key]) for r in rows]
        line = f"  {key:<9} mean {statistics.fmean(secs):8.3f} s"
        if key != "batched":
            ratios = [s / b for s, b in zip(secs, base)]
            line += (
                f"   total ratio {sum(secs) / sum(base):6.2f}x   median {statistics.median(ratios):6.2f}x"
                f"   min {min(ratios):6.2f}x   max {max(ratios):6.2f}x"
            )
        lines.append(line)
    cpu_base = sum(float(r["batched_cpu"]) for r in rows)
    cpu = [f"{key} {sum(float(r[key + '_cpu']) for r in rows) / cpu_base:.2f}x" for key in stages[1:]]
    lines.append("  total ratios by process CPU time instead: " + ", ".join(cpu))
    nine_target, one_target = TARGETS.get(space, (3.0, None))
    for key, target in (("nine", nine_target), ("gradsign", one_target)):
        if target is not None:
            ratio = sum(float(r[key]) for r in rows) / sum(base)
            verdict = "met" if ratio <= target else "NOT met"
            lines.append(f"  target: {key} <= {target}x batched -> {ratio:.2f}x ({verdict})")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print("$ python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])]))
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.dataset} batch of {args.batch_size}, {args.archs} archs, seed {args.seed}, "
          f"repeats {args.repeats}, load average {load_average()}")

    space = get_space(args.space)
    batch = probe_batch(args.dataset, batch_size=args.batch_size, seed=args.seed)
    archs = space.sample_many(args.archs, np.random.default_rng(args.seed), unique=True)
    stages = [key for key in STAGES if key not in OPTIONAL or args.compare_engines]

    def build(arch) -> nn.Module:
        return build_model(args.space, space.format(arch), batch, args.seed)

    warm = argparse.Namespace(**{**vars(args), "repeats": 1})
    start = time.perf_counter()
    measure(build(archs[0]), batch, warm, lambda: build(archs[0]))
    print(f"warm-up on the first arch: {time.perf_counter() - start:.1f} s (not counted)\n")

    width = 26 if args.space == "nb201" else 60
    header = f"{'#':>3} {'arch':<{width}} {'params':>7}" + "".join(f" {k:>9}" for k in stages)
    header += "".join(f" {k + '/b':>11}" for k in stages if k != "batched")
    print(header)
    rows = []
    for i, arch in enumerate(archs):
        model = build(arch)
        params = sum(p.numel() for p in model.parameters())
        row = {"index": i, "arch": space.format(arch), "params_m": params / 1e6}
        row.update(measure(model, batch, args, partial(build, arch)))
        for key in stages:
            if key != "batched":
                row[f"{key}_ratio"] = float(row[key]) / float(row["batched"])
        rows.append(row)
        text = short_arch(str(row["arch"])) if args.space == "nb201" else str(row["arch"])
        line = f"{i:>3} {text:<{width}} {row['params_m']:6.3f}M"
        line += "".join(f" {float(row[k]):8.3f}s" for k in stages)
        line += "".join(f" {float(row[k + '_ratio']):10.2f}x" for k in stages if k != "batched")
        flags = [f"undefined: {row['undefined']}"] if row["undefined"] else []
        flags += [f"warning: {row['engine_warning']}"] if row["engine_warning"] else []
        print(line + ("   " + "; ".join(flags) if flags else ""), flush=True)

    print()
    print("\n".join(summarize(rows, stages, args.space)))

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fields = ["index", "arch", "params_m", *stages, *(f"{k}_ratio" for k in stages if k != "batched"),
              *(f"{k}_cpu" for k in stages), "undefined", "engine_warning"]
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    print(f"\nload average at the end: {load_average()}; per-arch rows written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
