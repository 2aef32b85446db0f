"""SASRec: self-attentive sequential recommendation (Kang & McAuley, ICDM 2018).

A causal transformer reads a user's item sequence; the hidden state at position ``t``
predicts item ``t + 1`` by a dot product with the (shared) item embeddings.

Two training objectives:

* ``loss="ce"`` (the default): full softmax cross-entropy over all items at every real
  position, the current practice and much stronger on full-ranking evaluation (Klenitskiy &
  Vasilev, RecSys 2023): test NDCG@10 0.057 against 0.028 on Amazon Beauty
  (``benchmarks/results/beauty.md``).
* ``loss="bce"`` (the paper, ``--set loss=bce``): at every real position, binary
  cross-entropy on the positive next item and ``n_negatives`` uniformly sampled negatives.
* ``loss="sampled_softmax"`` (sampled softmax): at every real position, softmax cross-entropy over
  the positive and ``n_negatives`` uniformly sampled negatives. Its cost grows with
  ``n_negatives``, not with the catalogue, so it sits between ``bce`` and ``ce`` for large
  catalogues. Sampling is uniform, so the logQ correction is a constant and is left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agenticrs.recsys.data.dataset import PAD, Dataset, Split
from agenticrs.recsys.models.base import ModelConfig, Recommender, register_model
from agenticrs.recsys.models.transformer import TransformerEncoder, encode_by_length, right_aligned_positions


SASREC_LOSSES: tuple[str, ...] = ("ce", "bce", "sampled_softmax")
"""SASRec's training objectives (module docstring)."""


@dataclass
class SASRecConfig(ModelConfig):
    """SASRec hyperparameters (architecture defaults follow the paper, ``max_len`` from ModelConfig = 50;
    the loss defaults to full-softmax ``ce``, the paper's ``bce`` is ``loss="bce"``)."""

    embedding_dim: int = 64
    """Item/position embedding and hidden size (the paper uses 50)."""
    layers: int = 2
    """Self-attention blocks."""
    heads: int = 1
    dropout: float = 0.2
    """Dropout on embeddings, attention weights, residual branches and the FFN. 0.2 (the
    paper's MovieLens value) trains fastest; the paper uses 0.5 on sparse data such as
    Beauty, which helps ``bce`` when training long enough."""
    loss: str = "ce"
    """``ce`` (full softmax over all items, the strongest: see the module docstring), ``bce``
    (sampled negatives, the paper's variant) or ``sampled_softmax`` (softmax over the positive and
    ``n_negatives`` sampled negatives). The default used to be ``bce``;
    every env, table and committed result names its loss explicitly, so none changed meaning."""
    n_negatives: int = 1
    """Negatives per position for ``loss="bce"`` and ``loss="sampled_softmax"``."""
    block: str = "sasrec"
    """``sasrec``: the official code's pre-LN block (ReLU FFN of width ``embedding_dim``, final
    LayerNorm, item embeddings scaled by ``sqrt(dim)``, Xavier init); ``s3rec``: the BERT-style
    block of the S3-Rec code base, common in Amazon-review baselines (post-LN, GELU FFN of width
    ``4 * embedding_dim``, LayerNorm on the embeddings, normal(0, 0.02) init)."""

    def __post_init__(self) -> None:
        if self.loss not in SASREC_LOSSES:
            raise ValueError(f"sasrec: field 'loss' must be one of {', '.join(SASREC_LOSSES)}, got {self.loss!r}")
        if self.block not in ("sasrec", "s3rec"):
            raise ValueError(f"sasrec: field 'block' must be 'sasrec' or 's3rec', got {self.block!r}")
        for name in ("embedding_dim", "layers", "heads", "max_len", "n_negatives"):
            if getattr(self, name) < 1:
                raise ValueError(f"sasrec: field {name!r} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"sasrec: field 'dropout' must be in [0, 1), got {self.dropout}")
        if self.embedding_dim % self.heads:
            raise ValueError(f"sasrec: field 'embedding_dim' ({self.embedding_dim}) must be divisible by heads ({self.heads})")


class SeqBatch(NamedTuple):
    """Next-item training batch, left-padded and trimmed to the batch's longest sequence.

    Attributes:
        inputs: ``[B, W]`` item ids (0 = padding).
        targets: ``[B, W]`` the next item at each position (0 where ``inputs`` is padding).
        negatives: ``[B, W, n_negatives]`` sampled negatives (``loss="bce"`` or ``"sampled_softmax"``), else ``[B, W, 0]``.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    negatives: torch.Tensor


def next_item_matrices(train: list[np.ndarray], max_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Left-padded (input, target) matrices for next-item training, built once.

    Each sequence is cut to its most recent ``max_len + 1`` items; input ``seq[:-1]``,
    target ``seq[1:]``. Sequences shorter than 2 give no pair and are skipped.

    Returns:
        ``inputs [n, max_len]``, ``targets [n, max_len]`` and ``lengths [n]`` (real positions).
    """
    keep = [s[-(max_len + 1):] for s in train if len(s) >= 2]
    lengths = np.fromiter((len(s) - 1 for s in keep), dtype=np.int64, count=len(keep))
    inputs = np.full((len(keep), max_len), PAD, dtype=np.int64)
    targets = np.full((len(keep), max_len), PAD, dtype=np.int64)
    if len(keep):
        flat = np.concatenate(keep)
        starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
        # Row r, column max_len - len + j holds the j-th pair: vectorised scatter.
        rows = np.repeat(np.arange(len(keep)), lengths)
        j = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        cols = max_len - np.repeat(lengths, lengths) + j
        src = np.repeat(starts, lengths) + j
        inputs[rows, cols] = flat[src]
        targets[rows, cols] = flat[src + 1]
    return inputs, targets, lengths


def sample_negatives(positives: np.ndarray, n_items: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``[*positives.shape, n]`` uniform items in ``1..n_items`` different from the positive."""
    neg = rng.integers(1, n_items + 1, size=(*positives.shape, n))
    clash = neg == positives[..., None]
    while clash.any() and n_items > 1:  # resample the few collisions
        neg[clash] = rng.integers(1, n_items + 1, size=int(clash.sum()))
        clash = neg == positives[..., None]
    return neg


@register_model("sasrec")
class SASRec(Recommender):
    """Causal self-attention next-item recommender.

    Item embeddings (``padding_idx=0``) scaled by ``sqrt(dim)`` plus learned positional
    embeddings, dropout, ``layers`` pre-LN causal blocks, final LayerNorm; the output of
    position ``t`` is scored against the same item embedding table. ``block="s3rec"``
    swaps in the S3-Rec code's post-LN GELU block (see :class:`SASRecConfig`).
    """

    Config = SASRecConfig
    config: SASRecConfig

    def __init__(self, n_items: int, n_users: int, config: SASRecConfig, dataset: Dataset | None = None):
        super().__init__(n_items, n_users, config, dataset)
        d = config.embedding_dim
        self.item_emb = nn.Embedding(n_items + 1, d, padding_idx=PAD)
        self.pos_emb = nn.Embedding(config.max_len, d)
        self.emb_drop = nn.Dropout(config.dropout)
        s3rec = config.block == "s3rec"
        self.emb_norm = nn.LayerNorm(d) if s3rec else nn.Identity()
        self.encoder = TransformerEncoder(
            d, config.layers, config.heads, 4 * d if s3rec else d, config.dropout, causal=True,
            norm_first=not s3rec, activation="gelu" if s3rec else "relu",
        )
        self._init_weights()
        self._train: tuple[torch.Tensor, torch.Tensor, np.ndarray] | None = None

    def _init_weights(self) -> None:
        # Xavier-normal everywhere, as the official implementation (S3-Rec: normal(0, 0.02));
        # LayerNorms keep (1, 0).
        for name, p in self.named_parameters():
            if p.dim() > 1:
                if self.config.block == "s3rec":
                    nn.init.normal_(p, 0.0, 0.02)
                else:
                    nn.init.xavier_normal_(p)
            elif "norm" not in name:
                nn.init.zeros_(p)
        with torch.no_grad():
            self.item_emb.weight[PAD].zero_()

    # ------------------------------------------------------------------ model
    def encode(self, seqs: torch.Tensor) -> torch.Tensor:
        """``[B, W]`` left-padded item ids (``W <= max_len``) -> ``[B, W, D]`` hidden states."""
        valid = seqs != PAD
        x = self.item_emb(seqs)
        if self.config.block == "sasrec":
            x = x * math.sqrt(self.config.embedding_dim)
        x = x + self.pos_emb(right_aligned_positions(seqs.shape[1], self.config.max_len, seqs.device))
        return self.encoder(self.emb_drop(self.emb_norm(x)), valid)

    # ------------------------------------------------------------------ training hooks
    def fit(self, split: Split) -> None:
        self._prepare(split.train)

    def _prepare(self, train: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        inputs, targets, lengths = next_item_matrices(train, self.config.max_len)
        if not len(lengths):
            raise ValueError("sasrec: no training sequence has 2 or more items")
        self._train = (torch.from_numpy(inputs), torch.from_numpy(targets), lengths)
        return self._train

    def batches(self, train: list[np.ndarray], batch_size: int, rng: np.random.Generator) -> Iterator[SeqBatch]:
        # fit() precomputed the padded matrices; build them here if batches() is called alone.
        inputs, targets, lengths = self._train if self._train is not None else self._prepare(train)
        order = rng.permutation(len(lengths))
        n_neg = self.config.n_negatives if self.config.loss in ("bce", "sampled_softmax") else 0
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
            width = int(lengths[idx].max())  # trim the all-padding left columns
            tgt = targets[idx, -width:]
            if n_neg:
                neg = torch.from_numpy(sample_negatives(tgt.numpy(), self.n_items, n_neg, rng))
            else:
                neg = torch.zeros(*tgt.shape, 0, dtype=torch.long)
            yield SeqBatch(inputs[idx, -width:], tgt, neg)

    def loss(self, batch: SeqBatch) -> torch.Tensor:
        valid = batch.targets != PAD
        hidden = encode_by_length(self.encode, batch.inputs)[valid]  # [N, D]: only real positions
        pos = batch.targets[valid]  # [N]
        if self.config.loss == "ce":
            logits = hidden @ self.item_emb.weight[1:].T  # [N, n_items]; padding is not a class
            return F.cross_entropy(logits, pos - 1)
        pos_logits = (hidden * self.item_emb(pos)).sum(-1)  # [N]
        neg_logits = (hidden.unsqueeze(1) * self.item_emb(batch.negatives[valid])).sum(-1)  # [N, n_neg]
        if self.config.loss == "sampled_softmax":
            # the positive is class 0 of [positive, negatives]
            logits = torch.cat([pos_logits.unsqueeze(1), neg_logits], dim=1)  # [N, 1 + n_neg]
            return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long))
        return F.binary_cross_entropy_with_logits(
            pos_logits, torch.ones_like(pos_logits)
        ) + F.binary_cross_entropy_with_logits(neg_logits, torch.zeros_like(neg_logits))

    # ------------------------------------------------------------------ inference
    def score(self, users: torch.Tensor, histories: torch.Tensor) -> torch.Tensor:
        """``histories [B, L]`` (left-padded, most recent last) -> ``[B, n_items + 1]``."""
        last = encode_by_length(self.encode, histories[:, -self.config.max_len :])[:, -1]  # [B, D]
        return last @ self.item_emb.weight.T
