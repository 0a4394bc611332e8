"""Run each darts test single-threaded, restoring the thread count after it.

The models here are tiny, so intra-op threads add only synchronisation; on a busy machine that
synchronisation cost one DARTS-supernet step 50 s instead of 0.7 s.
"""

import pytest
import torch


@pytest.fixture(autouse=True)
def single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
