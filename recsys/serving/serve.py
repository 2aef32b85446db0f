"""Serving a trained sequential recommender under a serving configuration, with measured cost.

A request is one user. Serving a batch of requests:

1. **User state**: the encoder's last hidden state over the user's ``max_history`` most
   recent items. With ``refresh = 0`` it is computed online, per request batch. With
   ``refresh = r > 0`` it comes from a *nearline* cache refreshed every ``r`` interactions, so
   it misses up to ``r`` recent items (on average a user is ``(r - 1) / 2`` interactions stale;
   each user's staleness is drawn from ``{0..r-1}``), and online work is retrieval only.
2. **Retrieval**: dot products with the item table at ``precision`` (fp32 / fp16 / int8,
   :mod:`~agenticrs.recsys.serving.quantize`), history items excluded, top ``candidates``.
3. **Ranking**: the candidates are re-scored with the fp32 table and the top ``list_size``
   served.

Measured for real: per-batch wall time of the online work; a request's latency is its batch's
compute time plus the wait for the batch to fill at ``arrival_rate`` requests per ms (half the
fill time on average: ``(batch_size - 1) / (2 * arrival_rate)``); p50 / p99 over requests.
Memory: the stored item table, plus the model's fp32 parameters when encoding online, plus the
nearline user-state cache (fp32) when ``refresh > 0``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from agenticrs.recsys.data.dataset import EvalSplit
from agenticrs.recsys.evaluation.metrics import NEG_INF, metrics_from_ranks
from agenticrs.recsys.models.base import pad_histories
from agenticrs.recsys.serving.quantize import PRECISIONS, QuantizedTable

POSITIONS = 10
"""Positions whose hit shares are reported (``pos@1`` .. ``pos@10``), the A/B click model's input."""


@dataclass(frozen=True)
class ServingConfig:
    """How a trained model is served.

    Attributes:
        candidates: retrieval candidate-set size.
        precision: item-table precision for retrieval (``fp32``, ``fp16``, ``int8``).
        max_history: most recent items the user state reads.
        batch_size: requests scored together.
        refresh: nearline user-state refresh interval in interactions (0 = computed online).
        list_size: items served per request.
        arrival_rate: requests per millisecond (for the batching wait).
    """

    candidates: int = 100
    precision: str = "fp32"
    max_history: int = 50
    batch_size: int = 16
    refresh: int = 0
    list_size: int = 20
    arrival_rate: float = 1.0

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"ServingConfig: precision must be one of {PRECISIONS}, got {self.precision!r}")
        for name in ("candidates", "max_history", "batch_size", "list_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"ServingConfig: {name} must be >= 1, got {getattr(self, name)}")
        if self.refresh < 0 or not self.arrival_rate > 0:
            raise ValueError("ServingConfig: refresh must be >= 0 and arrival_rate > 0")
        if self.list_size > self.candidates:
            raise ValueError(f"ServingConfig: list_size ({self.list_size}) exceeds candidates ({self.candidates})")


@dataclass(frozen=True)
class ServeResult:
    """Quality and measured cost of serving one split.

    Attributes:
        metrics: ``recall@K``, ``ndcg@K``, ``mrr@K`` (K = 5, 10, 20; full-ranking compatible:
            a target outside the served list is a miss) and ``pos@1..10`` (share of users whose
            target is served at that position).
        ranks: ``[n_users]`` 0-based target position in the served list (``n_items`` = absent).
        p50_ms / p99_ms: request latency percentiles; ``mean_ms``: mean.
        memory_mb: stored serving state.
    """

    metrics: dict[str, float]
    ranks: np.ndarray
    p50_ms: float
    p99_ms: float
    mean_ms: float
    memory_mb: float


def _item_table(model: Any) -> torch.Tensor:
    emb = getattr(model, "item_emb", None)
    if emb is None:
        raise TypeError(f"{type(model).__name__} has no item_emb table to serve")
    return emb.weight.detach().float()


@torch.no_grad()
def user_states(model: Any, histories: Sequence[np.ndarray], max_history: int) -> torch.Tensor:
    """``[B, d]`` encoder states of the last ``min(max_history, model max_len)`` items."""
    L = min(max_history, model.config.max_len)
    seqs = pad_histories(histories, L).to(model.device)
    return model.encode(seqs)[:, -1].float().cpu()


@torch.no_grad()
def serve(model: Any, split: EvalSplit, config: ServingConfig, seed: int = 0, ks: Sequence[int] = (5, 10, 20)
          ) -> ServeResult:
    """Serve every user of ``split`` (see the module docstring); ``model`` must have ``encode`` and ``item_emb``."""
    model.eval()
    n_items = model.n_items
    table = QuantizedTable(_item_table(model), config.precision)
    exact = _item_table(model)
    rng = np.random.default_rng(seed)
    hists = split.histories
    cached = None
    if config.refresh > 0:  # nearline: precomputed offline from stale histories (not online latency)
        stale = rng.integers(0, config.refresh, size=len(hists))
        cut = [h[: max(len(h) - int(s), 1)] for h, s in zip(hists, stale)]
        cached = user_states(model, cut, config.max_history)
    wait = (config.batch_size - 1) / (2.0 * config.arrival_rate)
    latencies, ranks = [], []
    for lo in range(0, len(hists), config.batch_size):
        hi = min(lo + config.batch_size, len(hists))
        t = time.perf_counter()
        state = cached[lo:hi] if cached is not None else user_states(model, hists[lo:hi], config.max_history)
        s = table.scores(state)
        s[:, 0] = NEG_INF
        for r, h in enumerate(hists[lo:hi]):
            s[r, torch.from_numpy(np.asarray(h, dtype=np.int64))] = NEG_INF
        c = min(config.candidates, n_items)
        cand = s.topk(c, dim=1).indices  # [b, C]
        exact_s = (state.unsqueeze(1) * exact[cand]).sum(-1)  # [b, C] fp32 re-scoring
        exact_s = torch.where(torch.isneginf(s.gather(1, cand)), torch.full_like(exact_s, NEG_INF), exact_s)
        top = exact_s.topk(min(config.list_size, c), dim=1)
        served = torch.where(torch.isneginf(top.values), torch.zeros_like(top.indices), cand.gather(1, top.indices))
        ms = 1000.0 * (time.perf_counter() - t)
        latencies.extend([ms + wait] * (hi - lo))
        tgt = torch.from_numpy(split.targets[lo:hi]).view(-1, 1)
        hit = (served == tgt) & (served != 0)
        pos = hit.to(torch.int8).argmax(dim=1)
        ranks.append(torch.where(hit.any(dim=1), pos, torch.full_like(pos, n_items)).numpy())
    rank_arr = np.concatenate(ranks) if ranks else np.zeros(0, dtype=np.int64)
    metrics = {k: float(v.mean()) for k, v in metrics_from_ranks(torch.from_numpy(rank_arr), ks).items()}
    for p in range(POSITIONS):
        metrics[f"pos@{p + 1}"] = float(np.mean(rank_arr == p)) if len(rank_arr) else 0.0
    memory = table.nbytes
    if config.refresh == 0:
        memory += sum(p.numel() * 4 for p in model.parameters())
    else:
        memory += cached.numel() * 4  # type: ignore[union-attr]
    lat = np.asarray(latencies)
    return ServeResult(dict(sorted(metrics.items())), rank_arr, float(np.percentile(lat, 50)),
                       float(np.percentile(lat, 99)), float(lat.mean()), memory / 2**20)
