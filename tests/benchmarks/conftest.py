"""Benchmarks set torch's thread count for their process (``--threads``); tests call their ``main``
in the pytest process, so each test gets the count back afterwards."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def keep_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
