"""BPR-MF: matrix factorisation trained with Bayesian Personalized Ranking (Rendle et al. 2009)."""

from __future__ import annotations

import dataclasses
from typing import Iterator, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agenticrs.recsys.data.dataset import Dataset, Split
from agenticrs.recsys.models.base import ModelConfig, Recommender, register_model


class BPRBatch(NamedTuple):
    """One batch of BPR triples, all ``[batch]`` int64: a user, an item of their training
    sequence, and an item sampled uniformly from those outside it."""

    users: torch.Tensor
    pos: torch.Tensor
    neg: torch.Tensor


@register_model("bprmf")
class BPRMF(Recommender):
    """User and item embeddings scored by dot product, trained on BPR triples.

    Every (user, item) pair of the training sequences is one positive per epoch (a repeated
    item is one pair per occurrence), paired with one negative drawn uniformly from the
    items outside the user's training set. The loss is ``-log sigmoid(s(u, pos) - s(u, neg))``
    plus ``reg`` times the squared norm of the embeddings in the batch.

    Ignores the order of the history: ``score`` uses only the user id, so a user's
    validation or test history changes nothing (the standard, non-sequential protocol).
    """

    @dataclasses.dataclass
    class Config(ModelConfig):
        embedding_dim: int = 64
        reg: float = 0.0
        """L2 penalty on the user/item embeddings of each batch (per triple, averaged)."""
        init_std: float = 0.1
        """Standard deviation of the normal initialisation of both embedding tables."""

    config: Config

    def __init__(self, n_items: int, n_users: int, config: ModelConfig, dataset: Dataset | None = None):
        super().__init__(n_items, n_users, config, dataset)
        cfg = self.config
        if cfg.embedding_dim < 1:
            raise ValueError(f"bprmf: field 'embedding_dim' must be >= 1, got {cfg.embedding_dim}")
        if cfg.reg < 0:
            raise ValueError(f"bprmf: field 'reg' must be >= 0, got {cfg.reg}")
        if cfg.init_std <= 0:
            raise ValueError(f"bprmf: field 'init_std' must be > 0, got {cfg.init_std}")
        self.user_emb = nn.Embedding(n_users, cfg.embedding_dim)
        self.item_emb = nn.Embedding(n_items + 1, cfg.embedding_dim, padding_idx=0)
        nn.init.normal_(self.user_emb.weight, std=cfg.init_std)
        nn.init.normal_(self.item_emb.weight, std=cfg.init_std)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()
        self._pairs: tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray] | None = None

    # -------------------------------------------------------------- training
    def fit(self, split: Split) -> None:
        self._prepare(split.train)

    def _prepare(self, train: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positive pairs ``(users, items)`` and the sorted keys ``user * (n_items + 1) + item``
        of each user's training set, built once and reused while ``train`` is the same list."""
        if self._pairs is None or self._pairs[0] is not train:
            if len(train) > self.n_users:
                raise ValueError(f"bprmf: {len(train)} training sequences but the model has {self.n_users} users")
            lengths = np.fromiter((len(s) for s in train), dtype=np.int64, count=len(train))
            users = np.repeat(np.arange(len(train), dtype=np.int64), lengths)
            items = np.concatenate(train).astype(np.int64) if len(train) else np.zeros(0, dtype=np.int64)
            keys = np.unique(users * (self.n_items + 1) + items)
            self._pairs = (train, users, items, keys)
        return self._pairs[1], self._pairs[2], self._pairs[3]

    def batches(self, train: list[np.ndarray], batch_size: int, rng: np.random.Generator) -> Iterator[BPRBatch]:
        users, items, keys = self._prepare(train)
        neg = sample_negatives(users, keys, self.n_items, rng)
        order = rng.permutation(len(users))
        u, p, n = (torch.from_numpy(a[order]) for a in (users, items, neg))
        for lo in range(0, len(order), batch_size):
            yield BPRBatch(u[lo : lo + batch_size], p[lo : lo + batch_size], n[lo : lo + batch_size])

    def loss(self, batch: BPRBatch) -> torch.Tensor:
        u = self.user_emb(batch.users)  # [B, d]
        p = self.item_emb(batch.pos)  # [B, d]
        n = self.item_emb(batch.neg)  # [B, d]
        diff = (u * p).sum(-1) - (u * n).sum(-1)  # [B]
        loss = -F.logsigmoid(diff).mean()
        if self.config.reg > 0:
            loss = loss + self.config.reg * (u.pow(2).sum(-1) + p.pow(2).sum(-1) + n.pow(2).sum(-1)).mean()
        return loss

    # -------------------------------------------------------------- inference
    def score(self, users: torch.Tensor, histories: torch.Tensor) -> torch.Tensor:
        """``[batch, n_items + 1]`` dot products of ``users [batch]`` with every item."""
        return self.user_emb(users) @ self.item_emb.weight.T


def sample_negatives(
    users: np.ndarray, keys: np.ndarray, n_items: int, rng: np.random.Generator, rounds: int = 10
) -> np.ndarray:
    """Draw one item per user uniformly from ``1..n_items`` outside the user's training set.

    Vectorised rejection: redraw only the collisions, at most ``rounds`` times; the few
    left after that (users who consumed almost every item) are kept, so sampling is
    approximate but never loops forever.

    Args:
        users: ``[n]`` user indices.
        keys: sorted unique ``user * (n_items + 1) + item`` of every training pair.

    Returns:
        ``[n]`` int64 item ids.
    """
    base = users * (n_items + 1)
    neg = rng.integers(1, n_items + 1, size=len(users))
    if not len(keys):
        return neg
    todo = np.arange(len(users))
    for _ in range(rounds):
        k = base[todo] + neg[todo]
        hit = keys[np.minimum(np.searchsorted(keys, k), len(keys) - 1)] == k
        todo = todo[hit]
        if not len(todo):
            break
        neg[todo] = rng.integers(1, n_items + 1, size=len(todo))
    return neg
