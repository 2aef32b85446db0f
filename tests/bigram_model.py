"""``Bigram``: the smallest trainable sequential recommender, shared by the trainer and backend tests.

A plain module (like ``chain_data``) so test files import it by a unique name. Not registered
here: a test file that needs it in the model registry registers a subclass under its own name.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

import numpy as np
import torch
from torch import nn

from agenticrs.recsys.data.dataset import Dataset
from agenticrs.recsys.models.base import ModelConfig, Recommender


@dataclasses.dataclass
class BigramConfig(ModelConfig):
    dim: int = 16
    explode: bool = False
    """Multiply the loss by NaN: a diverging model."""


class Bigram(Recommender):
    """Next item from the last item only; batches are ``(B, 2)`` (item, next item) pairs."""

    Config = BigramConfig
    name = "bigram"

    def __init__(self, n_items: int, n_users: int, config: BigramConfig, dataset: Dataset | None = None):
        super().__init__(n_items, n_users, config, dataset)
        self.emb = nn.Embedding(n_items + 1, config.dim)
        self.out = nn.Linear(config.dim, n_items + 1)

    def batches(self, train: list[np.ndarray], batch_size: int, rng: np.random.Generator) -> Iterator:
        pairs = np.concatenate([np.stack([s[:-1], s[1:]], 1) for s in train if len(s) > 1])
        perm = rng.permutation(len(pairs))
        for lo in range(0, len(perm), batch_size):
            yield torch.from_numpy(pairs[perm[lo : lo + batch_size]])

    def loss(self, batch: torch.Tensor) -> torch.Tensor:
        loss = nn.functional.cross_entropy(self.out(self.emb(batch[:, 0])), batch[:, 1])
        return loss * float("nan") if self.config.explode else loss

    def score(self, users: torch.Tensor, histories: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` histories -> ``(B, n_items + 1)`` scores from the last item."""
        return self.out(self.emb(histories[:, -1]))
