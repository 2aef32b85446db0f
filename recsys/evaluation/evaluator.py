"""Batched full-ranking evaluation of any :class:`Recommender` on a validation or test split."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from agenticrs.recsys.data.dataset import EvalSplit
from agenticrs.recsys.evaluation.metrics import NEG_INF, metrics_from_ranks, target_ranks
from agenticrs.recsys.models.base import Recommender, pad_histories

DEFAULT_KS: tuple[int, ...] = (5, 10, 20)


@dataclass(frozen=True)
class EvalResult:
    """Mean metrics over users plus how long scoring took.

    Attributes:
        metrics: ``{"recall@10": ..., "ndcg@10": ..., "mrr@10": ...}`` means over users.
        n_users: users evaluated.
        seconds: wall time of the whole evaluation (scoring, masking, ranking).
    """

    metrics: dict[str, float]
    n_users: int
    seconds: float

    @property
    def latency_ms_per_user(self) -> float:
        return 1000.0 * self.seconds / max(self.n_users, 1)


def history_mask(histories: Sequence[np.ndarray], n_items: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column indices of every (user, history item) pair, for ``scores[rows, cols] = -inf``."""
    lengths = np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories))
    rows = np.repeat(np.arange(len(histories)), lengths)
    cols = np.concatenate(histories) if len(histories) else np.zeros(0, dtype=np.int64)
    return torch.from_numpy(rows), torch.from_numpy(cols.astype(np.int64))


@torch.no_grad()
def evaluate(
    model: Recommender,
    split: EvalSplit,
    ks: Sequence[int] = DEFAULT_KS,
    *,
    exclude_history: bool = True,
    batch_size: int = 1024,
    max_users: int | None = None,
) -> EvalResult:
    """Rank every item for every user of ``split`` and average Recall/NDCG/MRR@K.

    Args:
        model: a fitted recommender; put in eval mode for the duration.
        split: histories and targets (``Split.valid`` or ``Split.test``).
        ks: cut-offs, all computed in one pass.
        exclude_history: mask the items of each user's history (RecBole's full-sort
            protocol); a target that repeats a history item then counts as a miss.
        batch_size: users scored per forward pass.
        max_users: evaluate only the first ``max_users`` users (for cheap validation).
    """
    was_training = model.training
    model.eval()
    device = model.device
    n = len(split.targets) if max_users is None else min(max_users, len(split.targets))
    sums: dict[str, float] = {}
    start = time.perf_counter()
    for lo in range(0, n, batch_size):
        hi = min(lo + batch_size, n)
        hist = split.histories[lo:hi]
        users = torch.from_numpy(split.users[lo:hi]).to(device)
        inp = pad_histories(hist, model.config.max_len).to(device)
        scores = model.score(users, inp).float()  # [b, n_items + 1]
        scores[:, 0] = NEG_INF
        if exclude_history:
            rows, cols = history_mask(hist, model.n_items)
            scores[rows.to(device), cols.to(device)] = NEG_INF
        targets = torch.from_numpy(split.targets[lo:hi]).to(device)
        # Padding column 0 is -inf and never ties with a finite target, so ranks over all
        # n_items + 1 columns equal ranks over the real items.
        for key, val in metrics_from_ranks(target_ranks(scores, targets), ks).items():
            sums[key] = sums.get(key, 0.0) + float(val.sum())
    seconds = time.perf_counter() - start
    if was_training:
        model.train()
    return EvalResult({k: v / max(n, 1) for k, v in sorted(sums.items())}, n, seconds)
