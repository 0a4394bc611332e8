"""How fast are benchmark lookups? Times `query` for every NAS-Bench-201 architecture, one by one,
and `query_many` for all of them at once (the tests check the values; timing lives here).

    python bench/queries.py [--dataset cifar10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

from gradnas.benchmarks import load_benchmark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    nb201 = load_benchmark("nb201")
    archs = nb201.archs()
    one, many = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for arch in archs:
            nb201.query(arch, args.dataset)
        one.append(time.perf_counter() - start)
        start = time.perf_counter()
        nb201.query_many(archs, args.dataset)
        many.append(time.perf_counter() - start)
    print(
        f"{len(archs)} NB201 archs: query one by one {min(one):.3f} s, "
        f"query_many {min(many):.3f} s (best of {args.repeats})"
    )


if __name__ == "__main__":
    main()
