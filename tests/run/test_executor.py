"""The executor runs the same tasks in-process, in worker processes and on Ray, same results."""

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gradnas.errors import GradnasError
from gradnas.run.executor import execute
from gradnas.run.tasks import ProbeSpec, make_tasks

ARCHS = [
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|none~2|",
    "|skip_connect~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|",
    "|avg_pool_3x3~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
]


def scores_by_arch(results) -> dict[str, dict[str, float]]:
    return {r.task.arch: {n: s.value for n, s in r.scores.items()} for r in results}


@pytest.fixture(scope="module")
def tasks():
    return make_tasks("nb201", ARCHS, ProbeSpec("digits", 32, 0), ["gradsign", "mgm"])


@pytest.fixture(scope="module")
def in_process(tasks):
    return scores_by_arch(execute(tasks, workers=1, progress=False))


def test_worker_processes_give_the_same_scores(tasks, in_process):
    assert scores_by_arch(execute(tasks, workers=2, progress=False)) == in_process


def test_a_local_ray_instance_gives_the_same_scores(tasks, in_process):
    import ray  # the dev extra installs it, so this path is tested wherever the suite runs

    try:
        assert scores_by_arch(execute(tasks, workers=2, ray=True, progress=False)) == in_process
    finally:
        ray.shutdown()


def test_bad_worker_count_is_a_clear_error(tasks):
    with pytest.raises(GradnasError, match=r"workers \(a count, or 'auto'\) must be an int >= 1"):
        list(execute(tasks, workers=0, progress=False))


def test_a_lost_worker_is_one_line_and_the_finished_results_are_kept(tasks):
    results = execute(tasks * 4, workers=2, progress=False)
    first = next(results)
    assert first.task.arch in ARCHS
    workers = multiprocessing.active_children()
    assert len(workers) == 2
    os.kill(workers[0].pid, signal.SIGKILL)
    with pytest.raises(GradnasError) as caught:
        list(results)
    assert str(caught.value) == (
        "a worker process died (killed, or out of memory); the architectures finished "
        "before it are stored, and a re-run resumes after them"
    )
    assert not isinstance(caught.value.__cause__, Exception)  # no BrokenProcessPool traceback behind it


WORKERS_OF_A_PARENT = """
import multiprocessing, sys
from gradnas.run.executor import execute
from gradnas.run.tasks import ProbeSpec, make_tasks
archs = {archs!r}
results = execute(make_tasks("nb201", archs * 50, ProbeSpec("digits", 32, 0), ["gradsign"]), workers=2,
                  progress=False)
next(results)
print(*[p.pid for p in multiprocessing.active_children()], flush=True)
sys.stdin.read()
"""


def test_workers_die_with_a_killed_parent():
    script = WORKERS_OF_A_PARENT.format(archs=ARCHS)
    parent = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    pids = [int(p) for p in parent.stdout.readline().split()]
    assert len(pids) == 2
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    left = pids
    for _ in range(100):  # they notice within half a second; allow a loaded machine 20 s
        left = [p for p in left if Path(f"/proc/{p}").exists() and "Z" not in _state(p)]
        if not left:
            break
        time.sleep(0.2)
    assert left == []


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][:1]
    except OSError:
        return "Z"
