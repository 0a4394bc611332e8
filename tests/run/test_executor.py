"""The executor runs the same tasks in-process, in worker processes and on Ray, same results."""

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
    with pytest.raises(GradnasError, match="workers must be at least 1"):
        list(execute(tasks, workers=0, progress=False))
