"""How often, and how closely, does each rule's hypergradient estimate point the way of the exact one?

Real small problems: an NB201 supernet with tiny C and N (at most 4096 weights, so the explicit
Hessian is affordable) in float64 on downsampled CIFAR-10 batches, moved along a short first-order
search with DARTS's optimizers. At several points of each trajectory (every `--every` steps, from the
initialisation on) and for several seeds, on a fresh (train, val) batch pair, each rule's estimate of
g2 is compared with the exact g2 = −M · H⁺ · ∇_w L_val (`exact_g2`: pseudo-inverse of the explicit
Hessian H = ∇²_w L_train; M = ∇²_{α,w} L_train):

  amended     −η · M · H · ∇_w L_val, exact double-backward products (Amended-DARTS Eq. 6)
  amended_fd  the same with central differences
  second      DARTS-2nd's own correction term −ξ · M(w) · ∇_{w'} L_val(w'), w' = w − ξ ∇_w L_train,
              M by central differences (as the rule computes it)
  identity    −ξ · M · ∇_w L_val: H⁻¹ ≈ ξ·I at the current w, DARTS's approximation without the
              unrolled step (exact products)

and each full hypergradient with the exact g1 + g2 (g1 = ∇_α L_val): g1 + estimate, except `second`,
whose full gradient is the rule's output ∇_α L_val(w') + correction, and `first`, which is g1 alone.
Both estimates are well defined at every point; `second` is what DARTS-2nd uses, `identity` isolates the
H⁻¹ ≈ ξI approximation from the unrolling. The g2 cosines do not depend on η or ξ; the full ones do, as
those set how much each estimate weighs against g1. ξ is the weight learning rate (0.025); `amended`
uses η = 0.1 (the paper's), and the same exact term is also weighed as the study's other variants do:
η = 0.01, and η chosen at each point so that ‖η·M·H·∇_w L_val‖ = ‖g1‖ (`--eta-ratio 1`).
Reported per rule: the fraction of points within 90° of the exact direction (cos > 0), the median cosine.

    OMP_NUM_THREADS=1 python bench/darts_alignment.py --C 1 --N 1 --size 8 --batch-size 32 \\
        --seeds 0,1,2 --points 4 --every 25
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import time
from pathlib import Path

import torch

from darts_common import add_problem_options, load_problem, markdown, start
from gradnas.darts import (
    amended_term,
    arch_gradient,
    cosine,
    exact_g2,
    loss_closure,
    mixed_vp,
    mixed_vp_fd,
    step,
)
from gradnas.darts.hessian import gradient, shifted
from gradnas.darts.run import build_search
from gradnas.darts.vectors import Vector, norm

ESTIMATES = {
    "first": "none (g1 alone)",
    "amended": "−η M H ∇_w L_val, exact",
    "amended:eta=0.01": "the same, η = 0.01",
    "amended:eta_ratio=1": "the same, η = ‖g1‖ / ‖M H ∇_w L_val‖",
    "amended_fd": "−η M H ∇_w L_val, finite differences",
    "second": "−ξ M ∇_{w'} L_val(w'), DARTS-2nd",
    "identity": "−ξ M ∇_w L_val (H⁻¹ ≈ ξI)",
}


def second_correction(model, train, val, xi: float) -> Vector:
    """DARTS-2nd's correction term, computed as `second_order` does."""
    weights, arch = model.weights(), model.arch_parameters()
    train_loss = loss_closure(model, train)
    with shifted(weights, gradient(train_loss, weights), -xi):
        unrolled_val = gradient(loss_closure(model, val), weights)
    return [-xi * m for m in mixed_vp_fd(train_loss, weights, arch, unrolled_val)]


def identity_term(model, train, val, xi: float) -> Vector:
    weights, arch = model.weights(), model.arch_parameters()
    val_weights = gradient(loss_closure(model, val), weights)
    return [-xi * m for m in mixed_vp(loss_closure(model, train), weights, arch, val_weights)]


def scaled(a: Vector, factor: float) -> Vector:
    return [factor * x for x in a]


def plus(a: Vector, b: Vector) -> Vector:
    return [x + y for x, y in zip(a, b, strict=True)]


def measure(model, train, val, eta: float, xi: float) -> tuple[list[dict], float]:
    """One row per rule with its g2 and full-gradient cosines, and ‖g2‖ / ‖g1‖ at this point."""
    g1, g2 = arch_gradient("first", model, train, val), exact_g2(model, train, val)
    direction = amended_term(model, train, val, eta=1.0)  # −M H ∇_w L_val: each η only scales it
    balancing = float(norm(g1) / norm(direction)) if norm(direction) else 0.0
    estimates = {
        "amended": scaled(direction, eta),
        "amended:eta=0.01": scaled(direction, 0.01),
        "amended:eta_ratio=1": scaled(direction, balancing),
        "amended_fd": amended_term(model, train, val, eta=eta, exact=False),
        "second": second_correction(model, train, val, xi),
        "identity": identity_term(model, train, val, xi),
    }
    full = {rule: plus(g1, estimate) for rule, estimate in estimates.items()}
    full["second"] = arch_gradient("second", model, train, val, xi=xi)
    exact = plus(g1, g2)
    rows = [{"rule": "first", "cos_g2": math.nan, "cos_full": cosine(g1, exact)}]
    rows += [
        {"rule": rule, "cos_g2": cosine(estimate, g2), "cos_full": cosine(full[rule], exact)}
        for rule, estimate in estimates.items()
    ]
    return rows, float(norm(g2) / norm(g1))


def trajectory(args, seed: int) -> tuple[list[dict], list[float]]:
    """Measurements at `args.points` points of a first-order search from seed `seed`."""
    config, data = load_problem(args, seed, samples=args.samples)
    parts = build_search(config, data)
    model = parts["model"].double()  # converts in place: the optimizers keep the same parameters
    optimizers = (parts["w_optimizer"], parts["a_optimizer"])
    (x_train, y_train), (x_val, y_val) = data.train, data.val
    draws = torch.Generator().manual_seed(seed)

    def batches():
        t, v = (torch.randperm(len(y_train), generator=draws)[: args.batch_size] for _ in range(2))
        return (x_train[t].double(), y_train[t]), (x_val[v].double(), y_val[v])

    rows, ratios = [], []
    for point in range(args.points):
        for _ in range(args.every if point else 0):
            step(model, "first", *batches(), *optimizers, grad_clip=config.grad_clip)
        found, ratio = measure(model, *batches(), config.eta, config.lr)
        rows += [{"seed": seed, "step": point * args.every, **row} for row in found]
        ratios.append(ratio)
        print(f"seed {seed} step {point * args.every}: ‖g2‖/‖g1‖ = {ratio:.3g}", flush=True)
    return rows, ratios


def summary_row(rule: str, rows: list[dict]) -> list[str]:
    mine = [row for row in rows if row["rule"] == rule]
    cells = [rule, ESTIMATES[rule], str(len(mine))]
    for key in ("cos_g2", "cos_full"):
        values = [row[key] for row in mine if not math.isnan(row[key])]
        if values:
            positive = sum(v > 0 for v in values) / len(values)
            cells += [f"{positive:.0%}", f"{statistics.median(values):+.3f}"]
        else:
            cells += ["—", "—"]
    return cells


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_problem_options(p, C=1, N=1, size=8, batch_size=32)
    p.add_argument("--samples", type=int, default=1000, help="images, half train, half val (default: 1000)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated (default: 0,1,2)")
    p.add_argument("--points", type=int, default=4, help="measured points per trajectory (default: 4)")
    p.add_argument("--every", type=int, default=25, help="first-order steps between points (default: 25)")
    p.add_argument("--out", default="results/darts/alignment.csv", help="every measurement as CSV")
    args = p.parse_args()
    start(args)
    began = time.perf_counter()
    rows, ratios = [], []
    for seed in (int(s) for s in args.seeds.split(",")):
        found, found_ratios = trajectory(args, seed)
        rows += found
        ratios += found_ratios
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    print(
        f"\nNB201 supernet C={args.C} N={args.N}, float64, {args.dataset} {args.size}×{args.size}, "
        f"batch {args.batch_size}; seeds {args.seeds}, points at steps 0, {args.every}, … "
        f"({len(ratios)} in all); median ‖g2‖/‖g1‖ = {statistics.median(ratios):.3g}\n"
    )
    header = [
        "rule",
        "g2 estimate",
        "points",
        "cos(g2) > 0",
        "median cos(g2)",
        "cos(full) > 0",
        "median cos(full)",
    ]
    print(markdown(header, [summary_row(rule, rows) for rule in ESTIMATES]))
    print(f"\nwrote {out}; {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
