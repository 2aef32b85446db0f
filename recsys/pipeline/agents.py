"""Pipeline agents: recall (candidate generation), ranking and MMR re-ranking.

Every stage passes :class:`Candidates` along: ``[B, C]`` item ids, best first, with their
stage scores; empty slots hold item ``0`` (padding) and score ``-inf``.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import torch

from agenticrs.recsys.evaluation.evaluator import history_mask
from agenticrs.recsys.evaluation.metrics import NEG_INF
from agenticrs.recsys.models.base import Recommender, pad_histories


class Candidates(NamedTuple):
    """An ordered candidate list per user.

    Attributes:
        items: ``[B, C]`` int64 item ids, best first; ``0`` marks an empty slot.
        scores: ``[B, C]`` float32 scores of the stage that produced the order; ``-inf`` for empty slots.
    """

    items: torch.Tensor
    scores: torch.Tensor


def full_scores(model: Recommender, users: np.ndarray, histories: Sequence[np.ndarray]) -> torch.Tensor:
    """``[B, n_items + 1]`` scores of ``model`` with padding and history items at ``-inf``."""
    with torch.no_grad():
        inp = pad_histories(histories, model.config.max_len).to(model.device)
        s = model.score(torch.from_numpy(np.asarray(users)).to(model.device), inp).float().cpu()
    s[:, 0] = NEG_INF
    rows, cols = history_mask(histories, model.n_items)
    s[rows, cols] = NEG_INF  # never recommend what the user already has (the full-ranking protocol)
    return s


def top_candidates(scores: torch.Tensor, k: int) -> Candidates:
    """The ``k`` best finite entries of ``[B, n_items + 1]`` scores (empty slots where fewer)."""
    k = min(k, scores.shape[1])
    vals, idx = scores.topk(k, dim=1)
    idx = torch.where(torch.isneginf(vals), torch.zeros_like(idx), idx)
    return Candidates(idx, vals)


class RecallAgent:
    """Generates ``quota`` candidates per user from one recommender.

    Args:
        name: label (``sasrec``, ``pop``...).
        model: a fitted recommender.
        quota: candidates it contributes per user.
    """

    def __init__(self, name: str, model: Recommender, quota: int):
        if quota < 1:
            raise ValueError(f"recall agent {name!r}: quota must be >= 1, got {quota}")
        self.name, self.model, self.quota = name, model, int(quota)

    def recall(self, users: np.ndarray, histories: Sequence[np.ndarray]) -> Candidates:
        return top_candidates(full_scores(self.model, users, histories), self.quota)


class RankAgent:
    """Re-scores the merged candidates with a (usually stronger) recommender; the order follows its scores."""

    def __init__(self, name: str, model: Recommender):
        self.name, self.model = name, model

    def rank(self, users: np.ndarray, histories: Sequence[np.ndarray], cands: Candidates) -> Candidates:
        s = full_scores(self.model, users, histories)
        scores = s.gather(1, cands.items)
        scores = torch.where(cands.items == 0, torch.full_like(scores, NEG_INF), scores)
        order = scores.argsort(dim=1, descending=True, stable=True)
        return Candidates(cands.items.gather(1, order), scores.gather(1, order))


class MMRReranker:
    """Maximal Marginal Relevance (Carbonell & Goldstein 1998) over the top ``window`` candidates.

    Greedily picks ``argmax_i  weight * rel_i - (1 - weight) * max_{j selected} sim(i, j)``,
    where ``rel`` is the ranking score min-max normalised per user to ``[0, 1]`` and ``sim``
    the cosine similarity of item embeddings. ``weight = 1`` keeps the ranking order;
    smaller weights trade relevance for diversity. Candidates beyond the window keep their
    order after the re-ranked ones.

    Args:
        embeddings: ``[n_items + 1, d]`` item embeddings (learned, text or attributes).
        weight: relevance weight in ``[0, 1]``.
        window: how many of the top candidates are re-ranked.
    """

    def __init__(self, embeddings: torch.Tensor, weight: float, window: int = 50):
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"MMR weight must lie in [0, 1], got {weight}")
        if window < 1:
            raise ValueError(f"MMR window must be >= 1, got {window}")
        norm = embeddings.float().norm(dim=1, keepdim=True).clamp_min(1e-12)
        self.emb = embeddings.float() / norm
        self.weight, self.window = float(weight), int(window)

    def rerank(self, cands: Candidates) -> Candidates:
        items, scores = cands.items, cands.scores
        w = min(self.window, items.shape[1])
        head, head_s = items[:, :w], scores[:, :w]
        valid = head != 0
        finite = torch.where(valid, head_s, torch.full_like(head_s, float("inf")))
        lo = finite.min(dim=1, keepdim=True).values
        hi = torch.where(valid, head_s, torch.full_like(head_s, NEG_INF)).max(dim=1, keepdim=True).values
        rel = torch.where(valid, (head_s - lo) / (hi - lo).clamp_min(1e-12), torch.zeros_like(head_s))
        e = self.emb[head]  # [B, w, d]
        sim = e @ e.transpose(1, 2)  # [B, w, w] cosine similarities
        b = items.shape[0]
        rows = torch.arange(b)
        chosen = torch.zeros(b, w, dtype=torch.bool)
        max_sim = torch.zeros(b, w)
        order = torch.empty(b, w, dtype=torch.long)
        for step in range(w):
            mmr = self.weight * rel - (1.0 - self.weight) * max_sim
            mmr = torch.where(chosen | ~valid, torch.full_like(mmr, NEG_INF), mmr)
            # Users with fewer valid candidates pick their empty slots last, in order.
            pick = torch.where(torch.isneginf(mmr.max(dim=1).values),
                               (~chosen).to(torch.int8).argmax(dim=1), mmr.argmax(dim=1))
            order[:, step] = pick
            chosen[rows, pick] = True
            max_sim = torch.maximum(max_sim, sim[rows, pick])
        new_items = torch.cat([head.gather(1, order), items[:, w:]], dim=1)
        # Scores encode the new order (strictly decreasing), empty slots stay -inf.
        pos = torch.arange(new_items.shape[1], 0, -1, dtype=torch.float32).expand(b, -1)
        return Candidates(new_items, torch.where(new_items == 0, torch.full_like(pos, NEG_INF), pos.clone()))
