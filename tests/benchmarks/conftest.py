"""Benchmarks set torch's thread count for their process (``--threads``); tests call their ``main``
in the pytest process, so each test gets the count back afterwards. Their caches (training
checkpoints, semantic ids) go to a temporary folder, never to the user's ``~/.cache/agenticrs``."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def keep_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:  # per module (undone after it), inherited by worker subprocesses
        patch.setenv("AGENTICRS_CACHE", str(tmp_path_factory.mktemp("agenticrs-cache")))
        yield
