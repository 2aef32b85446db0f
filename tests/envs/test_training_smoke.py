"""Short RLlib PPO (new API stack; 0 and 1 env runners) and SB3 PPO runs on the *table* backend.

The table is a small file of synthetic results covering every canonical (config, fidelity)
pair of one task, passed through ``backend_kwargs`` as a path (RLlib's remote env runner
opens it itself) or as an in-memory :class:`Table` (SB3, in process).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import agenticrs  # noqa: F401  (registers the envs)
from agenticrs.envs.backends import Table
from agenticrs.envs.core import TrialResult
from agenticrs.envs.spaces import AutoTrainSpace

ENV = "agenticrs/AutoTrain-v0"
TASK = "syn-sequential"
QUALITY = {"pop": 0.2, "itemknn": 0.4, "bprmf": 0.3, "gru4rec": 0.7, "sasrec": 0.9, "bert4rec": 0.6}
"""Relative ndcg@10 per family: structure a policy can pick up (sequential models win)."""


def synthetic_table(task: str = TASK, seeds: int = 3) -> Table:
    """Every canonical pair of the default space on ``task``, ``seeds`` repeats, deterministic values."""
    results = []
    for config, fidelity in AutoTrainSpace().enumerate():
        for seed in range(seeds):
            u = zlib.crc32(f"{config.key()}|{fidelity}|{seed}".encode()) / 2**32
            v = 0.1 * QUALITY[config.model] * (0.6 + 0.4 * fidelity) * (0.9 + 0.2 * u)
            results.append(TrialResult(config, task, fidelity, seed, "ok", {"ndcg@10": v}, {"ndcg@10": 0.95 * v},
                                       {"seconds": 2.0 + 20.0 * fidelity * QUALITY[config.model]}))
    return Table(results, {"env": "autotrain", "suite": "synthetic"})


@pytest.fixture(scope="module")
def table_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_table().save(tmp_path_factory.mktemp("table") / "smoke.jsonl.gz")


def test_sb3_ppo_on_the_table_backend() -> None:
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO

    env = gym.make(ENV, backend="table", backend_kwargs={"table": synthetic_table()}, tasks=[TASK], max_trials=8)
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=16, n_epochs=1, seed=0, device="cpu").learn(64)
    action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
    assert env.unwrapped.action_space.contains(np.asarray(action, dtype=np.int64))
    MaskablePPO("MlpPolicy", env, n_steps=32, batch_size=16, n_epochs=1, seed=0, device="cpu").learn(64)
    assert all(r.source == "table" and r.ok for r in env.unwrapped.history)


def test_rllib_ppo_on_the_table_backend_with_0_and_1_env_runners(table_file: Path) -> None:
    pytest.importorskip("ray")
    from rllib_smoke import run_ppo_with_0_and_1_env_runners

    env_config = {"backend": "table", "backend_kwargs": {"table": str(table_file)}, "tasks": [TASK], "max_trials": 8}
    # 8-trial episodes: 64+ steps finish several of them.
    run_ppo_with_0_and_1_env_runners(ENV, env_config, min_episodes=4)
