"""Running many scoring tasks: in this process, in local worker processes, or on a Ray cluster.

Results come back as they finish (not in task order) so callers can store each one at once: a
run killed at any moment loses only the architectures that were in flight. Tasks whose device
names no particular GPU ("auto", "cuda") spread over the GPUs: local worker i computes on GPU
i mod count, and a Ray task asks Ray for one whole GPU when the cluster has any.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from multiprocessing import get_context

import torch

from ..devices import gpu_count, parse_device, worker_device
from ..errors import GradnasError
from ..progress import progress_bar
from ..validate import positive_int
from .tasks import ScoreTask, TaskResult, run_task

_worker_index = 0  # in a local worker process: which one it is, counted from 0 as they start


def cores() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def default_workers(device: str = "cpu", gpus: int = 0) -> int:
    """What `workers="auto"` means: one per GPU for tasks that spread over `gpus` GPUs, one for a
    device that names a single accelerator, else one per core."""
    spec = parse_device(device)
    if gpus > 0 and spec in ("auto", "cuda"):
        return gpus
    return 1 if spec.startswith(("cuda", "mps")) else cores()


def check_workers(workers: object, device: str = "cpu") -> int:
    """`workers` as a count: a whole number >= 1 as it is; "auto" or None as `default_workers`."""
    if workers is None or workers == "auto":
        return default_workers(device, gpu_count())
    return positive_int(workers, "workers (a count, or 'auto')")


def ray_gpus(device: str, cluster_gpus: float) -> int:
    """GPUs a Ray task asks for: one when its device may be a GPU and the cluster has any."""
    return int(cluster_gpus > 0 and parse_device(device).startswith(("auto", "cuda")))


def _one_thread(threads: int = 1) -> None:
    """Workers split the cores between them; several torch threads each would oversubscribe.
    Ctrl-C is the parent's to handle: a worker ignores it, and the parent stops the workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(threads)


def _worker_start(threads: int, parent: int, started) -> None:
    global _worker_index
    _one_thread(threads)
    die_with(parent)
    with started.get_lock():
        _worker_index, started.value = started.value, started.value + 1


def _run_in_worker(task: ScoreTask) -> TaskResult:
    return run_task(replace(task, device=worker_device(task.device, _worker_index, gpu_count())))


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
    started = context.Value("i", 0)
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_worker_start, initargs=(threads, os.getpid(), started)
    )
    try:
        pending = {pool.submit(_run_in_worker, t) for t in tasks[: 2 * workers]}
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
                    pending.add(pool.submit(_run_in_worker, nxt))
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
    gpus = ray_gpus(tasks[0].device, ray.cluster_resources().get("GPU", 0)) if tasks else 0
    remote = ray.remote(num_cpus=1, num_gpus=gpus)(_ray_task)
    # Ray shows a task only the GPU it was given, as cuda:0
    pending = [remote.remote(replace(t, device="cuda") if gpus else t) for t in tasks]
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        yield ray.get(done[0])


def _ray_task(task: ScoreTask) -> TaskResult:
    _one_thread()
    return run_task(task)


def execute(
    tasks: Iterable[ScoreTask],
    *,
    workers: int | str | None = None,
    ray: bool = False,
    ray_address: str | None = None,
    progress: bool = True,
    description: str = "scoring",
    threads: int = 1,
) -> Iterator[TaskResult]:
    """Run `tasks`, yielding each result as it finishes, with a progress bar on stderr. Worker
    processes compute with `threads` torch threads each (this process keeps its own setting).
    `workers`: a count, or "auto" (None) for `default_workers` of the tasks' device."""
    tasks = list(tasks)
    workers = check_workers(workers, tasks[0].device if tasks else "cpu")
    local = min(workers, max(1, len(tasks)))
    results = _ray(tasks, ray_address, workers) if ray else _local(tasks, local, threads)
    with progress_bar(progress and bool(tasks), total=len(tasks), desc=description, unit="arch") as bar:
        for result in results:
            bar.update()
            yield result
