"""BERT4Rec: bidirectional transformer trained by the cloze task (Sun et al., CIKM 2019).

Training replaces a random ``mask_prob`` share of each sequence's items by a ``[MASK]``
token (id ``n_items + 1``) and predicts the original items with a full softmax over all
items. To recommend, ``[MASK]`` is appended after the history and its output is scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agenticrs.recsys.data.dataset import PAD, Dataset, Split
from agenticrs.recsys.models.base import ModelConfig, Recommender, register_model
from agenticrs.recsys.models.transformer import TransformerEncoder, encode_by_length, right_aligned_positions


@dataclass
class BERT4RecConfig(ModelConfig):
    """BERT4Rec hyperparameters (``max_len`` from ModelConfig = 50, including the [MASK] slot)."""

    embedding_dim: int = 64
    layers: int = 2
    heads: int = 2
    dropout: float = 0.2
    """Dropout on embeddings, attention weights, residual branches and the FFN."""
    mask_prob: float = 0.2
    """Share of each training sequence's items replaced by [MASK] (at least one per sequence)."""
    last_item_prob: float = 0.0
    """Share of training sequences in which only the last item is masked, which mimics the
    recommendation query (the paper's "mask last" augmentation); 0 disables."""

    def __post_init__(self) -> None:
        for name in ("embedding_dim", "layers", "heads"):
            if getattr(self, name) < 1:
                raise ValueError(f"bert4rec: field {name!r} must be >= 1, got {getattr(self, name)}")
        if self.max_len < 2:
            raise ValueError(f"bert4rec: field 'max_len' must be >= 2 (history + [MASK]), got {self.max_len}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"bert4rec: field 'dropout' must be in [0, 1), got {self.dropout}")
        if not 0.0 < self.mask_prob <= 1.0:
            raise ValueError(f"bert4rec: field 'mask_prob' must be in (0, 1], got {self.mask_prob}")
        if not 0.0 <= self.last_item_prob <= 1.0:
            raise ValueError(f"bert4rec: field 'last_item_prob' must be in [0, 1], got {self.last_item_prob}")
        if self.embedding_dim % self.heads:
            raise ValueError(f"bert4rec: field 'embedding_dim' ({self.embedding_dim}) must be divisible by heads ({self.heads})")


class ClozeBatch(NamedTuple):
    """Masked-item training batch, left-padded and trimmed to the batch's longest sequence.

    Attributes:
        inputs: ``[B, W]`` item ids with masked positions set to ``n_items + 1``.
        labels: ``[B, W]`` the original item at masked positions, 0 elsewhere.
    """

    inputs: torch.Tensor
    labels: torch.Tensor


@register_model("bert4rec")
class BERT4Rec(Recommender):
    """Bidirectional self-attention recommender (post-LN BERT blocks, GELU FFN of 4x width).

    Output head as in the paper: ``Linear -> GELU -> LayerNorm``, then a dot product with
    the shared item embeddings plus a per-item bias.
    """

    Config = BERT4RecConfig
    config: BERT4RecConfig

    def __init__(self, n_items: int, n_users: int, config: BERT4RecConfig, dataset: Dataset | None = None):
        super().__init__(n_items, n_users, config, dataset)
        d = config.embedding_dim
        self.mask_id = n_items + 1
        self.item_emb = nn.Embedding(n_items + 2, d, padding_idx=PAD)
        self.pos_emb = nn.Embedding(config.max_len, d)
        self.emb_norm = nn.LayerNorm(d)
        self.emb_drop = nn.Dropout(config.dropout)
        self.encoder = TransformerEncoder(
            d, config.layers, config.heads, 4 * d, config.dropout, causal=False, norm_first=False, activation="gelu"
        )
        self.head = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.LayerNorm(d))
        self.out_bias = nn.Parameter(torch.zeros(n_items + 1))
        self._init_weights()
        self._train: tuple[torch.Tensor, np.ndarray] | None = None

    def _init_weights(self) -> None:
        # BERT's initialisation: N(0, 0.02) weights (truncated), zero biases, LayerNorm (1, 0).
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.trunc_normal_(module.weight, std=0.02, a=-0.04, b=0.04)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        with torch.no_grad():
            self.item_emb.weight[PAD].zero_()

    # ------------------------------------------------------------------ model
    def encode(self, seqs: torch.Tensor) -> torch.Tensor:
        """``[B, W]`` left-padded ids (``W <= max_len``, may contain [MASK]) -> ``[B, W, D]``."""
        x = self.item_emb(seqs) + self.pos_emb(right_aligned_positions(seqs.shape[1], self.config.max_len, seqs.device))
        return self.encoder(self.emb_drop(self.emb_norm(x)), seqs != PAD)

    def item_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """``[N, D]`` output states -> ``[N, n_items + 1]`` logits (column 0 = padding, unused)."""
        return self.head(hidden) @ self.item_emb.weight[: self.n_items + 1].T + self.out_bias

    # ------------------------------------------------------------------ training hooks
    def fit(self, split: Split) -> None:
        self._prepare(split.train)

    def _prepare(self, train: list[np.ndarray]) -> tuple[torch.Tensor, np.ndarray]:
        """Left-pad each training sequence's most recent ``max_len`` items once."""
        seqs = [s[-self.config.max_len:] for s in train if len(s) >= 2]
        if not seqs:
            raise ValueError("bert4rec: no training sequence has 2 or more items")
        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        matrix = np.full((len(seqs), self.config.max_len), PAD, dtype=np.int64)
        rows = np.repeat(np.arange(len(seqs)), lengths)
        cols = self.config.max_len - np.repeat(lengths, lengths) + (
            np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        )
        matrix[rows, cols] = np.concatenate(seqs)
        self._train = (torch.from_numpy(matrix), lengths)
        return self._train

    def batches(self, train: list[np.ndarray], batch_size: int, rng: np.random.Generator) -> Iterator[ClozeBatch]:
        # fit() precomputed the padded matrix; build it here if batches() is called alone.
        matrix, lengths = self._train if self._train is not None else self._prepare(train)
        order = rng.permutation(len(lengths))
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
            width = int(lengths[idx].max())
            seqs = matrix[idx, -width:].numpy()
            real = seqs != PAD
            masked = (rng.random(seqs.shape) < self.config.mask_prob) & real
            # "Mask last" rows: only the most recent item, as in the recommendation query.
            last_only = rng.random(len(idx)) < self.config.last_item_prob
            masked[last_only] = False
            masked[last_only, -1] = True
            # Every row predicts at least one item: mask one random real position if none.
            empty = np.flatnonzero(~masked.any(axis=1))
            if len(empty):
                pick = width - 1 - (rng.random(len(empty)) * lengths[idx][empty]).astype(np.int64)
                masked[empty, pick] = True
            labels = np.where(masked, seqs, PAD)
            inputs = np.where(masked, self.mask_id, seqs)
            yield ClozeBatch(torch.from_numpy(inputs), torch.from_numpy(labels))

    def loss(self, batch: ClozeBatch) -> torch.Tensor:
        where = batch.labels != PAD
        hidden = encode_by_length(self.encode, batch.inputs)[where]  # [N, D]: masked positions only
        logits = self.item_logits(hidden)[:, 1:]  # [N, n_items]; padding is not a class
        return F.cross_entropy(logits, batch.labels[where] - 1)

    # ------------------------------------------------------------------ inference
    def score(self, users: torch.Tensor, histories: torch.Tensor) -> torch.Tensor:
        """Append [MASK] after the history (dropping the oldest item beyond ``max_len - 1``).

        ``histories [B, L]`` left-padded, most recent last -> ``[B, n_items + 1]``.
        """
        keep = histories[:, max(histories.shape[1] - (self.config.max_len - 1), 0):]
        mask = torch.full((len(histories), 1), self.mask_id, dtype=histories.dtype, device=histories.device)
        return self.item_logits(encode_by_length(self.encode, torch.cat([keep, mask], dim=1))[:, -1])
