"""torch's default intra-op threads against one thread, on an idle and on a loaded machine.

Each measurement runs in a fresh process that scores the same seeded random NAS-Bench-201
architectures (the README's main job: GradSign, synflow and NASWOT on CIFAR-10) with either
torch's default thread count (one per core) or one thread. "Loaded" starts `--hogs` busy-loop
processes (`python -c 'while 1: pass'`) for the duration of the measurement, as another job on a
shared machine would; they are stopped when it ends, and each measurement has a time limit.
The scores of every run are compared with the first: threads change the time, not the values.
The first rows run on the machine as found (other jobs included): the load average says how busy.

    python bench/threads.py --archs 4 --hogs 2
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys

CHILD = """
import json, sys, time
import torch
from gradnas.api import rank_archs, sample_archs
from gradnas.run.tasks import ProbeSpec
threads, archs, batch = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
if threads:
    torch.set_num_threads(threads)
spec = ProbeSpec("cifar10", batch, 0)
spec.batch()
names = sample_archs("nb201", archs, 0)
start = time.perf_counter()
frame = rank_archs(names, ["gradsign", "synflow", "naswot"], spec, progress=False)
seconds = time.perf_counter() - start
scores = frame.sort_values("arch")[["gradsign", "synflow", "naswot"]].to_numpy().tolist()
print(json.dumps({"threads": torch.get_num_threads(), "seconds": seconds, "scores": scores}))
"""


def measure(threads: int, archs: int, batch: int, hogs: int, limit: float) -> dict:
    """One fresh process's wall time per architecture, with `hogs` busy loops running beside it."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}  # torch's own default
    loops = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(hogs)]
    try:
        run = subprocess.run(
            [sys.executable, "-c", CHILD, str(threads), str(archs), str(batch)],
            env=env,
            capture_output=True,
            text=True,
            timeout=limit,
        )
    except subprocess.TimeoutExpired:
        return {"threads": threads, "seconds": None, "scores": None}
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
    if run.returncode:
        raise SystemExit(run.stderr)
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hogs", type=int, default=2, help="busy-loop processes for the loaded runs")
    parser.add_argument("--limit", type=float, default=600.0, help="seconds allowed per measurement")
    args = parser.parse_args()
    print("$ python " + shlex.join(sys.argv))
    print(f"{os.cpu_count()} cores; 'load' is the 1-minute load average before the measurement")
    print("| machine | torch threads | s/arch | slower than 1 thread |")
    print("| --- | --- | ---: | ---: |")
    reference = None
    for hogs in (0, args.hogs):
        load = os.getloadavg()[0]
        rows = {}
        for threads in (0, 1):  # 0: torch's default
            result = measure(threads, args.archs, args.batch_size, hogs, args.limit)
            rows[threads] = result
            if reference is None:
                reference = result["scores"]
            elif result["scores"] is not None and result["scores"] != reference:
                print(f"note: scores differ from the first run with {result['threads']} threads")
        one = rows[1]["seconds"]
        for threads in (0, 1):
            r = rows[threads]
            label = f"{r['threads']} (torch default)" if threads == 0 else "1"
            per = "timed out" if r["seconds"] is None else f"{r['seconds'] / args.archs:.2f}"
            ratio = "" if r["seconds"] is None or one is None else f"{r['seconds'] / one:.2f}×"
            machine = f"as found (load {load:.1f})" if hogs == 0 else f"+{hogs} busy loops"
            print(f"| {machine} | {label} | {per} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
