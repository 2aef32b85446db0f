"""Shared fixtures: tiny deterministic datasets, and one torch thread (CI has 2 cores)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agenticrs.recsys.data.dataset import Dataset

torch.set_num_threads(1)


def chain_dataset(n_users: int = 300, n_items: int = 60, length: int = 12, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Users walk ``i -> i + 1`` through the items with a little noise: next-item structure
    that sequential models learn in a few epochs and popularity cannot exploit."""
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(n_users):
        cur = int(rng.integers(1, n_items + 1))
        seq = [cur]
        for _ in range(length - 1):
            cur = int(rng.integers(1, n_items + 1)) if rng.random() < noise else cur % n_items + 1
            seq.append(cur)
        seqs.append(seq)
    return Dataset.from_sequences(seqs, n_items, name="chain")


@pytest.fixture
def chain() -> Dataset:
    return chain_dataset()
