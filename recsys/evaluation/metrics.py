"""Full-ranking metrics from a score matrix, for several cut-offs in one pass.

Ranks are *pessimistic* on ties: an item scoring exactly as high as the target is counted
as ranked above it. A model that gives every item the same score therefore gets rank
``n_items`` (a miss) rather than a lucky rank 1, so ties can never inflate a metric.
"""

from __future__ import annotations

from typing import Sequence

import torch

NEG_INF = float("-inf")


def target_ranks(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """0-based rank of each target among all candidate items.

    Args:
        scores: ``[batch, n_candidates]`` float scores; excluded items hold ``-inf``.
        targets: ``[batch]`` column index of each user's target.

    Returns:
        ``[batch]`` int64: ``#{j != t : s_j >= s_t}`` (ties counted against the target).
        A target whose own score is ``-inf`` (excluded) gets rank ``n_candidates``.
    """
    t = scores.gather(1, targets.view(-1, 1))  # [batch, 1]
    # >= counts the target itself once; subtract it.
    ranks = (scores >= t).sum(dim=1) - 1
    return torch.where(torch.isneginf(t.squeeze(1)), torch.full_like(ranks, scores.shape[1]), ranks)


def metrics_from_ranks(ranks: torch.Tensor, ks: Sequence[int]) -> dict[str, torch.Tensor]:
    """Per-user Recall@K (= HR@K for one target), NDCG@K and MRR@K.

    Args:
        ranks: ``[batch]`` 0-based ranks.
        ks: cut-offs.

    Returns:
        ``{"recall@K": [batch], "ndcg@K": [batch], "mrr@K": [batch]}`` float64 tensors.
    """
    r = ranks.to(torch.float64)
    out: dict[str, torch.Tensor] = {}
    for k in ks:
        hit = r < k
        out[f"recall@{k}"] = hit.to(torch.float64)
        out[f"ndcg@{k}"] = torch.where(hit, 1.0 / torch.log2(r + 2.0), torch.zeros_like(r))
        out[f"mrr@{k}"] = torch.where(hit, 1.0 / (r + 1.0), torch.zeros_like(r))
    return out
