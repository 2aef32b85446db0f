"""Knowledge extraction for LWGR: personalised soft instructions and the fixed-template baseline.

*Soft instructions* (LWGR): ``n_instructions`` learnable vectors, shifted by a projection of
the user's behaviour summary, query the text side of the user's history: they decide,
per user, which words of each item's text are pooled (``end_to_end`` strategy, a small
trainable text encoder) and which history items' text knowledge is read out (both
strategies; in ``frozen`` the item text vectors come precomputed from a large frozen
encoder and only the instructions and adapters train).

*Pooled read-out* (``SoftInstructionPooling``): the same personalised instructions, but each
one only chooses *how much of each history item's text* to take; the chosen mix is pooled
in the text encoder's own space and mapped by an adapter. Its attention starts uniform, so
at initialisation it reads the mean text of the history, which is the content of the
fixed template; the instructions then learn, per user, which items' knowledge to extract.

*Fixed instruction* (KAR-style baseline): one hand-written template of the user's recent
history ("The user recently bought: ... What would they like next?") encoded by the text
encoder, identical in form for every user.
"""

from __future__ import annotations

import re
import zlib
from typing import Sequence

import numpy as np
import torch
from torch import nn

from agenticrs.recsys.data.dataset import PAD

TEMPLATE = "The user recently bought: {items}. What would the user like to buy next?"
_WORD = re.compile(r"\w+")


def hashed_word_ids(texts: Sequence[str], vocab: int, max_words: int) -> np.ndarray:
    """``[len(texts), max_words]`` int64 hashed word ids in ``1..vocab-1`` (0 = padding)."""
    out = np.zeros((len(texts), max_words), dtype=np.int64)
    for i, text in enumerate(texts):
        words = _WORD.findall(text.lower())[:max_words]
        out[i, : len(words)] = [1 + zlib.crc32(w.encode()) % (vocab - 1) for w in words]
    return out


def fixed_templates(histories: np.ndarray, item_text: Sequence[str], n_items: int) -> list[str]:
    """KAR-style prompts from ``histories [B, L]`` (left-padded): the last ``n_items`` titles."""
    out = []
    for row in histories:
        titles = [item_text[i].strip().rstrip(".") for i in row[row != PAD][-n_items:]]
        out.append(TEMPLATE.format(items="; ".join(t for t in titles if t) or "nothing yet"))
    return out


class SmallTextEncoder(nn.Module):
    """Trainable word-level item encoder (strategy ``end_to_end``).

    Each item's text is a bag of hashed words; an item vector is an attention-weighted mean
    of its word embeddings, where the attention query is the user's instruction vector, so
    the same item yields different knowledge for different users.
    """

    def __init__(self, vocab: int, dim: int):
        super().__init__()
        self.words = nn.Embedding(vocab, dim, padding_idx=0)
        self.out = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim))

    def forward(self, word_ids: torch.Tensor, query: torch.Tensor | None) -> torch.Tensor:
        """``word_ids [B, L, T]``, ``query [B, dim]`` or None (uniform pooling) -> ``[B, L, dim]``."""
        emb = self.words(word_ids)  # [B, L, T, d]
        real = word_ids != 0
        if query is None:
            weights = real.float()
        else:
            att = torch.einsum("bltd,bd->blt", emb, query) / emb.shape[-1] ** 0.5
            weights = att.masked_fill(~real, float("-inf")).softmax(-1).nan_to_num(0.0)  # empty texts -> 0
        pooled = (weights.unsqueeze(-1) * emb).sum(2) / weights.sum(2, keepdim=True).clamp(min=1e-6)
        return self.out(pooled)


class _Instructions(nn.Module):
    """Learnable instruction vectors shifted per user by a projection of the behaviour summary."""

    def __init__(self, dim: int, n_instructions: int):
        super().__init__()
        self.instructions = nn.Parameter(torch.randn(n_instructions, dim) * dim**-0.5)
        # Behaviour -> per-instruction shift: the personalisation of the instructions.
        self.condition = nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, n_instructions * dim))

    def queries(self, behaviour: torch.Tensor) -> torch.Tensor:
        """``behaviour [B, dim]`` -> personalised instructions ``[B, m, dim]``."""
        b, m = behaviour.shape[0], self.instructions.shape[0]
        return self.instructions.unsqueeze(0) + self.condition(behaviour).view(b, m, -1)


def _read_mask(valid: torch.Tensor) -> torch.Tensor:
    """Key padding mask of ``valid [B, L]``; a user without history still reads one (zero) slot, never NaN."""
    pad = ~valid
    pad[:, -1] &= valid.any(1)
    return pad


class SoftInstructionExtractor(_Instructions):
    """Personalised soft instructions reading knowledge out of the history's item texts.

    Args:
        dim: model dimension.
        n_instructions: instruction vectors per user (= knowledge tokens).
        heads: attention heads of the read-out.
        max_len: history length (recency embeddings).
        residual: keep the instruction in its knowledge token (``norm(query + read)``);
            False leaves only what was read from the text (``norm(read)``), so the tokens do
            not repeat the behaviour the instructions were conditioned on.
    """

    def __init__(self, dim: int, n_instructions: int, heads: int, max_len: int, residual: bool = True):
        super().__init__(dim, n_instructions)
        self.residual = residual
        self.recency = nn.Embedding(max_len, dim)
        self.read = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, queries: torch.Tensor, item_knowledge: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``queries [B, m, d]``, ``item_knowledge [B, L, d]``, ``valid [B, L]`` -> ``[B, m, d]``."""
        length = valid.shape[1]
        keys = item_knowledge + self.recency.weight[-length:]
        out, _ = self.read(queries, keys, keys, key_padding_mask=_read_mask(valid), need_weights=False)
        return self.norm(queries + out if self.residual else out)


class SoftInstructionPooling(_Instructions):
    """Personalised soft instructions choosing which history items' text knowledge to pool.

    Instruction ``j`` weighs the history items by ``softmax_l(q_j . (W t_l + r_l) / sqrt(d))``
    and pools their text vectors ``t_l`` *in the text encoder's space*; an adapter maps pooled
    text to knowledge, its ``j``-th output block for instruction ``j`` (the fixed template's
    adapter shape). ``W`` and the recency ``r`` start at zero: uniform weights, i.e. the mean
    text of the history, from which the instructions learn per user what to extract.

    Args:
        text_dim: dimension of the item text vectors.
        dim: model dimension.
        n_instructions: instruction vectors per user (= knowledge tokens).
        max_len: history length (recency embeddings).
    """

    def __init__(self, text_dim: int, dim: int, n_instructions: int, max_len: int):
        super().__init__(dim, n_instructions)
        self.key = nn.Linear(text_dim, dim, bias=False)  # a bias would shift every item's logit alike
        self.recency = nn.Embedding(max_len, dim)
        # Zero keys: uniform weights at first. The instructions get no gradient on the very first
        # step (every logit is 0 whatever the query), the keys do, and after it both train.
        nn.init.zeros_(self.key.weight)
        nn.init.zeros_(self.recency.weight)
        self.adapter = nn.Sequential(nn.Linear(text_dim, dim), nn.GELU(), nn.Linear(dim, n_instructions * dim))

    def weights(self, queries: torch.Tensor, item_text: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Per-instruction pooling weights ``[B, m, L]`` over the history items (rows sum to 1)."""
        keys = self.key(item_text) + self.recency.weight[-valid.shape[1]:]  # [B, L, d]
        logits = queries @ keys.transpose(1, 2) / keys.shape[-1] ** 0.5  # [B, m, L]
        return logits.masked_fill(_read_mask(valid).unsqueeze(1), float("-inf")).softmax(-1)

    def forward(self, queries: torch.Tensor, item_text: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``queries [B, m, d]``, ``item_text [B, L, text_dim]``, ``valid [B, L]`` -> ``[B, m, d]``."""
        pooled = self.weights(queries, item_text, valid) @ item_text  # [B, m, text_dim]
        hidden = self.adapter[:-1](pooled)  # [B, m, d]
        last = self.adapter[-1]
        m = pooled.shape[1]
        # Only output block j of the last layer for instruction j (not all m blocks for each).
        blocks = last.weight.view(m, -1, last.weight.shape[1])  # [m, d_out, d]
        return torch.einsum("bjd,jed->bje", hidden, blocks) + last.bias.view(m, -1)  # [B, m, d]
