"""SASRec with selectable input features: the backbone the AutoFeature agent evolves.

The same causal transformer as :mod:`~agenticrs.recsys.models.sasrec` (``loss`` bce or ce),
but each item's representation is *built from features the config switches on*:

* ``item_id``: a learned id embedding (the usual SASRec input);
* ``text``: the item text's TF-IDF + SVD vector (``text_dim``), projected to ``embedding_dim``
  (a world-knowledge stand-in; the encoder is fitted once, offline, on the catalogue text);
* ``attributes``: the mean of learned embeddings of the item's attribute ids (brand, category);

fused by ``fusion``: ``sum`` (no learned fusion: the vectors are added), ``concat`` (a linear
map of the concatenation) or ``gating`` (each vector scaled by a learned sigmoid gate computed
from the concatenation, then summed). The fused vectors form one ``[n_items + 1, dim]`` table
used both as the input embedding and as the output scoring matrix (tied, as SASRec).

Sequence features: ``positional`` (learned, right-aligned positions), ``time_gap`` (learned
embedding of ``floor(log2(1 + gap_minutes))`` between consecutive interactions; datasets without
timestamps get gap bucket 0 everywhere, so the feature carries no information), and
``max_len`` (history length).
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
from agenticrs.recsys.models.base import Recommender, register_model
from agenticrs.recsys.models.sasrec import SASRecConfig, sample_negatives
from agenticrs.recsys.models.transformer import TransformerEncoder, encode_by_length, right_aligned_positions

FUSIONS = ("sum", "concat", "gating")
GAP_BUCKETS = 32


@dataclass
class SASRecFeaturesConfig(SASRecConfig):
    """SASRec hyperparameters plus the feature switches (defaults = plain SASRec with ``ce``)."""

    loss: str = "ce"
    item_id: bool = True
    """Learned item-id embedding."""
    text: bool = False
    """Item-text embedding (TF-IDF + SVD, projected)."""
    attributes: bool = False
    """Mean of item-attribute embeddings."""
    positional: bool = True
    """Learned right-aligned positional embedding."""
    time_gap: bool = False
    """Embedding of the log-bucketed time gap to the previous interaction."""
    fusion: str = "sum"
    """How item features are fused: ``sum`` (none), ``concat`` or ``gating``."""
    text_dim: int = 32
    """Dimension of the offline text vectors."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (self.item_id or self.text or self.attributes):
            raise ValueError("sasrec_features: at least one of 'item_id', 'text', 'attributes' must be on")
        if self.fusion not in FUSIONS:
            raise ValueError(f"sasrec_features: field 'fusion' must be one of {FUSIONS}, got {self.fusion!r}")
        if self.text_dim < 1:
            raise ValueError(f"sasrec_features: field 'text_dim' must be >= 1, got {self.text_dim}")


class FeatureBatch(NamedTuple):
    """Like :class:`~agenticrs.recsys.models.sasrec.SeqBatch` plus ``gaps [B, W]`` (bucket ids)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    negatives: torch.Tensor
    gaps: torch.Tensor


def gap_buckets(timestamps: np.ndarray | None, n: int) -> np.ndarray:
    """``[n]`` int64 gap bucket of each interaction (0 for the first one and without timestamps)."""
    out = np.zeros(n, dtype=np.int64)
    if timestamps is not None and n > 1:
        minutes = np.maximum(np.diff(np.asarray(timestamps, dtype=np.float64)), 0.0) / 60.0
        out[1:] = np.minimum(np.floor(np.log2(1.0 + minutes)), GAP_BUCKETS - 1).astype(np.int64)
    return out


@register_model("sasrec_features")
class SASRecFeatures(Recommender):
    """Feature-aware SASRec (see the module docstring).

    Buffers: ``text_vectors [n_items + 1, text_dim]`` (zeros when text is off or missing),
    ``attr_ids [n_items + 1, A]`` (0-padded attribute ids).
    """

    Config = SASRecFeaturesConfig
    config: SASRecFeaturesConfig

    def __init__(self, n_items: int, n_users: int, config: SASRecFeaturesConfig, dataset: Dataset | None = None):
        super().__init__(n_items, n_users, config, dataset)
        c, d = config, config.embedding_dim
        n_parts = 0
        if c.item_id:
            self.item_emb = nn.Embedding(n_items + 1, d, padding_idx=PAD)
            n_parts += 1
        if c.text:
            self.register_buffer("text_vectors", self._text_vectors(dataset, n_items, c.text_dim))
            self.text_proj = nn.Linear(c.text_dim, d)
            n_parts += 1
        if c.attributes:
            ids = self._attribute_ids(dataset, n_items)
            self.register_buffer("attr_ids", ids)
            self.attr_emb = nn.Embedding(int(ids.max()) + 1, d, padding_idx=0)
            n_parts += 1
        self.n_parts = n_parts
        if n_parts > 1 and c.fusion == "concat":
            self.fuse = nn.Linear(n_parts * d, d)
        elif n_parts > 1 and c.fusion == "gating":
            self.gate = nn.Linear(n_parts * d, n_parts * d)
        if c.positional:
            self.pos_emb = nn.Embedding(c.max_len, d)
        if c.time_gap:
            self.gap_emb = nn.Embedding(GAP_BUCKETS, d)
        self.emb_drop = nn.Dropout(c.dropout)
        self.encoder = TransformerEncoder(d, c.layers, c.heads, d, c.dropout, causal=True, norm_first=True,
                                          activation="relu")
        for name, p in self.named_parameters():
            if p.dim() > 1:
                nn.init.xavier_normal_(p)
            elif "norm" not in name:
                nn.init.zeros_(p)
        self._gaps = self._user_gaps(dataset) if c.time_gap else None
        self._seqs = [dataset.sequence(u) for u in range(dataset.n_users)] if self._gaps is not None else []
        self._train: tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray] | None = None

    # ------------------------------------------------------------------ features
    @staticmethod
    def _text_vectors(dataset: Dataset | None, n_items: int, dim: int) -> torch.Tensor:
        if dataset is None or dataset.item_text is None:
            return torch.zeros(n_items + 1, dim)
        from agenticrs.recsys.pipeline.components import text_item_embeddings

        emb = text_item_embeddings(dataset, dim)
        if emb is None:
            return torch.zeros(n_items + 1, dim)
        # Unit rows at a fixed scale: SVD components vary by orders of magnitude.
        return emb / emb.norm(dim=1, keepdim=True).clamp_min(1e-12)

    @staticmethod
    def _attribute_ids(dataset: Dataset | None, n_items: int) -> torch.Tensor:
        attrs = dataset.item_attributes if dataset is not None else None
        if attrs is None:
            return torch.zeros(n_items + 1, 1, dtype=torch.long)
        width = max(1, max(len(a) for a in attrs))
        out = torch.zeros(n_items + 1, width, dtype=torch.long)
        for i, a in enumerate(attrs):
            if len(a):
                out[i, : len(a)] = torch.as_tensor(a, dtype=torch.long) + 1  # 0 stays padding
        return out

    @staticmethod
    def _user_gaps(dataset: Dataset | None) -> list[np.ndarray] | None:
        if dataset is None:
            return None
        ts = dataset.timestamps
        return [gap_buckets(None if ts is None else ts[dataset.offsets[u] : dataset.offsets[u + 1]],
                            int(dataset.offsets[u + 1] - dataset.offsets[u])) for u in range(dataset.n_users)]

    def item_table(self) -> torch.Tensor:
        """``[n_items + 1, dim]`` fused item representations (row 0 = padding = zeros)."""
        parts = []
        if self.config.item_id:
            parts.append(self.item_emb.weight)
        if self.config.text:
            parts.append(self.text_proj(self.text_vectors))
        if self.config.attributes:
            ids = self.attr_ids
            e = self.attr_emb(ids)  # [N, A, d]
            parts.append(e.sum(1) / (ids != 0).sum(1, keepdim=True).clamp_min(1))
        if len(parts) == 1 or self.config.fusion == "sum":
            table = torch.stack(parts).sum(0)
        elif self.config.fusion == "concat":
            table = self.fuse(torch.cat(parts, dim=1))
        else:
            gates = torch.sigmoid(self.gate(torch.cat(parts, dim=1))).chunk(len(parts), dim=1)
            table = sum(g * p for g, p in zip(gates, parts))
        mask = torch.ones(table.shape[0], 1, device=table.device)
        mask[PAD] = 0.0
        return table * mask

    def encode(self, seqs: torch.Tensor, table: torch.Tensor | None = None, gaps: torch.Tensor | None = None
               ) -> torch.Tensor:
        """``[B, W]`` left-padded ids (+ ``gaps [B, W]``) -> ``[B, W, D]`` hidden states."""
        table = self.item_table() if table is None else table
        x = table[seqs] * math.sqrt(self.config.embedding_dim)
        if self.config.positional:
            x = x + self.pos_emb(right_aligned_positions(seqs.shape[1], self.config.max_len, seqs.device))
        if self.config.time_gap and gaps is not None:
            x = x + self.gap_emb(gaps)
        return self.encoder(self.emb_drop(x), seqs != PAD)

    # ------------------------------------------------------------------ training hooks
    def fit(self, split: Split) -> None:
        self._prepare(split.train)

    def _prepare(self, train: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray]:
        L = self.config.max_len
        rows = [u for u, s in enumerate(train) if len(s) >= 2]
        if not rows:
            raise ValueError("sasrec_features: no training sequence has 2 or more items")
        inputs = np.zeros((len(rows), L), dtype=np.int64)
        targets = np.zeros((len(rows), L), dtype=np.int64)
        gaps = np.zeros((len(rows), L), dtype=np.int64)
        lengths = np.zeros(len(rows), dtype=np.int64)
        for r, u in enumerate(rows):
            s = train[u][-(L + 1):]
            n = len(s) - 1
            inputs[r, L - n:], targets[r, L - n:], lengths[r] = s[:-1], s[1:], n
            if self._gaps is not None:
                g = self._gaps[u][: len(train[u])][-(L + 1):]  # train[u] is a prefix of user u's sequence
                gaps[r, L - n:] = g[:-1]
        self._train = (torch.from_numpy(inputs), torch.from_numpy(targets), torch.from_numpy(gaps), lengths)
        return self._train

    def batches(self, train: list[np.ndarray], batch_size: int, rng: np.random.Generator) -> Iterator[FeatureBatch]:
        inputs, targets, gaps, lengths = self._train if self._train is not None else self._prepare(train)
        order = rng.permutation(len(lengths))
        n_neg = self.config.n_negatives if self.config.loss == "bce" else 0
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
            w = int(lengths[idx].max())
            tgt = targets[idx, -w:]
            neg = (torch.from_numpy(sample_negatives(tgt.numpy(), self.n_items, n_neg, rng)) if n_neg
                   else torch.zeros(*tgt.shape, 0, dtype=torch.long))
            yield FeatureBatch(inputs[idx, -w:], tgt, neg, gaps[idx, -w:])

    def loss(self, batch: FeatureBatch) -> torch.Tensor:
        table = self.item_table()
        valid = batch.targets != PAD
        hidden = self.encode(batch.inputs, table, batch.gaps)[valid]  # [N, D]
        pos = batch.targets[valid]
        if self.config.loss == "ce":
            return F.cross_entropy(hidden @ table[1:].T, pos - 1)
        pos_logits = (hidden * table[pos]).sum(-1)
        neg_logits = (hidden.unsqueeze(1) * table[batch.negatives[valid]]).sum(-1)
        return (F.binary_cross_entropy_with_logits(pos_logits, torch.ones_like(pos_logits))
                + F.binary_cross_entropy_with_logits(neg_logits, torch.zeros_like(neg_logits)))

    # ------------------------------------------------------------------ inference
    def _history_gaps(self, users: torch.Tensor, histories: torch.Tensor) -> torch.Tensor | None:
        """``[B, L]`` gap buckets aligned with left-padded histories (prefixes of each user's sequence)."""
        if self._gaps is None:
            return None
        out = torch.zeros_like(histories)
        L = histories.shape[1]
        for r, u in enumerate(users.tolist()):
            n = int((histories[r] != PAD).sum())
            if n == 0:
                continue
            seq, g = self._seqs[u], self._gaps[u]
            # The history ends at the latest occurrence of its last item that leaves a target after it.
            hits = np.flatnonzero(seq[:-1] == int(histories[r, -1]))
            end = int(hits[-1]) + 1 if len(hits) else len(seq) - 1
            n = min(n, end)
            out[r, L - n:] = torch.from_numpy(g[end - n : end])
        return out

    def score(self, users: torch.Tensor, histories: torch.Tensor) -> torch.Tensor:
        """``histories [B, L]`` (left-padded, most recent last) -> ``[B, n_items + 1]``."""
        h = histories[:, -self.config.max_len :]
        table = self.item_table()
        gaps = self._history_gaps(users.cpu(), h.cpu())
        if gaps is not None:
            gaps = gaps.to(h.device)
            last = self.encode(h, table, gaps)[:, -1]
        else:
            last = encode_by_length(lambda s: self.encode(s, table), h)[:, -1]  # [B, D]
        return last @ table.T
