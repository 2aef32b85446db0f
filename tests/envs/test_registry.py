"""Every registered agenticrs env: checkers, determinism, pickling, vector envs, RLlib/SB3 registration.

Parametrized over the registry, so an env is tested the moment it is registered. Envs run
with :func:`autotrain_fakes.env_kwargs` (the shipped table when present, else a tiny
deterministic backend).
"""

from __future__ import annotations

import functools
import pickle
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from autotrain_fakes import PLUGIN_CALLS, env_kwargs, make_test_env
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import agenticrs
from agenticrs.envs import registration

ENV_IDS = registration.list_env_ids()
SINGLE_AGENT_IDS = registration.list_env_ids(multi_agent=False)
"""Single-agent Gymnasium envs; multi-agent ones (AgenticRS-v0) have their own tests (test_agentic*.py)."""


def rollout(env: gym.Env, seed: int, steps: int) -> list[tuple]:
    """``steps`` seeded random steps across episode boundaries -> (obs, reward, term, trunc, terms)."""
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    out: list[tuple] = [(_flat(obs),)]
    for _ in range(steps):
        obs, r, term, trunc, info = env.step(env.action_space.sample())
        out.append((_flat(obs), r, term, trunc, info.get("reward_terms")))
        if term or trunc:
            obs, _ = env.reset()
            out.append((_flat(obs),))
    return out


def _flat(obs) -> tuple:
    if isinstance(obs, dict):
        return tuple(np.concatenate([np.ravel(v) for _, v in sorted(obs.items())]).tolist())
    return tuple(np.ravel(obs).tolist())


def test_builtin_envs_are_registered():
    assert "agenticrs/AutoTrain-v0" in SINGLE_AGENT_IDS
    assert registration.list_env_ids(multi_agent=True) == ["agenticrs/AgenticRS-v0"]
    assert "agenticrs/AutoTrain-v0" in gym.registry
    rows = {r["id"]: r for r in agenticrs.list_envs()}
    row = rows["agenticrs/AutoTrain-v0"]
    assert "error" not in row, row
    assert row["action_space"].startswith("AutoTrainSpace([6, 2, 2")
    assert row["observation_space"] == "Box(0.0, 10.0, (38,), float32)"
    assert set(row["backends"]) == {"table", "surrogate", "live"}


@pytest.mark.parametrize("env_id", SINGLE_AGENT_IDS)
def test_gymnasium_check_env(env_id):
    env = gym.make(env_id, **env_kwargs(env_id))
    gym_check_env(env.unwrapped, skip_render_check=False)
    env.close()


@pytest.mark.parametrize("env_id", SINGLE_AGENT_IDS)
def test_sb3_check_env(env_id):
    env = gym.make(env_id, **env_kwargs(env_id))
    sb3_check_env(env.unwrapped, warn=True)
    env.close()


@pytest.mark.parametrize("env_id", SINGLE_AGENT_IDS)
def test_seeded_determinism(env_id):
    a = rollout(gym.make(env_id, **env_kwargs(env_id)), seed=7, steps=45)
    b = rollout(gym.make(env_id, **env_kwargs(env_id)), seed=7, steps=45)
    assert a == b
    c = rollout(gym.make(env_id, **env_kwargs(env_id)), seed=8, steps=45)
    assert a != c  # the seed matters (task draw, trial seeds, sampled actions)


@pytest.mark.parametrize("env_id", SINGLE_AGENT_IDS)
def test_pickling_mid_episode(env_id):
    env = gym.make(env_id, **env_kwargs(env_id))
    env.reset(seed=3)
    env.action_space.seed(3)
    for _ in range(3):
        env.step(env.action_space.sample())
    clone = pickle.loads(pickle.dumps(env))
    actions = [env.action_space.sample() for _ in range(5)]
    for a in actions:
        o1, r1, t1, _, _ = env.step(a)
        o2, r2, t2, _, _ = clone.step(a)
        assert _flat(o1) == _flat(o2) and r1 == r2 and t1 == t2


def _vector_rollout(vec: gym.vector.VectorEnv, steps: int) -> list[tuple]:
    vec.action_space.seed(0)
    obs, _ = vec.reset(seed=[11, 12])
    out = [np.asarray(obs).tolist()]
    for _ in range(steps):
        obs, r, term, trunc, _ = vec.step(vec.action_space.sample())
        out.append((np.asarray(obs).tolist(), r.tolist(), term.tolist(), trunc.tolist()))
    vec.close()
    return out


@pytest.mark.parametrize("env_id", SINGLE_AGENT_IDS)
def test_sync_and_async_vector_envs_agree(env_id):
    fns = [functools.partial(make_test_env, env_id)] * 2
    sync = _vector_rollout(gym.vector.SyncVectorEnv(fns), steps=30)
    async_ = _vector_rollout(gym.vector.AsyncVectorEnv(fns), steps=30)
    assert sync == async_
    # 30 steps cross an episode boundary (20 trials): the autoreset path ran.
    assert any(any(step[2]) for step in sync[1:])


def test_rllib_registration_on_ray_tune_import():
    """In a fresh interpreter: ``import agenticrs`` first, ``ray.tune`` later -> every env is registered."""
    code = (
        "import sys, agenticrs\n"
        "assert 'ray' not in sys.modules  # import agenticrs stays cheap\n"
        "from ray.tune.registry import ENV_CREATOR, _global_registry\n"
        "from agenticrs.envs.registration import list_env_ids\n"
        "missing = [i for i in list_env_ids() if not _global_registry.contains(ENV_CREATOR, i)]\n"
        "assert not missing, missing\n"
        "print('ok', len(list_env_ids()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.startswith("ok"), out.stderr[-2000:]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_rllib_creator_builds_env(env_id):
    import ray.cloudpickle

    registration.register_rllib()
    from ray.tune.registry import ENV_CREATOR, _global_registry

    assert _global_registry.contains(ENV_CREATOR, env_id)
    creator = _global_registry.get(ENV_CREATOR, env_id)
    # What a remote env runner receives: the pickled creator, called with an env_config dict.
    creator = ray.cloudpickle.loads(ray.cloudpickle.dumps(creator))
    env = creator(env_kwargs(env_id))
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)


def test_register_custom_env_and_unregister():
    env_id = "agenticrs-test/TinyAutoTrain-v0"
    try:
        agenticrs.register_env(env_id, "agenticrs.envs.autotrain:AutoTrainEnv", backends=("fake",),
                               describe_kwargs={"backend": "fake"}, families=("pop", "sasrec"), max_trials=3)
        with pytest.raises(ValueError, match="already registered"):
            agenticrs.register_env(env_id, "agenticrs.envs.autotrain:AutoTrainEnv")
        env = gym.make(env_id, backend="fake")
        assert list(env.action_space.nvec[:1]) == [2]
        env.reset(seed=0)
        steps = 0
        while True:
            steps += 1
            if env.step(env.action_space.sample())[2]:
                break
        assert steps == 3
        assert env_id in [r["id"] for r in agenticrs.list_envs()]
    finally:
        registration.unregister_env(env_id)
    assert env_id not in gym.registry and env_id not in registration.list_env_ids()


def test_plugins_entry_points_are_loaded_once(monkeypatch):
    from importlib import metadata

    ep = metadata.EntryPoint("fake-plugin", "autotrain_fakes:plugin", registration.PLUGIN_GROUP)
    broken = metadata.EntryPoint("broken", "no_such_module_xyz:thing", registration.PLUGIN_GROUP)
    monkeypatch.setattr(metadata, "entry_points", lambda group: [ep, broken] if group == registration.PLUGIN_GROUP else [])
    monkeypatch.setattr(registration, "_plugins_loaded", [])
    PLUGIN_CALLS.clear()
    with pytest.warns(UserWarning, match="broken"):
        assert registration.load_plugins() == ["fake-plugin"]
    assert PLUGIN_CALLS == ["plugin"]
    from agenticrs.envs.rewards import get_reward_term

    assert get_reward_term("plugin-constant").name == "plugin-constant"
    with pytest.warns(UserWarning, match="broken"):
        assert registration.load_plugins() == []  # already loaded: not called twice
    assert PLUGIN_CALLS == ["plugin"]
