"""Transformer blocks shared by the self-attentive sequential models (SASRec, BERT4Rec).

Sequences are LEFT-padded (most recent item last, ``0`` = padding). Two conventions make
a model's output independent of how much padding a sequence carries, so a batch can be
trimmed to its longest real sequence and scoring does not depend on the padded width:

* padding keys are masked out of attention (every query still sees itself, so no
  attention row is empty and padded rows stay finite; their outputs are discarded);
* positions are counted from the right end (:func:`right_aligned_positions`): the most
  recent item always has position ``max_len - 1``, as in SASRec's fixed-width window.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn


def right_aligned_positions(width: int, max_len: int, device: torch.device) -> torch.Tensor:
    """``[width]`` position ids of a left-padded window: ``max_len - width .. max_len - 1``."""
    if width > max_len:
        raise ValueError(f"sequence width {width} exceeds max_len {max_len}")
    return torch.arange(max_len - width, max_len, device=device)


def attention_mask(valid: torch.Tensor, causal: bool) -> torch.Tensor:
    """Boolean ``[batch, 1, L, L]`` mask, True where query ``i`` may attend to key ``j``.

    Args:
        valid: ``[batch, L]`` True at real (non-padding) positions.
        causal: also forbid keys after the query (``j > i``).
    """
    length = valid.shape[1]
    allowed = valid[:, None, None, :]  # keys that are real items
    if causal:
        allowed = allowed & torch.ones(length, length, dtype=torch.bool, device=valid.device).tril()
    # The diagonal keeps padded query rows non-empty (softmax over nothing is NaN).
    return allowed | torch.eye(length, dtype=torch.bool, device=valid.device)


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention over ``[batch, L, dim]`` with a boolean mask."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        if dim % heads:
            raise ValueError(f"embedding_dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.dropout = dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x``: ``[B, L, D]``, ``mask``: ``[B, 1, L, L]`` bool -> ``[B, L, D]``."""
        b, length, dim = x.shape
        q, k, v = self.qkv(x).view(b, length, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0)
        return self.out(out.transpose(1, 2).reshape(b, length, dim))


class FeedForward(nn.Module):
    """Position-wise feed-forward network ``Linear -> act -> dropout -> Linear``."""

    def __init__(self, dim: int, hidden: int, dropout: float, activation: str):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.act = {"relu": nn.ReLU(), "gelu": nn.GELU()}[activation]
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.drop(self.act(self.fc1(x))))


class TransformerBlock(nn.Module):
    """Self-attention + feed-forward with residuals.

    ``norm_first=True`` is pre-LN (SASRec's official code: ``x + Attn(LN(x))``, then
    ``x + FFN(LN(x))``); ``False`` is the original post-LN (BERT, BERT4Rec:
    ``LN(x + Attn(x))``, then ``LN(x + FFN(x))``).
    """

    def __init__(self, dim: int, heads: int, hidden: int, dropout: float, activation: str, norm_first: bool):
        super().__init__()
        self.norm_first = norm_first
        self.attn = MultiHeadSelfAttention(dim, heads, dropout)
        self.ffn = FeedForward(dim, hidden, dropout, activation)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.norm_first:
            x = x + self.drop(self.attn(self.norm1(x), mask))
            return x + self.drop(self.ffn(self.norm2(x)))
        x = self.norm1(x + self.drop(self.attn(x, mask)))
        return self.norm2(x + self.drop(self.ffn(x)))


class TransformerEncoder(nn.Module):
    """A stack of :class:`TransformerBlock` over left-padded sequences.

    Padding positions are zeroed after every block (SASRec's "timeline mask"), so
    they carry nothing even through the residual stream; a final LayerNorm follows
    when ``norm_first`` (pre-LN stacks need it, post-LN blocks end normalised).
    """

    def __init__(
        self,
        dim: int,
        layers: int,
        heads: int,
        hidden: int,
        dropout: float,
        *,
        causal: bool,
        norm_first: bool,
        activation: str = "relu",
    ):
        super().__init__()
        self.causal = causal
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, heads, hidden, dropout, activation, norm_first) for _ in range(layers)
        )
        self.final_norm = nn.LayerNorm(dim) if norm_first else nn.Identity()

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``x``: ``[B, L, D]`` embedded inputs, ``valid``: ``[B, L]`` bool -> ``[B, L, D]``."""
        mask = attention_mask(valid, self.causal)
        keep = valid.unsqueeze(-1).to(x.dtype)
        x = x * keep
        for block in self.blocks:
            x = block(x, mask) * keep
        return self.final_norm(x)


def encode_by_length(
    encode: Callable[[torch.Tensor], torch.Tensor], seqs: torch.Tensor, chunks: int = 8, min_rows: int = 32
) -> torch.Tensor:
    """``encode(seqs)`` computed on length-sorted row chunks, each trimmed to its own width.

    Sequence lengths are very skewed in recommendation data (Beauty: mean 9, cap 50), so a
    random batch padded to its longest row is mostly padding; encoding rows of similar
    length together cuts the tokens processed ~4x. Thanks to the key-padding mask and
    right-aligned positions the real positions' outputs equal those of one padded pass
    (the batch and its loss are unchanged). Outputs at padding positions are meaningless.

    Args:
        encode: ``[b, w]`` left-padded ids -> ``[b, w, D]``.
        seqs: ``[B, W]`` left-padded ids.
        chunks: at most this many chunks (fewer when rows would drop under ``min_rows``).

    Returns:
        ``[B, W, D]``, rows in the input order.
    """
    n, width = seqs.shape
    lengths = (seqs != 0).sum(1)
    order = torch.argsort(lengths, descending=True)
    rows_per_chunk = max(min_rows, -(-n // chunks))
    sorted_lengths = lengths[order].tolist()
    parts = []
    for lo in range(0, n, rows_per_chunk):
        rows = order[lo : lo + rows_per_chunk]
        w = max(sorted_lengths[lo], 1)
        parts.append(F.pad(encode(seqs[rows, width - w :]), (0, 0, width - w, 0)))
    return torch.cat(parts)[torch.argsort(order)]
