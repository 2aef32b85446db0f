"""Full-ranking metrics against a brute-force reference, including ties and exclusions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from agenticrs.recsys.data.dataset import EvalSplit
from agenticrs.recsys.evaluation import evaluate, metrics_from_ranks, target_ranks
from agenticrs.recsys.models.base import ModelConfig, Recommender


def brute_force(scores: np.ndarray, target: int, k: int) -> tuple[float, float, float]:
    """Pessimistic rank by explicit loop: items tied with the target rank above it."""
    rank = sum(1 for j, s in enumerate(scores) if j != target and s >= scores[target])
    if scores[target] == -np.inf:
        rank = len(scores)
    hit = rank < k
    return float(hit), (1 / math.log2(rank + 2) if hit else 0.0), (1 / (rank + 1) if hit else 0.0)


@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_brute_force_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Few distinct values so ties are frequent.
    scores = rng.integers(0, 6, size=(40, 30)).astype(np.float64)
    scores[rng.random(scores.shape) < 0.1] = -np.inf
    targets = rng.integers(0, 30, size=40)
    got = metrics_from_ranks(target_ranks(torch.from_numpy(scores), torch.from_numpy(targets)), ks=(1, 5, 10))
    for k in (1, 5, 10):
        ref = np.array([brute_force(scores[i], targets[i], k) for i in range(40)])
        np.testing.assert_allclose(got[f"recall@{k}"].numpy(), ref[:, 0])
        np.testing.assert_allclose(got[f"ndcg@{k}"].numpy(), ref[:, 1])
        np.testing.assert_allclose(got[f"mrr@{k}"].numpy(), ref[:, 2])


def test_constant_scores_are_a_miss() -> None:
    ranks = target_ranks(torch.zeros(3, 100), torch.tensor([0, 50, 99]))
    assert ranks.tolist() == [99, 99, 99]


class FixedScores(Recommender):
    """Returns a stored score matrix row per user, to test the evaluator's masking."""

    def __init__(self, table: torch.Tensor):
        super().__init__(table.shape[1] - 1, table.shape[0], ModelConfig(max_len=5))
        self.register_buffer("table", table)

    def score(self, users: torch.Tensor, histories: torch.Tensor) -> torch.Tensor:
        return self.table[users].clone()


def test_evaluator_excludes_history_and_padding() -> None:
    # Item 3 scores highest for user 0 but is in the history; item 0 (padding) scores higher still.
    table = torch.tensor([[9.0, 1.0, 2.0, 8.0, 0.5], [9.0, 5.0, 4.0, 3.0, 2.0]])
    split = EvalSplit(np.array([0, 1]), [np.array([3]), np.array([1, 2])], np.array([2, 3]))
    model = FixedScores(table)
    res = evaluate(model, split, ks=(1,), exclude_history=True, batch_size=1)
    assert res.metrics["recall@1"] == 1.0  # both targets rank first once history and padding are masked
    res = evaluate(model, split, ks=(1,), exclude_history=False)
    assert res.metrics["recall@1"] == 0.0
    # A target that is also a history item is masked with it and counts as a miss.
    split = EvalSplit(np.array([0]), [np.array([2])], np.array([2]))
    assert evaluate(model, split, ks=(4,)).metrics["recall@4"] == 0.0


def test_batching_does_not_change_metrics() -> None:
    rng = np.random.default_rng(0)
    model = FixedScores(torch.from_numpy(rng.random((50, 21)).astype(np.float32)))
    hist = [rng.integers(1, 21, size=rng.integers(1, 4)) for _ in range(50)]
    split = EvalSplit(np.arange(50), hist, rng.integers(1, 21, size=50))
    a = evaluate(model, split, batch_size=7).metrics
    b = evaluate(model, split, batch_size=50).metrics
    assert a == pytest.approx(b)
