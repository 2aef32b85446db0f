"""Candidate merge strategies: several recall agents' lists -> one candidate set.

Each strategy turns the lists into a dense ``[B, n_items + 1]`` merged score (``-inf`` for
items no agent proposed) and keeps the best ``size`` items:

* ``round_robin``: interleave the lists (first of each agent, then second...), duplicates
  keep their earliest slot;
* ``rrf``: reciprocal rank fusion, ``sum_agents 1 / (60 + rank)`` (Cormack et al. 2009);
* ``score``: sum of each agent's scores min-max normalised per user (missing = 0).

Register your own with :func:`register_merge`.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from agenticrs.recsys.evaluation.metrics import NEG_INF
from agenticrs.recsys.pipeline.agents import Candidates, top_candidates

MergeFn = Callable[[Sequence[Candidates], int], torch.Tensor]
"""``(lists, n_items) -> [B, n_items + 1]`` merged scores."""

_MERGES: dict[str, MergeFn] = {}
RRF_K = 60.0


def register_merge(name: str) -> Callable[[MergeFn], MergeFn]:
    def deco(fn: MergeFn) -> MergeFn:
        _MERGES[name] = fn
        return fn

    return deco


def list_merges() -> list[str]:
    return sorted(_MERGES)


def merge(lists: Sequence[Candidates], n_items: int, strategy: str = "rrf", size: int | None = None) -> Candidates:
    """Merge candidate lists into one of at most ``size`` items (default: all distinct ones)."""
    if not lists:
        raise ValueError("merge: no candidate lists")
    if strategy not in _MERGES:
        raise KeyError(f"unknown merge strategy {strategy!r}; registered: {', '.join(list_merges())}")
    if len(lists) == 1 and size is None:
        return lists[0]
    dense = _MERGES[strategy](lists, n_items)
    dense[:, 0] = NEG_INF
    return top_candidates(dense, size or sum(c.items.shape[1] for c in lists))


def _scatter(lists: Sequence[Candidates], n_items: int, values: Sequence[torch.Tensor], reduce: str) -> torch.Tensor:
    b = lists[0].items.shape[0]
    dense = torch.full((b, n_items + 1), NEG_INF)
    seen = torch.zeros(b, n_items + 1, dtype=torch.bool)
    acc = torch.zeros(b, n_items + 1) if reduce == "sum" else torch.full((b, n_items + 1), NEG_INF)
    for c, v in zip(lists, values):
        v = torch.where(c.items == 0, torch.zeros_like(v) if reduce == "sum" else torch.full_like(v, NEG_INF), v)
        if reduce == "sum":
            acc.scatter_add_(1, c.items, v)
        else:
            acc.scatter_reduce_(1, c.items, v, reduce="amax")
        seen.scatter_(1, c.items, c.items != 0)
    return torch.where(seen, acc, dense)


@register_merge("round_robin")
def round_robin(lists: Sequence[Candidates], n_items: int) -> torch.Tensor:
    n = len(lists)
    vals = []
    for j, c in enumerate(lists):
        rank = torch.arange(c.items.shape[1], dtype=torch.float32).expand_as(c.scores)
        vals.append(-(rank * n + j))  # slot in the interleaved list, negated: earlier is better
    return _scatter(lists, n_items, vals, "amax")


@register_merge("rrf")
def reciprocal_rank_fusion(lists: Sequence[Candidates], n_items: int) -> torch.Tensor:
    vals = [1.0 / (RRF_K + 1.0 + torch.arange(c.items.shape[1], dtype=torch.float32).expand_as(c.scores))
            for c in lists]
    return _scatter(lists, n_items, vals, "sum")


@register_merge("score")
def normalised_score_sum(lists: Sequence[Candidates], n_items: int) -> torch.Tensor:
    vals = []
    for c in lists:
        valid = c.items != 0
        lo = torch.where(valid, c.scores, torch.full_like(c.scores, float("inf"))).min(dim=1, keepdim=True).values
        hi = torch.where(valid, c.scores, torch.full_like(c.scores, NEG_INF)).max(dim=1, keepdim=True).values
        vals.append(torch.where(valid, (c.scores - lo) / (hi - lo).clamp_min(1e-12), torch.zeros_like(c.scores)))
    return _scatter(lists, n_items, vals, "sum")
