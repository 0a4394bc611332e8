"""How many torch threads a process computes with.

torch's own default is one intra-op thread per core. On a machine shared with other jobs those
threads wait on each other at every operation: measured in docs/results-speed.md ("Threads on a
loaded machine"), the same work ran several times slower than on one thread, with identical
results. So gradnas computes on **one thread per process** unless told otherwise, and runs
processes side by side (`--workers`) to use more cores. `--threads N` (or ``OMP_NUM_THREADS``)
asks for more threads per process: worth it on an idle machine for a single large network.
"""

from __future__ import annotations

import os

from ..validate import positive_int


def default_threads() -> int:
    """``OMP_NUM_THREADS`` when it is set to a positive whole number, else 1."""
    text = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else 1


def checked_threads(threads: int | None) -> int:
    """`threads`, or the default when None; an error unless it is a positive whole number."""
    if threads is None:
        return default_threads()
    return positive_int(threads, "threads")


def use_threads(threads: int | None) -> int:
    """Set this process's torch intra-op threads (see the module docstring); returns the number."""
    import torch  # here, so importing this module stays cheap

    count = checked_threads(threads)
    torch.set_num_threads(count)
    return count
