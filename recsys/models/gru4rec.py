"""GRU4Rec: a GRU over the item sequence, trained with full-softmax cross-entropy.

Follows Hidasi et al. (ICLR 2016) in its common modern form (RecBole, the SASRec and
TIGER baselines): item embedding -> dropout -> GRU -> the hidden state after the last item
-> logits over all items. Training predicts the next item at every position of every
training sequence (like SASRec with cross-entropy) instead of session-parallel mini-batches.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agenticrs.recsys.data.dataset import PAD, Dataset, Split
from agenticrs.recsys.models.base import ModelConfig, Recommender, register_model


class SeqBatch(NamedTuple):
    """Next-item training batch, RIGHT-padded with 0 and cut to the batch's longest row.

    Attributes:
        inputs: ``[batch, T]`` item ids; row ``b`` holds its items at ``0..len_b - 1``.
        targets: ``[batch, T]`` the next item of every input position, 0 where there is none.
    """

    inputs: torch.Tensor
    targets: torch.Tensor


@register_model("gru4rec")
class GRU4Rec(Recommender):
    """Recurrent next-item recommender.

    Architecture: ``Embedding(n_items + 1, embedding_dim, padding_idx=0)`` -> dropout ->
    ``GRU(embedding_dim, hidden, layers)`` -> output. With ``tie_weights`` (the default, as
    in RecBole) the output is ``Linear(hidden, embedding_dim)`` followed by a dot product
    with the item embeddings, so input and output item representations are shared and the
    output costs ``hidden * embedding_dim`` parameters instead of ``hidden * n_items``;
    without it, a separate ``Linear(hidden, n_items + 1)`` output layer.

    Padding: the GRU runs on RIGHT-padded rows, so every real position's state depends only
    on the items before it (a GRU's biases would otherwise make the state drift over left
    padding, and the drift would differ between training and scoring). ``score`` receives
    the evaluator's left-padded histories and rotates each row to the right-padded layout.

    Training cost: logits (the dominant cost, ``positions x n_items``) are computed only at
    real positions, gathered before the output matmul; padding never enters the softmax.
    """

    @dataclasses.dataclass
    class Config(ModelConfig):
        embedding_dim: int = 64
        hidden: int = 64
        """GRU hidden size."""
        layers: int = 1
        """Stacked GRU layers (dropout is also applied between layers when > 1)."""
        dropout: float = 0.25
        """Dropout on the item embeddings (and between GRU layers)."""
        tie_weights: bool = True
        """Score items with the input embeddings through a projection (see the class docstring)."""

    config: Config

    def __init__(self, n_items: int, n_users: int, config: ModelConfig, dataset: Dataset | None = None):
        super().__init__(n_items, n_users, config, dataset)
        cfg = self.config
        for name in ("embedding_dim", "hidden", "layers", "max_len"):
            if getattr(cfg, name) < 1:
                raise ValueError(f"gru4rec: field {name!r} must be >= 1, got {getattr(cfg, name)}")
        if not 0.0 <= cfg.dropout < 1.0:
            raise ValueError(f"gru4rec: field 'dropout' must be in [0, 1), got {cfg.dropout}")
        self.item_emb = nn.Embedding(n_items + 1, cfg.embedding_dim, padding_idx=PAD)
        self.emb_dropout = nn.Dropout(cfg.dropout)
        self.gru = nn.GRU(
            cfg.embedding_dim,
            cfg.hidden,
            num_layers=cfg.layers,
            batch_first=True,
            dropout=cfg.dropout if cfg.layers > 1 else 0.0,
        )
        self.out = nn.Linear(cfg.hidden, cfg.embedding_dim if cfg.tie_weights else n_items + 1)
        self._reset_parameters()
        self._train_cache: tuple[list[np.ndarray], np.ndarray, np.ndarray] | None = None

    def _reset_parameters(self) -> None:
        # N(0, 1) embeddings (PyTorch's default) give huge initial logits when tied to the
        # output; a small normal init plus Xavier/orthogonal GRU weights trains stably.
        nn.init.normal_(self.item_emb.weight, std=0.02)
        with torch.no_grad():
            self.item_emb.weight[PAD].zero_()
        for name, w in self.gru.named_parameters():
            if name.startswith("weight_ih"):
                nn.init.xavier_uniform_(w)
            elif name.startswith("weight_hh"):
                nn.init.orthogonal_(w)
            else:
                nn.init.zeros_(w)

    # -------------------------------------------------------------- network
    def _states(self, inputs: torch.Tensor) -> torch.Tensor:
        """``[B, T, hidden]`` GRU outputs for right-padded ``inputs [B, T]``."""
        out, _ = self.gru(self.emb_dropout(self.item_emb(inputs)))
        return out

    def _logits(self, states: torch.Tensor, skip_pad: bool = False) -> torch.Tensor:
        """``[N, n_items + 1]`` item logits of ``states [N, hidden]``; ``[N, n_items]``
        (items 1..n, no padding column) when ``skip_pad``."""
        first = 1 if skip_pad else 0
        if self.config.tie_weights:
            return self.out(states) @ self.item_emb.weight[first:].T
        return F.linear(states, self.out.weight[first:], self.out.bias[first:])

    # -------------------------------------------------------------- training
    def fit(self, split: Split) -> None:
        self._train_matrix(split.train)

    def _train_matrix(self, train: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Right-padded ``[n_seq, max_len + 1]`` matrix of the last ``max_len + 1`` items of
        every training sequence with at least two items, and ``[n_seq]`` their lengths.
        Built once (cached while ``train`` is the same list), sliced per batch."""
        if self._train_cache is None or self._train_cache[0] is not train:
            width = self.config.max_len + 1
            lengths = np.fromiter((min(len(s), width) for s in train), dtype=np.int64, count=len(train))
            keep = np.flatnonzero(lengths >= 2)  # one item gives no (input, target) pair
            lengths = lengths[keep]
            # Vectorised right padding: the flat tail of every kept sequence, scattered into rows.
            tails = [train[i][-width:] for i in keep]
            flat = np.concatenate(tails).astype(np.int64) if len(tails) else np.zeros(0, dtype=np.int64)
            rows = np.repeat(np.arange(len(keep)), lengths)
            cols = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            matrix = np.zeros((len(keep), width), dtype=np.int64)
            matrix[rows, cols] = flat
            self._train_cache = (train, matrix, lengths)
        return self._train_cache[1], self._train_cache[2]

    def batches(self, train: list[np.ndarray], batch_size: int, rng: np.random.Generator) -> Iterator[SeqBatch]:
        matrix, lengths = self._train_matrix(train)
        order = rng.permutation(len(matrix))
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
            t = int(lengths[idx].max())  # drop columns that are padding in every row
            rows = torch.from_numpy(matrix[idx, :t])
            yield SeqBatch(rows[:, :-1], rows[:, 1:])

    def loss(self, batch: SeqBatch) -> torch.Tensor:
        states = self._states(batch.inputs)  # [B, T, hidden]
        mask = batch.targets != PAD  # [B, T]; right padding: real targets only
        logits = self._logits(states[mask], skip_pad=True)  # [N, n_items]
        return F.cross_entropy(logits, batch.targets[mask] - 1)

    # -------------------------------------------------------------- inference
    def score(self, users: torch.Tensor, histories: torch.Tensor) -> torch.Tensor:
        """``[batch, n_items + 1]`` next-item logits after left-padded ``histories [batch, L]``."""
        batch, length = histories.shape
        lengths = (histories != PAD).sum(1)  # [B]
        # Rotate each row left by its padding so items sit at 0..len-1 (right padding).
        shift = (length - lengths).unsqueeze(1)
        pos = (torch.arange(length, device=histories.device).unsqueeze(0) + shift) % length
        t = max(int(lengths.max()), 1) if batch else 1
        right = histories.gather(1, pos)[:, :t]  # [B, t]
        states = self._states(right)  # [B, t, hidden]
        # An empty history reads the state after one padding step: a fixed, history-free guess.
        last = (lengths - 1).clamp(min=0)
        final = states[torch.arange(batch, device=histories.device), last]  # [B, hidden]
        return self._logits(final)
