"""EASE: embarrassingly shallow autoencoder, a closed-form item-item linear model.

Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019. With the binary
user x item matrix ``X`` and Gram matrix ``G = X^T X``, the item-item weights minimising
``||X - X B||^2 + l2 ||B||^2`` subject to ``diag(B) = 0`` are, with ``P = (G + l2 I)^-1``::

    B = -P / diag(P)   (column-wise),   diag(B) = 0

One matrix inverse, no epochs: like ItemKNN it is a closed-form family (the AutoTrain
fidelity does not apply), and it is strong on sparse, short-history data where sequential
models have little order to learn. Memory is ``O(n_items^2)`` (float32), so it refuses
catalogues above ``max_items`` with a clear error instead of exhausting memory.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp
import torch

from agenticrs.recsys.data.dataset import Dataset, Split
from agenticrs.recsys.models.base import ModelConfig, Recommender, register_model


@register_model("ease")
class EASE(Recommender):
    """EASE^R (Steck 2019): ``score(u) = x_u B`` with the closed-form ``B`` above.

    ``x_u`` is the binary vector of the user's (left-padded) history items, repeats counted
    once, as in training.

    State (a buffer, counted as parameters by the cost report):
        ``weights``: ``[n_items + 1, n_items + 1]`` float32 ``B`` (row and column 0: padding, zero).
    """

    @dataclasses.dataclass
    class Config(ModelConfig):
        l2: float = 200.0
        """L2 penalty ``lambda`` on ``B`` (the paper tunes it per dataset, ~100-1000)."""
        max_items: int = 20_000
        """Largest catalogue accepted: ``B`` takes ``4 * n_items^2`` bytes (20k items: 1.6 GB)."""

    trainable = False
    config: Config

    def __init__(self, n_items: int, n_users: int, config: ModelConfig, dataset: Dataset | None = None):
        super().__init__(n_items, n_users, config, dataset)
        cfg = self.config
        if not cfg.l2 > 0:
            raise ValueError(f"ease: field 'l2' must be > 0, got {cfg.l2}")
        if n_items > cfg.max_items:
            raise ValueError(f"ease: {n_items} items need a {n_items}x{n_items} weight matrix "
                             f"({4 * n_items**2 / 1e9:.1f} GB); max_items is {cfg.max_items} (use itemknn instead)")
        self.register_buffer("weights", torch.zeros(n_items + 1, n_items + 1))

    def fit(self, split: Split) -> None:
        self.weights = torch.from_numpy(ease_weights(split.train, self.n_items, self.config.l2)).to(self.weights.device)

    def score(self, users: torch.Tensor, histories: torch.Tensor) -> torch.Tensor:
        """``[batch, n_items + 1]`` scores of the left-padded ``histories [batch, L]``."""
        x = torch.zeros(histories.shape[0], self.n_items + 1, device=histories.device, dtype=self.weights.dtype)
        x.scatter_(1, histories, 1.0)  # binary: a repeated item counts once
        x[:, 0] = 0.0  # padding
        return x @ self.weights


def ease_weights(train: list[np.ndarray], n_items: int, l2: float) -> np.ndarray:
    """The EASE item-item matrix ``[n_items + 1, n_items + 1]`` (float32, zero diagonal, row/col 0 zero).

    Args:
        train: per-user training sequences of item ids ``1..n_items``.
        l2: the L2 penalty added to the Gram matrix's diagonal.
    """
    lengths = np.fromiter((len(s) for s in train), dtype=np.int64, count=len(train))
    rows = np.repeat(np.arange(len(train)), lengths)
    cols = (np.concatenate(train).astype(np.int64) - 1) if len(train) else np.zeros(0, dtype=np.int64)
    x = sp.csr_matrix((np.ones(len(cols), dtype=np.float64), (rows, cols)), shape=(len(train), n_items))
    x.sum_duplicates()
    x.data[:] = 1.0
    gram = (x.T @ x).toarray()
    gram[np.diag_indices(n_items)] += l2
    p = np.linalg.inv(gram)
    b = -p / np.diag(p)[None, :]  # B_ij = -P_ij / P_jj
    b[np.diag_indices(n_items)] = 0.0
    out = np.zeros((n_items + 1, n_items + 1), dtype=np.float32)
    out[1:, 1:] = b
    return out
