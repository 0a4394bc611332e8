"""How many workers "auto" means and which device each worker and Ray task computes on (GPUs
faked: these are pure functions of the counts)."""

import pytest

from gradnas.errors import GradnasError
from gradnas.run import executor
from gradnas.run.executor import check_workers, cores, default_workers, ray_gpus
from gradnas.run.tasks import ProbeSpec, ScoreTask


def test_auto_workers_are_one_per_gpu_one_per_named_accelerator_else_one_per_core():
    assert default_workers("auto", gpus=4) == default_workers("cuda", gpus=4) == 4
    assert default_workers("cuda:2", gpus=4) == default_workers("mps") == 1
    assert default_workers("cpu", gpus=4) == default_workers("auto", gpus=0) == cores()


def test_workers_are_a_count_or_auto(monkeypatch):
    monkeypatch.setattr(executor, "gpu_count", lambda: 3)
    assert check_workers(5) == 5
    assert check_workers("auto", "cuda") == check_workers(None, "auto") == 3
    for bad in (0, -1, True, "two", 1.5):
        with pytest.raises(GradnasError, match=r"workers \(a count, or 'auto'\) must be an int >= 1, got"):
            check_workers(bad)


def test_a_ray_task_asks_for_one_gpu_when_it_may_use_one_and_the_cluster_has_some():
    assert ray_gpus("auto", 8) == ray_gpus("cuda", 2) == ray_gpus("cuda:1", 1) == 1
    assert ray_gpus("auto", 0) == ray_gpus("cpu", 8) == ray_gpus("mps", 8) == 0


def test_each_local_worker_computes_on_its_own_gpu(monkeypatch):
    monkeypatch.setattr(executor, "gpu_count", lambda: 2)
    monkeypatch.setattr(executor, "run_task", lambda task: task.device)
    task = ScoreTask("nb201", "arch", ProbeSpec(), ("params",), "auto")
    seen = []
    for index in range(3):
        monkeypatch.setattr(executor, "_worker_index", index)
        seen.append(executor._run_in_worker(task))
    assert seen == ["cuda:0", "cuda:1", "cuda:0"]
    named = ScoreTask("nb201", "arch", ProbeSpec(), ("params",), "cuda:1")
    assert executor._run_in_worker(named) == "cuda:1"
