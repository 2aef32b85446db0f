"""ItemKNN: item-item cosine similarity from co-occurrence in users' training sequences.

Closed form: ``fit`` builds the similarity once and keeps only the ``k_neighbors`` most
similar items of every item, so memory is ``O(n_items * k)`` instead of ``O(n_items^2)``
(a dense float32 similarity over Amazon Beauty's 12k items would take 580 MB).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp
import torch

from agenticrs.recsys.data.dataset import Dataset, Split
from agenticrs.recsys.models.base import ModelConfig, Recommender, register_model


@register_model("itemknn")
class ItemKNN(Recommender):
    """Item-based nearest neighbours (Sarwar et al. 2001; Deshpande & Karypis 2004).

    Similarity of items ``i`` and ``j`` with user sets ``U_i`` and ``U_j`` (users whose
    training sequence contains the item, repeats counted once)::

        sim(i, j) = |U_i & U_j| / (sqrt(|U_i|) * sqrt(|U_j|) + shrink)

    The shrink term damps similarities estimated from few users. An item's score for a
    user is the sum of its similarities to the user's history items, each weighted by
    ``exp(-recency_decay * age)``, where ``age`` is 0 for the most recent item.

    State (buffers, counted as parameters by the cost report):
        ``neighbors``: ``[n_items + 1, k]`` int64 neighbour ids (0 = no neighbour).
        ``weights``: ``[n_items + 1, k]`` float32 similarities (0 for missing neighbours).
    """

    @dataclasses.dataclass
    class Config(ModelConfig):
        k_neighbors: int = 100
        """Most similar items kept per item (bounds memory and denoises the similarity)."""
        shrink: float = 10.0
        """Added to the cosine denominator; larger values trust rare co-occurrences less."""
        recency_decay: float = 0.0
        """History weight ``exp(-recency_decay * age)``; 0 weights every history item equally."""

    trainable = False
    config: Config

    def __init__(self, n_items: int, n_users: int, config: ModelConfig, dataset: Dataset | None = None):
        super().__init__(n_items, n_users, config, dataset)
        cfg = self.config
        if cfg.k_neighbors < 1:
            raise ValueError(f"itemknn: field 'k_neighbors' must be >= 1, got {cfg.k_neighbors}")
        if cfg.shrink < 0:
            raise ValueError(f"itemknn: field 'shrink' must be >= 0, got {cfg.shrink}")
        if cfg.recency_decay < 0:
            raise ValueError(f"itemknn: field 'recency_decay' must be >= 0, got {cfg.recency_decay}")
        # An item has at most n_items - 1 other items; a larger k would only store zeros.
        self.k = max(1, min(cfg.k_neighbors, n_items - 1))
        self.register_buffer("neighbors", torch.zeros(n_items + 1, self.k, dtype=torch.long))
        self.register_buffer("weights", torch.zeros(n_items + 1, self.k))

    def fit(self, split: Split) -> None:
        neighbors, weights = topk_cosine(split.train, self.n_items, self.k, self.config.shrink)
        device = self.neighbors.device
        self.neighbors = torch.from_numpy(neighbors).to(device)
        self.weights = torch.from_numpy(weights).to(device)

    def score(self, users: torch.Tensor, histories: torch.Tensor) -> torch.Tensor:
        """``[batch, n_items + 1]``: summed similarities to the (left-padded) ``histories [batch, L]``."""
        batch, length = histories.shape
        # Padding rows of `weights` are zero, so padded positions add nothing.
        vals = self.weights[histories]  # [B, L, k]
        decay = self.config.recency_decay
        if decay > 0:
            # Left padding puts the most recent item at position L - 1 for every row.
            age = torch.arange(length - 1, -1, -1, device=histories.device, dtype=vals.dtype)
            vals = vals * torch.exp(-decay * age).view(1, length, 1)
        scores = torch.zeros(batch, self.n_items + 1, device=histories.device, dtype=vals.dtype)
        scores.scatter_add_(1, self.neighbors[histories].view(batch, -1), vals.reshape(batch, -1))
        return scores


def topk_cosine(train: list[np.ndarray], n_items: int, k: int, shrink: float) -> tuple[np.ndarray, np.ndarray]:
    """Shrunk cosine similarity between items, truncated to each item's ``k`` best neighbours.

    Args:
        train: per-user training sequences of item ids ``1..n_items``.

    Returns:
        ``(neighbors, weights)``, both ``[n_items + 1, k]``: int64 neighbour ids and float32
        similarities, sorted by decreasing similarity; unused slots are id 0 with weight 0.
    """
    lengths = np.fromiter((len(s) for s in train), dtype=np.int64, count=len(train))
    rows = np.repeat(np.arange(len(train)), lengths)
    cols = np.concatenate(train).astype(np.int64) if len(train) else np.zeros(0, dtype=np.int64)
    # Binary user x item matrix: a repeated item counts once for its user.
    x = sp.csr_matrix((np.ones(len(cols), dtype=np.float32), (rows, cols)), shape=(len(train), n_items + 1))
    x.sum_duplicates()
    x.data[:] = 1.0
    co = (x.T @ x).tocoo()  # [n_items + 1, n_items + 1] co-occurrence counts; diagonal = |U_i|
    norm = np.sqrt(np.asarray(x.sum(axis=0)).ravel().astype(np.float64))
    off_diag = co.row != co.col
    r, c = co.row[off_diag].astype(np.int64), co.col[off_diag].astype(np.int64)
    sim = co.data[off_diag] / (norm[r] * norm[c] + shrink)

    # Rank entries within each row by decreasing similarity (ties: smaller item id first,
    # so the result does not depend on scipy's internal ordering), keep ranks < k.
    order = np.lexsort((c, -sim, r))
    r, c, sim = r[order], c[order], sim[order]
    row_start = np.searchsorted(r, np.arange(n_items + 1))
    rank = np.arange(len(r)) - row_start[r]
    keep = rank < k
    neighbors = np.zeros((n_items + 1, k), dtype=np.int64)
    weights = np.zeros((n_items + 1, k), dtype=np.float32)
    neighbors[r[keep], rank[keep]] = c[keep]
    weights[r[keep], rank[keep]] = sim[keep]
    return neighbors, weights
