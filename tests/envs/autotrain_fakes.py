"""A tiny deterministic backend for env tests (no table, no training).

The validation metric is a fixed function of (task, config, fidelity) plus seed noise, with
structure a policy can learn (sequential families win on sequential tasks); one family
configuration always fails, so the failure path is exercised.
"""

from __future__ import annotations

import zlib

from agenticrs.envs.core import Task, TrialConfig, TrialResult

BASE = {"pop": 0.02, "itemknn": 0.04, "bprmf": 0.03, "gru4rec": 0.06, "sasrec": 0.08, "bert4rec": 0.05}


def _unit(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) (crc32: same in every process)."""
    return zlib.crc32("|".join(map(str, parts)).encode()) / 2**32


class FakeBackend:
    """``kind = "fake"``: evaluate is a pure function of its arguments."""

    kind = "fake"

    def __init__(self, fail_model: str = "bert4rec", fail_layers: int = 2):
        self.fail_model = fail_model
        self.fail_layers = fail_layers
        self.calls = 0

    def evaluate(self, task: Task, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
        self.calls += 1
        p = config.param_dict
        secs = (1.0 + 4.0 * fidelity * p.get("layers", 0.5)) * (p.get("embedding_dim", 32) / 32)
        if config.model == self.fail_model and p.get("layers") == self.fail_layers:
            return TrialResult(config, task.name, fidelity, seed, "failed", cost={"seconds": secs / 2},
                               reason="fake divergence", source="fake")
        v = BASE[config.model] * (0.6 + 0.4 * fidelity) * (0.8 + 0.4 * _unit(task.name, config.model, sorted(p)))
        v *= 1.0 + 0.05 * (_unit(seed, config.model) - 0.5)
        return TrialResult(config, task.name, fidelity, seed, "ok", valid={"ndcg@10": v, "recall@10": 2 * v},
                           test={"ndcg@10": 0.95 * v, "recall@10": 1.9 * v}, cost={"seconds": secs, "params": 1e4},
                           source="fake")

    def best_known(self, task: Task, metric: str) -> float:
        return 0.1


class ExplodingBackend(FakeBackend):
    """Raises on every third call: the env must turn that into a failed trial."""

    kind = "exploding"

    def evaluate(self, task: Task, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
        if self.calls % 3 == 2:
            self.calls += 1
            raise RuntimeError("backend exploded")
        return super().evaluate(task, config, fidelity, seed)


SHIPPED_TABLES = {"agenticrs/AutoTrain-v0": "autotrain", "agenticrs/Compose-v0": "compose",
                  "agenticrs/AutoFeature-v0": "autofeature", "agenticrs/AutoPerf-v0": "autoperf"}
"""Registered env id -> the name of its shipped table (``envs/tables/{name}__synthetic.jsonl.gz``)."""


def table_available(env_id: str = "agenticrs/AutoTrain-v0") -> bool:
    """True once the shipped table of ``env_id`` on the synthetic suite exists."""
    try:
        from agenticrs.envs.backends import table_path
    except ImportError:
        return False
    name = SHIPPED_TABLES.get(env_id)
    return name is not None and table_path(name, "synthetic").exists()


def _register() -> None:
    from agenticrs.envs.backends import register_backend

    register_backend("fake", overwrite=True)(FakeBackend)


_register()


def env_kwargs(env_id: str) -> dict:
    """Constructor kwargs every registry test uses for ``env_id`` (JSON-able, so replayable)."""
    if table_available(env_id):
        return {"backend": "table"}
    if env_id.startswith("agenticrs/AutoTrain"):
        return {"backend": "fake"}
    if env_id.startswith("agenticrs/OpenDesign"):
        from design_fakes import env_kwargs_for as design_kwargs  # open-ended programs: no table exists

        return design_kwargs(env_id) or {}
    from evolution_fakes import env_kwargs_for  # Compose, AutoFeature, AutoPerf without their tables

    return env_kwargs_for(env_id) or {}


def make_test_env(env_id: str):
    """Module-level env factory (picklable by reference for AsyncVectorEnv workers)."""
    import gymnasium as gym

    import agenticrs  # noqa: F401

    return gym.make(env_id, **env_kwargs(env_id))


PLUGIN_CALLS: list[str] = []


def plugin() -> None:
    """An ``agenticrs.plugins`` entry point: registers a reward term."""
    from agenticrs.envs.rewards import RewardTerm, register_reward_term

    @register_reward_term("plugin-constant", overwrite=True)
    class Constant(RewardTerm):
        def update(self, result, state):
            return 1.0

    PLUGIN_CALLS.append("plugin")
