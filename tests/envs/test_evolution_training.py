"""Short SB3 and RLlib training runs on Compose, AutoFeature and AutoPerf in table mode.

The tables are made from the fake backend (every config the env can ask for, one task,
3 seeds): table lookups behave exactly as with a shipped table, and a table file also works
on RLlib's remote env runners (a test-only backend kind would not be registered there).
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest
from evolution_fakes import EVOLUTION_ENVS, FakeEvolutionBackend

import agenticrs  # noqa: F401
from agenticrs.envs.backends.table import Table

TASK = "syn-sequential"


def fake_table(env_id: str) -> Table:
    env = gym.make(env_id, backend=FakeEvolutionBackend())
    task = env.unwrapped.suite.task(TASK)
    fake = FakeEvolutionBackend()
    results = [fake.evaluate(task, c, f, s) for c, f in env.unwrapped.action_space.enumerate() for s in range(3)]
    return Table(results, {"env": env_id, "suite": "synthetic", "fake": True})


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tables")
    return {e: fake_table(e).save(root / f"{e.split('/')[1]}.jsonl.gz") for e in EVOLUTION_ENVS}


@pytest.mark.parametrize("env_id", EVOLUTION_ENVS)
def test_sb3_maskable_ppo_on_the_table_backend(env_id, tables):
    from sb3_contrib import MaskablePPO

    env = gym.make(env_id, backend="table", backend_kwargs={"table": str(tables[env_id])}, tasks=[TASK],
                   max_trials=4)
    model = MaskablePPO("MlpPolicy", env, n_steps=16, batch_size=8, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=32)
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, action_masks=env.unwrapped.action_masks(), deterministic=True)
    assert env.action_space.contains(action)
    assert all(r.source == "table" for r in env.unwrapped.history)


@pytest.mark.slow
@pytest.mark.parametrize("env_id", EVOLUTION_ENVS)
def test_rllib_ppo_on_the_table_backend_with_0_and_1_env_runners(env_id, tables):
    pytest.importorskip("ray")
    from rllib_smoke import run_ppo_with_0_and_1_env_runners

    env_config = {"backend": "table", "backend_kwargs": {"table": str(tables[env_id])}, "tasks": [TASK],
                  "max_trials": 4}
    run_ppo_with_0_and_1_env_runners(env_id, env_config, fragment=16)

