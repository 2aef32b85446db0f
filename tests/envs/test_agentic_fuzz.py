"""AgenticRS-v0 fuzzing: 10,000 random joint actions and 2,000 invalid ones.

Random actions must never fault; every invalid one (wrong agent key, missing agent, out of
range, wrong shape or dtype, NaN, not a dict) must raise ``ValueError`` naming the problem
and leave the episode exactly as it was -- never a silent acceptance.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from agenticrs.envs.agentic import AGENTS, parallel_env


def _valid(env, rng):
    return {a: rng.integers(0, env.action_space(a).nvec) for a in AGENTS}


def test_ten_thousand_random_joint_actions():
    env = parallel_env(tasks=None, max_rounds=10, coupling="lagrangian", dual_every="round")
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    episodes = 0
    for i in range(10_000):
        if not env.agents:
            env.reset()
            episodes += 1
        obs, rew, term, trunc, info = env.step(_valid(env, rng))
        assert all(math.isfinite(r) for r in rew.values()), {a: info[a]["reward_terms"] for a in AGENTS}
        if i % 10 == 0:  # the space checks cost more than a step
            assert all(env.observation_space(a).contains(obs[a]) for a in AGENTS)
            assert env.state_space.contains(env.state())
    assert episodes >= 999


def _invalid(env, rng, kind: int) -> tuple[object, str]:
    acts = _valid(env, rng)
    agent = AGENTS[int(rng.integers(len(AGENTS)))]
    nvec = env.action_space(agent).nvec
    if kind == 0:
        acts["ranker"] = acts.pop(agent)
        return acts, "unknown agent"
    if kind == 1:
        del acts[agent]
        return acts, "lack agent"
    if kind == 2:
        bad = acts[agent].copy()
        i = int(rng.integers(len(nvec)))
        bad[i] = nvec[i] + int(rng.integers(0, 5)) if rng.random() < 0.5 else -1 - int(rng.integers(0, 5))
        acts[agent] = bad
        return acts, "out of range"
    if kind == 3:
        acts[agent] = np.append(acts[agent], 0)
        return acts, "shape"
    if kind == 4:
        acts[agent] = acts[agent].astype(np.float64) + (np.nan if rng.random() < 0.5 else 0.5)
        return acts, "integer"
    if kind == 5:
        return [acts[a] for a in AGENTS], "must be a dict"
    acts["extra"] = acts[agent]
    return acts, "unknown agent"


def test_two_thousand_invalid_joint_actions_are_refused_and_change_nothing():
    env = parallel_env(tasks=["syn-popular"], max_rounds=1000)
    rng = np.random.default_rng(1)
    env.reset(seed=1)
    for i in range(2_000):
        if i % 50 == 0:
            env.step(_valid(env, rng))  # interleave valid rounds: refusals happen mid-episode too
        before = (env.core._episode.round, dict(env.core._episode.pids), env.state().tolist())
        acts, match = _invalid(env, rng, i % 7)
        with pytest.raises(ValueError, match=match):
            env.step(acts)
        assert (env.core._episode.round, dict(env.core._episode.pids), env.state().tolist()) == before


def test_missing_agents_may_keep_their_part_when_asked():
    env = parallel_env(tasks=["syn-popular"], missing_action="keep")
    env.reset(seed=0)
    acts = {"composer": np.asarray([1, 0, 0, 0, 1])}
    _, rew, _, _, _ = env.step(acts)
    assert set(rew) == set(AGENTS)
    assert env.core.joint.part("composer")["recall_a"] == "pop"
    assert env.core.joint.part("model") == {"embedding_dim": 32, "layers": 1}


def test_step_before_reset_is_an_error():
    with pytest.raises(RuntimeError, match="reset"):
        parallel_env().step({})
