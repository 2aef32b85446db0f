"""``chain_dataset``: a tiny deterministic dataset with next-item structure.

A plain module (not ``conftest``) so test files can import it by a unique name: several
``conftest.py`` files exist under ``tests/`` and ``from conftest import ...`` would pick
whichever was imported first.
"""

from __future__ import annotations

import numpy as np

from agenticrs.recsys.data.dataset import Dataset


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
