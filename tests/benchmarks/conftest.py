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


@pytest.fixture
def ctrl_c_after_epoch_one(monkeypatch):
    """Every checkpoint save is followed by a KeyboardInterrupt, as if Ctrl-C came right after
    epoch 1 was saved; the returned function restores the real save (the user's rerun)."""
    from agenticrs.recsys.training import checkpoint as ckpt

    real_save = ckpt.save

    def save_then_interrupt(path, state, fp):
        real_save(path, state, fp)
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt, "save", save_then_interrupt)
    return lambda: monkeypatch.setattr(ckpt, "save", real_save)
