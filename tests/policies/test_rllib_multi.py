"""RLlib multi-agent PPO on ``agenticrs/AgenticRS-v0``: the agent -> module view, and smoke runs
(0 env runners: train, resume, reload without Ray, evaluate; slow: 1 remote env runner, shared policy)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

pytest.importorskip("ray")

from agenticrs.policies.rllib_multi import PolicyView, is_multi_agent  # noqa: E402
from agenticrs.policies.training import META_FILE, TrainSpec, load_policy, train  # noqa: E402

ENV_ID = "agenticrs/AgenticRS-v0"
TINY = {"train_batch_size_per_learner": 60, "minibatch_size": 30, "num_epochs": 1, "fcnet_hiddens": [16]}


def _env(**kw):
    from agenticrs.envs.agentic.rllib_env import AgenticRSEnv

    return AgenticRSEnv(obs_mode="dict", max_rounds=3, **kw)


def test_registry_says_multi_agent():
    assert is_multi_agent(ENV_ID) and not is_multi_agent("agenticrs/AutoTrain-v0")


def test_per_agent_view_keeps_each_agents_spaces():
    env = _env()
    view = PolicyView(env.observation_spaces, env.action_spaces, "per_agent")
    assert set(view.module_spaces()) == set(env.possible_agents)
    assert all(view.module_of(a) == a for a in env.possible_agents)
    obs, _ = env.reset(seed=0)
    for a in env.possible_agents:
        assert view.module_spaces()[a][0].contains(view.observation(a, obs[a]))


def test_shared_view_pads_masks_and_maps_back():
    env = _env()
    view = PolicyView(env.observation_spaces, env.action_spaces, "shared")
    (obs_space, act_space), = view.module_spaces().values()
    assert list(act_space.nvec) == [4, 5, 2, 2, 2]  # the largest choice count per position
    obs, _ = env.reset(seed=0)
    offsets = np.concatenate([[0], np.cumsum(act_space.nvec)])
    for i, a in enumerate(env.possible_agents):
        o = view.observation(a, obs[a])
        assert obs_space.contains(o)
        assert o["observations"][-len(env.possible_agents) + i] == 1.0  # the agent id, one-hot, last
        nvec = env.action_spaces[a].nvec
        for d, n in enumerate(act_space.nvec):  # allowed: the agent's own values; index 0 of positions it lacks
            allowed = np.flatnonzero(o["action_mask"][offsets[d]:offsets[d + 1]])
            assert allowed.max() < (nvec[d] if d < len(nvec) else 1)
        # Every action the mask allows maps to a valid env action of that agent.
        sample = [int(np.random.default_rng(d).choice(np.flatnonzero(o["action_mask"][offsets[d]:offsets[d + 1]])))
                  for d in range(len(act_space.nvec))]
        assert env.action_spaces[a].contains(view.action(a, sample))


def test_view_refuses_flat_observations():
    from agenticrs.envs.agentic.rllib_env import AgenticRSEnv

    env = AgenticRSEnv(obs_mode="flat")
    with pytest.raises(ValueError, match="obs_mode='dict'"):
        PolicyView(env.observation_spaces, env.action_spaces)
    with pytest.raises(ValueError, match="policy mode"):
        PolicyView(_env().observation_spaces, _env().action_spaces, "nope")


def _event_tags(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    return set(acc.Tags()["scalars"])


def _play(policy, split="test"):
    from agenticrs.policies.agentic_eval import run_policy_episode

    env = _env(split=split)
    trace = run_policy_episode(env, policy, env.core.tasks[0].name, seed=0)
    assert len(trace.final) == 3 and all(math.isfinite(x) for x in trace.scores()["outer"])
    return trace


def test_ma_ppo_zero_runners_train_resume_reload_evaluate(tmp_path):
    """One module per agent, 0 env runners: 2 iterations, resume for 1 more, reload the 4 modules
    without Ray, play an episode on an unseen test task."""
    import ray

    from agenticrs.policies.rllib_adapter import init_ray

    assert init_ray(None, num_cpus=2)
    try:
        spec = TrainSpec(env_id=ENV_ID, env_kwargs={"split": "train", "max_rounds": 3, "coupling": "lagrangian"},
                         timesteps=120, checkpoint_every=60, hparams=TINY)
        result = train(spec, tmp_path, progress=False)
        assert result.timesteps >= 120
        meta = json.loads((result.checkpoint / META_FILE).read_text())
        assert meta["multi_agent"] and meta["policy"] == "per_agent"
        assert sorted(meta["modules"]) == sorted(["model", "feature", "serving", "composer"])
        assert math.isfinite(meta["multiplier"])
        tags = _event_tags(result.run_dir)
        assert {"env/outer_mean", "env/multiplier", "agent/model/return", "agent/composer/policy_loss",
                "agent/serving/inner", "time/agent_steps_per_s"} <= tags, tags
        resumed = train(TrainSpec(env_id=ENV_ID, timesteps=180), resume=result.run_dir, progress=False)
        assert resumed.timesteps >= 180
    finally:
        ray.shutdown()
    policy = load_policy(result.run_dir)
    assert policy.multi_agent and set(policy.modules) == set(meta["modules"])
    _play(policy)


@pytest.mark.slow
def test_ma_ppo_one_remote_runner_shared_policy(tmp_path):
    """One shared module (agent id in the observation), 1 remote env runner: train, reload, evaluate."""
    spec = TrainSpec(env_id=ENV_ID, env_kwargs={"split": "train", "max_rounds": 3}, timesteps=60,
                     hparams={**TINY, "policy": "shared"}, num_env_runners=1)
    result = train(spec, tmp_path, progress=False)
    policy = load_policy(result.run_dir)
    assert policy.mode == "shared" and list(policy.modules) == ["shared"]
    _play(policy)
