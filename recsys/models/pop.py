"""Popularity: every user gets the items ranked by training interaction count."""

from __future__ import annotations

import torch

from agenticrs.recsys.data.dataset import Dataset, Split
from agenticrs.recsys.models.base import ModelConfig, Recommender, register_model


@register_model("pop")
class Pop(Recommender):
    """Most-popular baseline (closed form, no parameters to train)."""

    Config = ModelConfig
    trainable = False

    def __init__(self, n_items: int, n_users: int, config: ModelConfig, dataset: Dataset | None = None):
        super().__init__(n_items, n_users, config, dataset)
        self.register_buffer("counts", torch.zeros(n_items + 1))

    def fit(self, split: Split) -> None:
        counts = torch.zeros(self.n_items + 1, dtype=torch.float64)
        for seq in split.train:
            counts.index_add_(0, torch.as_tensor(seq, dtype=torch.long), torch.ones(len(seq), dtype=torch.float64))
        self.counts = counts.float().to(self.counts.device)

    def score(self, users: torch.Tensor, histories: torch.Tensor) -> torch.Tensor:
        """``[batch, n_items + 1]``: the same popularity row for every user."""
        return self.counts.unsqueeze(0).expand(len(users), -1).clone()
