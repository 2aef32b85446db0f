"""Nearline per-user knowledge and the lightweight online path that reads it (LWGR deployment).

Extracting knowledge is the expensive, text-side part of LWGR (a template through the text
encoder, or instruction-steered reading of the history's item texts). The
:class:`NearlineKnowledgeStore` precomputes it per user off the request path and refreshes a
user only after ``refresh_every`` new interactions; :class:`OnlineServer` answers a request
by encoding the fresh history and fusing the stored, possibly slightly stale, knowledge.
:func:`serving_latency` and :func:`staleness_effect` measure what the cache buys and costs.
"""

from __future__ import annotations

import io
import statistics
import time
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np
import torch

from agenticrs.io import write_bytes_atomic
from agenticrs.recsys.data.dataset import EvalSplit
from agenticrs.recsys.evaluation.evaluator import history_mask
from agenticrs.recsys.evaluation.metrics import NEG_INF, metrics_from_ranks, target_ranks
from agenticrs.recsys.models.base import pad_histories


class KnowledgeModel(Protocol):
    """What the store needs from a model (``LWGR`` and ``lwgr_fixed`` implement it)."""

    config: object
    n_items: int

    def knowledge_for(self, users: torch.Tensor, histories: torch.Tensor) -> torch.Tensor: ...
    def score_with_knowledge(self, users: torch.Tensor, histories: torch.Tensor,
                             knowledge: torch.Tensor) -> torch.Tensor: ...
    def score(self, users: torch.Tensor, histories: torch.Tensor) -> torch.Tensor: ...


class NearlineKnowledgeStore:
    """Per-user knowledge ``[m, d]`` with the history length it was computed at.

    Args:
        model: a fitted knowledge model (put in eval mode by the store's computations).
        refresh_every: new interactions after which a user's knowledge is recomputed.
        batch_size: users per nearline batch.
    """

    def __init__(self, model: KnowledgeModel, refresh_every: int = 5, batch_size: int = 512):
        if refresh_every < 1:
            raise ValueError(f"refresh_every must be >= 1, got {refresh_every}")
        self.model, self.refresh_every, self.batch_size = model, refresh_every, batch_size
        self.histories: dict[int, list[int]] = {}
        self.knowledge: dict[int, np.ndarray] = {}
        self.computed_at: dict[int, int] = {}
        self.pending: set[int] = set()
        self.refreshes = 0

    @property
    def max_len(self) -> int:
        return int(self.model.config.max_len)  # type: ignore[attr-defined]

    def _device(self) -> torch.device:
        return next(self.model.parameters()).device  # type: ignore[attr-defined]

    @torch.no_grad()
    def _compute(self, users: Sequence[int]) -> None:
        self.model.eval()  # type: ignore[attr-defined]
        dev = self._device()
        for lo in range(0, len(users), self.batch_size):
            chunk = list(users[lo : lo + self.batch_size])
            hist = pad_histories([np.asarray(self.histories[u], dtype=np.int64) for u in chunk], self.max_len)
            k = self.model.knowledge_for(torch.tensor(chunk, device=dev), hist.to(dev)).float().cpu().numpy()
            for u, vec in zip(chunk, k):
                self.knowledge[u] = vec
                self.computed_at[u] = len(self.histories[u])
        self.refreshes += len(users)

    def bootstrap(self, users: Sequence[int], histories: Sequence[np.ndarray]) -> None:
        """Load users' histories and compute all their knowledge (the initial nearline job)."""
        for u, h in zip(users, histories):
            self.histories[int(u)] = [int(i) for i in h]
        self._compute([int(u) for u in users])
        self.pending.clear()

    def observe(self, user: int, item: int) -> bool:
        """Record an interaction; True when it makes the user due for a refresh."""
        hist = self.histories.setdefault(int(user), [])
        hist.append(int(item))
        if len(hist) - self.computed_at.get(int(user), 0) >= self.refresh_every:
            self.pending.add(int(user))
            return True
        return False

    def refresh(self) -> int:
        """Recompute the knowledge of every user due (the periodic nearline job); returns how many."""
        due = sorted(self.pending)
        if due:
            self._compute(due)
        self.pending.clear()
        return len(due)

    def staleness(self, user: int) -> int:
        """Interactions the user's stored knowledge has not seen."""
        return len(self.histories.get(user, [])) - self.computed_at.get(user, 0)

    def lookup(self, users: Sequence[int]) -> torch.Tensor:
        """``[B, m, d]`` stored knowledge (KeyError naming the first unknown user)."""
        missing = [u for u in users if u not in self.knowledge]
        if missing:
            raise KeyError(f"no stored knowledge for user {missing[0]}; bootstrap() or observe()+refresh() first")
        return torch.from_numpy(np.stack([self.knowledge[u] for u in users]))

    def save(self, path: str | Path) -> None:
        """Write the store atomically as one ``.npz`` (users, knowledge, computed_at)."""
        users = np.array(sorted(self.knowledge), dtype=np.int64)
        buf = io.BytesIO()
        np.savez(buf, users=users, knowledge=np.stack([self.knowledge[u] for u in users.tolist()]),
                 computed_at=np.array([self.computed_at[u] for u in users.tolist()], dtype=np.int64))
        write_bytes_atomic(path, buf.getvalue())

    def load(self, path: str | Path) -> None:
        with np.load(path, allow_pickle=False) as z:
            for u, k, c in zip(z["users"].tolist(), z["knowledge"], z["computed_at"].tolist()):
                self.knowledge[u], self.computed_at[u] = k, c


class OnlineServer:
    """The request path: fresh history + stored knowledge -> top-k items.

    Without a store it extracts knowledge per request (the uncached baseline).
    """

    def __init__(self, model: KnowledgeModel, store: NearlineKnowledgeStore | None = None):
        self.model, self.store = model, store

    @torch.no_grad()
    def recommend(self, user: int, history: Sequence[int], k: int = 10) -> list[int]:
        self.model.eval()  # type: ignore[attr-defined]
        dev = next(self.model.parameters()).device  # type: ignore[attr-defined]
        hist = pad_histories([np.asarray(history, dtype=np.int64)], self.model.config.max_len).to(dev)  # type: ignore[attr-defined]
        users = torch.tensor([user], device=dev)
        if self.store is not None:
            scores = self.model.score_with_knowledge(users, hist, self.store.lookup([user]).to(dev))
        else:
            scores = self.model.score(users, hist)
        scores[0, 0] = NEG_INF
        scores[0, hist[0][hist[0] > 0]] = NEG_INF
        top = scores[0].topk(k)
        return top.indices[torch.isfinite(top.values)].tolist()


def serving_latency(model: KnowledgeModel, split: EvalSplit, n_requests: int = 200, refresh_every: int = 5
                    ) -> dict[str, float]:
    """Per-request latency (ms, batch of one) of the online path with and without the store.

    The store is bootstrapped first (nearline, not timed per request); its cost per user is
    reported as ``nearline_ms_per_user``.
    """
    n = min(n_requests, len(split.targets))
    users, hists = split.users[:n].tolist(), split.histories[:n]
    store = NearlineKnowledgeStore(model, refresh_every)
    start = time.perf_counter()
    store.bootstrap(users, hists)
    nearline = 1000 * (time.perf_counter() - start) / max(n, 1)
    out = {"requests": float(n), "nearline_ms_per_user": nearline}
    for name, server in (("cached", OnlineServer(model, store)), ("uncached", OnlineServer(model, None))):
        server.recommend(users[0], hists[0])  # warm-up
        times = []
        for u, h in zip(users, hists):
            t = time.perf_counter()
            server.recommend(u, h)
            times.append(1000 * (time.perf_counter() - t))
        out[f"{name}_ms_median"] = statistics.median(times)
        out[f"{name}_ms_p95"] = float(np.percentile(times, 95))
    return out


@torch.no_grad()
def staleness_effect(model: KnowledgeModel, split: EvalSplit, lags: Sequence[int] = (0, 1, 2, 4),
                     ks: Sequence[int] = (10,), batch_size: int = 256, max_users: int | None = None
                     ) -> dict[int, dict[str, float]]:
    """Quality when the stored knowledge missed the user's last ``lag`` interactions.

    For each lag the knowledge is computed from the history without its last ``lag`` items
    (what the store holds ``lag`` interactions after its last refresh), while the request
    still encodes the full fresh history. ``lag = 0`` equals fresh knowledge.
    """
    model.eval()  # type: ignore[attr-defined]
    dev = next(model.parameters()).device  # type: ignore[attr-defined]
    n = len(split.targets) if max_users is None else min(max_users, len(split.targets))
    max_len = int(model.config.max_len)  # type: ignore[attr-defined]
    out: dict[int, dict[str, float]] = {}
    for lag in lags:
        sums: dict[str, float] = {}
        for lo in range(0, n, batch_size):
            hi = min(lo + batch_size, n)
            hist_np = split.histories[lo:hi]
            users = torch.from_numpy(split.users[lo:hi]).to(dev)
            fresh = pad_histories(hist_np, max_len).to(dev)
            stale = pad_histories([h[: max(len(h) - lag, 1)] for h in hist_np], max_len).to(dev)
            scores = model.score_with_knowledge(users, fresh, model.knowledge_for(users, stale)).float()
            scores[:, 0] = NEG_INF
            rows, cols = history_mask(hist_np, model.n_items)
            scores[rows.to(dev), cols.to(dev)] = NEG_INF
            targets = torch.from_numpy(split.targets[lo:hi]).to(dev)
            for key, val in metrics_from_ranks(target_ranks(scores, targets), ks).items():
                sums[key] = sums.get(key, 0.0) + float(val.sum())
        out[lag] = {k: v / max(n, 1) for k, v in sorted(sums.items())}
    return out
