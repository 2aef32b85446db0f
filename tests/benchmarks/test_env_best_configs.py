"""env_best_configs: the best configuration per task, with and without cost limits."""

from __future__ import annotations

from agenticrs.benchmarks.env_best_configs import best_per_task
from agenticrs.envs.backends.table import Table
from agenticrs.envs.core import TrialConfig, TrialResult


def result(task: str, size: int, seed: int, ndcg: float, p99: float) -> TrialResult:
    m = {"ndcg@10": ndcg}
    return TrialResult(TrialConfig.make("serving", candidates=size), task, 1.0, seed, "ok", m, m,
                       {"p99_latency_ms": p99, "memory_mb": 0.1})


def test_best_per_task_uses_seed_means_and_respects_limits():
    rows = [
        # task a: the big config is best on average (one bad seed does not decide) but too slow
        result("a", 200, 0, 0.30, 30.0), result("a", 200, 1, 0.20, 28.0),
        result("a", 50, 0, 0.21, 5.0), result("a", 50, 1, 0.22, 6.0),
        # task b: the small config wins outright
        result("b", 200, 0, 0.10, 30.0), result("b", 50, 0, 0.15, 5.0),
    ]
    table = Table(rows)
    best = best_per_task(table)
    assert best["a"]["config"] == {"candidates": 200} and best["b"]["config"] == {"candidates": 50}
    assert abs(best["a"]["valid"] - 0.25) < 1e-12
    feasible = best_per_task(table, limits={"p99_latency_ms": 20.0})
    assert feasible["a"]["config"] == {"candidates": 50} and feasible["a"]["p99_latency_ms"] == 5.5
    assert best_per_task(table, limits={"p99_latency_ms": 1.0}) == {}


def test_quality_ties_go_to_the_cheaper_configuration():
    table = Table([result("a", 200, 0, 0.2, 9.0), result("a", 100, 0, 0.2, 4.0), result("a", 50, 0, 0.2, 6.0),
                   result("a", 20, 0, 0.1, 1.0)])
    best = best_per_task(table)["a"]
    assert best["config"] == {"candidates": 100} and best["ties"] == 3
