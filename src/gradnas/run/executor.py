"""Running many scoring tasks: in this process, in local worker processes, or on a Ray cluster.

Results come back as they finish (not in task order) so callers can store each one at once: a
run killed at any moment loses only the architectures that were in flight.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

import torch
from tqdm import tqdm

from ..errors import GradnasError
from .tasks import ScoreTask, TaskResult, run_task


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _one_thread(threads: int = 1) -> None:
    """Workers split the cores between them; several torch threads each would oversubscribe.
    Ctrl-C is the parent's to handle: a worker ignores it, and the parent stops the workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(threads)


def _worker_start(threads: int, parent: int) -> None:
    _one_thread(threads)
    die_with(parent)


def die_with(parent: int, poll: float = 0.5) -> None:
    """Exit this process as soon as `parent` is no longer its parent (it died, even by kill -9),
    instead of holding its memory forever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll)
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def _local(tasks: list[ScoreTask], workers: int, threads: int) -> Iterator[TaskResult]:
    if workers == 1:
        yield from map(run_task, tasks)
        return
    # spawn: a forked child of a process that already ran torch ops can deadlock in its thread pool
    context = get_context("spawn")
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_worker_start, initargs=(threads, os.getpid())
    )
    try:
        pending = {pool.submit(run_task, t) for t in tasks[: 2 * workers]}
        queued = iter(tasks[2 * workers :])
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    result = future.result()
                except BrokenProcessPool:
                    raise GradnasError(
                        "a worker process died (killed, or out of memory); the architectures finished "
                        "before it are stored, and a re-run resumes after them"
                    ) from None
                yield result
                nxt = next(queued, None)
                if nxt is not None:
                    pending.add(pool.submit(run_task, nxt))
    except BaseException:  # an interrupt or an error: stop the workers now, not after their tasks
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _ray(tasks: list[ScoreTask], address: str | None, workers: int) -> Iterator[TaskResult]:
    try:
        import ray
    except ImportError as err:
        raise GradnasError("running on Ray needs the optional extra: pip install 'gradnas[ray]'") from err
    if not ray.is_initialized():
        ray.init(
            address=address,
            num_cpus=None if address else workers,
            include_dashboard=False,
            log_to_driver=False,
        )
    remote = ray.remote(num_cpus=1)(_ray_task)
    pending = [remote.remote(t) for t in tasks]
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        yield ray.get(done[0])


def _ray_task(task: ScoreTask) -> TaskResult:
    _one_thread()
    return run_task(task)


def execute(
    tasks: Iterable[ScoreTask],
    *,
    workers: int | None = None,
    ray: bool = False,
    ray_address: str | None = None,
    progress: bool = True,
    description: str = "scoring",
    threads: int = 1,
) -> Iterator[TaskResult]:
    """Run `tasks`, yielding each result as it finishes, with a progress bar on stderr. Worker
    processes compute with `threads` torch threads each (this process keeps its own setting)."""
    tasks = list(tasks)
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise GradnasError(f"workers must be at least 1, got {workers}")
    local = min(workers, max(1, len(tasks)))
    results = _ray(tasks, ray_address, workers) if ray else _local(tasks, local, threads)
    with tqdm(total=len(tasks), desc=description, unit="arch", disable=not progress or not tasks) as bar:
        for result in results:
            bar.update()
            yield result
