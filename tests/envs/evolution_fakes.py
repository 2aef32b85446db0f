"""A tiny deterministic backend for the Compose, AutoFeature and AutoPerf env tests (no table, no training).

Every figure is a fixed function of (task, config) plus seed noise, so the best configuration
differs between tasks; one configuration per env always fails, so the failure path runs.
"""

from __future__ import annotations

import zlib

from agenticrs.envs.core import Task, TrialConfig, TrialResult

EVOLUTION_ENVS = ("agenticrs/Compose-v0", "agenticrs/AutoFeature-v0", "agenticrs/AutoPerf-v0")
FAILING = {
    "pipeline": {"ranker": "bprmf", "rerank": "mmr", "mmr_sim": "text"},
    "sasrec_features": {"item_id": False, "text": True, "attributes": False, "fusion": "sum", "time_gap": True},
    "serving": {"precision": "int8", "refresh": 5, "batch_size": 1},
}


def _unit(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) (crc32: same in every process)."""
    return zlib.crc32("|".join(map(str, parts)).encode()) / 2**32


class FakeEvolutionBackend:
    """``kind = "fake-evolution"``: evaluate is a pure function of its arguments."""

    kind = "fake-evolution"

    def __init__(self) -> None:
        self.calls = 0

    def evaluate(self, task: Task, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
        self.calls += 1
        p = config.param_dict
        key = sorted(p.items())
        secs = 1.0 + 5.0 * _unit("s", config.model, key)
        fail = FAILING.get(config.model, {})
        if fail and all(p.get(k) == v for k, v in fail.items()):
            return TrialResult(config, task.name, fidelity, seed, "failed", cost={"seconds": secs / 2},
                               reason="fake failure", source="fake")
        # Per-parameter effects that differ per task, so the best config differs across tasks.
        v = 0.04 + sum(0.02 * _unit(task.name, k, val) for k, val in key)
        v *= 1.0 + 0.05 * (_unit(seed, config.model, key) - 0.5)
        positions = {f"pos@{i + 1}": v / (i + 1) ** 0.5 / 3 for i in range(10)}
        valid = {"ndcg@10": v, "recall@10": 2 * v, "coverage@10": _unit("c", task.name, key),
                 "diversity@10": _unit("d", task.name, key), **positions}
        test = {k: 0.95 * x for k, x in valid.items()}
        cost = {"seconds": secs, "params": 1e4 * (1 + 9 * _unit("p", key)),
                "inference_ms_per_user": 0.1 + _unit("l", key), "p99_latency_ms": 10.0 + 20.0 * _unit("l", key),
                "memory_mb": 0.2 + 0.4 * _unit("m", key)}
        return TrialResult(config, task.name, fidelity, seed, "ok", valid, test, cost, "", "fake")

    def best_known(self, task: Task, metric: str) -> float:
        return 0.15


def register() -> None:
    from agenticrs.envs.backends import register_backend

    register_backend("fake-evolution", overwrite=True)(FakeEvolutionBackend)


register()


def env_kwargs_for(env_id: str) -> dict | None:
    """Registry-test kwargs for the envs this module fakes (``None`` for other envs)."""
    return {"backend": "fake-evolution"} if env_id in EVOLUTION_ENVS else None


def stuck_compose_trial(task: Task, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
    """The live Compose trial behind a minute's wait: certain to outlast any test's trial timeout
    (the real trial alone can finish inside a short one in a warm worker)."""
    import time

    from agenticrs.envs.compose import run_compose_trial

    time.sleep(60)
    return run_compose_trial(task, config, fidelity, seed)
