"""AgenticRS-v0: PettingZoo and RLlib contracts, determinism, layered rewards, the dual-ascent multiplier.

Runs on the shipped component cache of the embedded suite (no training).
"""

from __future__ import annotations

import math
import pickle

import gymnasium as gym
import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

import agenticrs  # noqa: F401  (registers agenticrs/AgenticRS-v0)
from agenticrs.envs.agentic import AGENTS, COUPLINGS, JointConfig, evaluate, parallel_env
from agenticrs.envs.agentic.assemble import PipelineResult
from agenticrs.envs.agentic.backend import CachedBackend, PACKAGE_CACHE, cache_name
from agenticrs.envs.agentic.rewards import DualAscent, couple, mode_rewards
from agenticrs.envs.suites import get_suite

TASK = ["syn-sparse"]


def _actions(env, rng: np.random.Generator) -> dict:
    return {a: rng.integers(0, env.action_space(a).nvec) for a in env.agents}


def _rollout(env, seed: int, rounds: int) -> list:
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    out = [{a: o.tolist() for a, o in obs.items()}]
    for _ in range(rounds):
        if not env.agents:
            obs, _ = env.reset()
            out.append({a: o.tolist() for a, o in obs.items()})
        obs, rew, term, _, info = env.step(_actions(env, rng))
        out.append(({a: o.tolist() for a, o in obs.items()}, rew, term,
                    {a: info[a]["reward_terms"] for a in info}, env.state().tolist()))
    return out


def test_the_embedded_suite_ships_its_cache():
    for task in get_suite("synthetic").tasks:
        assert (PACKAGE_CACHE / cache_name(task, 0)).exists(), task.name


def test_pettingzoo_parallel_api_test():
    parallel_api_test(parallel_env(tasks=TASK, max_rounds=5), num_cycles=40)
    # obs_mode="dict" carries RLlib's flat mask, which pettingzoo's checker would feed to
    # MultiDiscrete.sample(mask=) (it wants per-dimension tuples): checked by the RLlib contract test.
    parallel_api_test(parallel_env(tasks=TASK, max_rounds=3, coupling="difference"), num_cycles=20)


def test_pettingzoo_aec_api_test():
    from pettingzoo.test import api_test

    from agenticrs.envs.agentic import env

    api_test(env(tasks=TASK, max_rounds=3), num_cycles=20)


def test_pickled_mid_episode_env_continues_identically():
    env = parallel_env(tasks=None, max_rounds=6, coupling="difference")
    rng = np.random.default_rng(2)
    env.reset(seed=2)
    for _ in range(3):
        env.step(_actions(env, rng))
    clone = pickle.loads(pickle.dumps(env))
    for _ in range(3):
        acts = _actions(env, rng)
        a, b = env.step(acts), clone.step(acts)
        assert [o.tolist() for o in a[0].values()] == [o.tolist() for o in b[0].values()]
        assert a[1] == b[1] and a[2] == b[2]


def test_ansi_render():
    env = parallel_env(tasks=TASK, render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert "round 0/10" in text and "composer" in text and "valid NDCG@10" in text
    assert parallel_env(tasks=TASK).render() is None


def test_spaces_are_stable_and_documented():
    env = parallel_env()
    assert env.possible_agents == list(AGENTS)
    for a in AGENTS:
        assert env.observation_space(a) is env.observation_space(a)
        assert env.action_space(a) is env.action_space(a)
    sizes = {a: env.observation_space(a).shape[0] for a in AGENTS}
    assert sizes == {"model": 46, "feature": 46, "serving": 48, "composer": 52}  # 42 + 2 * len(nvec), as documented
    assert {a: env.action_space(a).nvec.tolist() for a in AGENTS} == {
        "model": [2, 2], "feature": [2, 2], "serving": [3, 3, 2], "composer": [4, 5, 2, 2, 2]}
    env.reset(seed=0)
    assert env.state_space.contains(env.state())


def test_rllib_multi_agent_env_contract():
    from ray.rllib.env.multi_agent_env import MultiAgentEnv

    from agenticrs.envs.registration import make_from_config

    env = make_from_config("agenticrs/AgenticRS-v0", {"tasks": TASK, "max_rounds": 3, "obs_mode": "dict"})
    assert isinstance(env, MultiAgentEnv)
    assert env.possible_agents == list(AGENTS)
    assert set(env.observation_spaces) == set(env.action_spaces) == set(AGENTS)
    obs, infos = env.reset(seed=1)
    assert set(obs) == set(env.agents) == set(AGENTS) and set(infos) <= set(AGENTS)
    for a, o in obs.items():
        assert env.observation_spaces[a].contains(o)
        assert o["action_mask"].shape == (int(env.action_spaces[a].nvec.sum()),)
        assert env.action_spaces[a].contains(env.action_spaces[a].sample(mask=infos[a]["action_mask"]))
    for r in range(3):
        obs, rew, term, trunc, infos = env.step({a: env.action_spaces[a].sample() for a in env.agents})
        assert set(rew) == set(AGENTS) and all(isinstance(v, float) for v in rew.values())
        assert term["__all__"] == (r == 2) and trunc["__all__"] is False
        assert all(env.observation_spaces[a].contains(o) for a, o in obs.items())
    assert env.agents == []
    with pytest.raises(RuntimeError, match="ended"):
        env.step({a: env.action_spaces[a].sample() for a in AGENTS})
    # What a remote env runner receives: the pickled env config and a fresh env.
    clone = pickle.loads(pickle.dumps(env))
    assert clone.reset(seed=1)[0].keys() == obs.keys()


def test_gym_make_returns_the_rllib_env():
    env = gym.make("agenticrs/AgenticRS-v0", tasks=TASK)
    obs, _ = env.unwrapped.reset(seed=0)
    assert set(obs) == set(AGENTS)


def test_seeded_determinism_across_episodes():
    a = _rollout(parallel_env(tasks=None, max_rounds=4, coupling="lagrangian"), seed=5, rounds=13)
    b = _rollout(parallel_env(tasks=None, max_rounds=4, coupling="lagrangian"), seed=5, rounds=13)
    assert a == b
    c = _rollout(parallel_env(tasks=None, max_rounds=4, coupling="lagrangian"), seed=6, rounds=13)
    assert a != c


@pytest.mark.parametrize("coupling", COUPLINGS)
def test_reward_terms_sum_to_the_reward_in_every_mode(coupling):
    env = parallel_env(tasks=TASK, max_rounds=6, coupling=coupling, outer_weight=0.7, outer_target=0.05,
                       dual_every="round")
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    for _ in range(30):
        if not env.agents:
            env.reset()
        lam = env.core.multiplier  # the multiplier this round's rewards use
        _, rew, _, _, info = env.step(_actions(env, rng))
        for a in AGENTS:
            i = info[a]
            assert math.isclose(sum(i["reward_terms"].values()), rew[a], rel_tol=0, abs_tol=1e-12)
            assert math.isclose(i["rewards_by_mode"][coupling], rew[a], rel_tol=1e-9, abs_tol=1e-12)
            outer = i["outer"]
            assert math.isclose(outer, sum(i["outer_terms"].values()), abs_tol=1e-12)
            expected = {"inner": i["inner"], "outer": outer, "layered": i["inner"] + 0.7 * outer,
                        "lagrangian": i["inner"] + lam * (outer - 0.05),
                        "difference": outer - i["counterfactual_outer"]}[coupling]
            assert math.isclose(rew[a], expected, rel_tol=1e-9, abs_tol=1e-12)
            assert i["multiplier"] == lam


def test_couple_and_mode_rewards_agree():
    inner, outer, cf = {"improvement": 0.3, "invalid": -0.1}, {"ab": 0.2, "sla": -0.5}, {"ab": 0.1, "sla": 0.0}
    sums = mode_rewards(0.2, -0.3, 0.1, weight=2.0, multiplier=1.5, target=0.1)
    for mode in COUPLINGS:
        terms = couple(mode, inner, outer, cf, weight=2.0, multiplier=1.5, target=0.1)
        assert math.isclose(sum(terms.values()), sums[mode], abs_tol=1e-12), mode
    with pytest.raises(ValueError, match="coupling must be one of"):
        couple("bogus", inner, outer)


def test_difference_reward_is_zero_at_the_default():
    env = parallel_env(tasks=TASK, coupling="difference")
    env.reset(seed=0)
    acts = {a: np.zeros(len(env.action_space(a).nvec), dtype=np.int64) for a in AGENTS}
    acts["composer"] = np.asarray([1, 0, 0, 0, 1])  # only the composer leaves its default
    _, rew, _, _, _ = env.step(acts)
    assert rew["model"] == rew["feature"] == rew["serving"] == 0.0
    assert rew["composer"] != 0.0


def test_dual_ascent_rises_below_target_and_falls_to_zero_above():
    d = DualAscent(target=0.5, lr=0.5, init=1.0)
    for outer in (0.0, -0.2, 0.1):
        before = d.value
        d.observe(outer)
        assert d.update() > before
    for _ in range(20):
        d.observe(2.0)
        d.update()
    assert d.value == 0.0
    with pytest.raises(ValueError):
        DualAscent(init=-1.0)


@pytest.mark.parametrize("dual_every", ["round", "episode"])
def test_env_multiplier_follows_the_outer_objective(dual_every):
    rng = np.random.default_rng(1)
    high = parallel_env(tasks=TASK, max_rounds=3, coupling="lagrangian", outer_target=5.0, dual_every=dual_every)
    low = parallel_env(tasks=TASK, max_rounds=3, coupling="lagrangian", outer_target=-5.0, dual_every=dual_every)
    for env in (high, low):
        env.reset(seed=0)
        for _ in range(12):
            if not env.agents:
                env.reset()
            env.step(_actions(env, rng))
        env.reset()
    assert high.core.multiplier > 1.0  # the outer objective is far below 5: the multiplier rose
    assert low.core.multiplier == 0.0  # far above -5: it fell to zero (projected)
    high.reset(seed=0)
    assert high.core.multiplier == 1.0  # a seeded reset restarts the schedule
    high.core.set_multiplier(-3.0)
    assert high.core.multiplier == 0.0


def test_observations_carry_the_knowledge_summary(tmp_path):
    from agenticrs.envs.knowledge import KnowledgeStore

    store = KnowledgeStore(tmp_path / "k.sqlite")
    env = parallel_env(tasks=TASK, max_rounds=4, store=store, run_id="r1")
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    while env.agents:
        env.step(_actions(env, rng))
    assert len(store.decisions(run_id="r1")) == 4 * 4
    assert len(store.trials(run_id="r1")) == 4
    # A fresh env sharing the store starts from what the first one learned.
    env2 = parallel_env(tasks=TASK, max_rounds=4, store=store)
    obs, _ = env2.reset(seed=0)
    know = env2.core.knowledge.task(TASK[0])
    assert know["composer"].tried >= 5 and know["composer"].action is not None
    lay = env2.core._layout["composer"]
    assert obs["composer"][lay["know"] + 3] > 0  # composer's best known metric, from the store


def test_evaluate_a_joint_config_without_rl():
    ev = evaluate(TASK[0], {"composer": {"ranker": False}}, seed=0)
    assert ev.result.ok and 0 < ev.result.valid["ndcg@10"] <= 1
    same = evaluate(TASK[0], JointConfig.default(), seed=0, expected=True)
    assert same.outcome.terms["ab"] == 0.0  # the default against itself: no expected lift
    with pytest.raises(ValueError, match="unknown agent"):
        JointConfig.make(ranker={})
    with pytest.raises(ValueError, match="is not one of"):
        JointConfig.make(serving={"precision": "fp8"})


def test_exhaustive_best_is_the_maximum_and_beats_the_default():
    from agenticrs.envs.agentic import exhaustive_best

    ex = exhaustive_best(TASK[0])
    assert len(ex.configs) == 4 * 4 * 18 * 112 == len(set(ex.configs))
    assert ex.best_outer == max(ex.outer) > 0.0  # something beats the default pipeline
    assert evaluate(TASK[0], ex.best, expected=True).outer == ex.best_outer
    assert ex.regret(ex.best_outer) == 0.0 and ex.regret(0.0) == 1.0


def test_cached_backend_is_real_and_exact():
    """The assembled pipeline equals running the cached numbers' definition: a ranker that is off
    leaves the recall order; with text features the ranker's NDCG differs (it was trained)."""
    task = get_suite("synthetic").task(TASK[0])
    be = CachedBackend()
    off = be.evaluate(task, JointConfig.make(composer={"ranker": False}), 0)
    on = be.evaluate(task, JointConfig.default(), 0)
    text = be.evaluate(task, JointConfig.make(feature={"attributes": True}), 0)
    assert off.valid["ranker_ndcg@10"] == on.valid["ranker_ndcg@10"] != text.valid["ranker_ndcg@10"]
    assert off.valid["ndcg@10"] != on.valid["ndcg@10"]
    assert on.p99_ms > off.p99_ms and on.memory_mb > off.memory_mb  # the ranking stage costs
    assert isinstance(on, PipelineResult) and sum(on.test_positions.values()) <= 1.0 + 1e-9
    with pytest.raises(FileNotFoundError, match="no AgenticRS component cache"):
        CachedBackend(cache_dir="/nonexistent", build=False).evaluate(task, JointConfig.default(), 0)


def test_bad_constructor_arguments_are_named():
    for kwargs, match in [({"coupling": "both"}, "coupling"), ({"max_rounds": 0}, "max_rounds"),
                          ({"obs_mode": "img"}, "obs_mode"), ({"missing_action": "skip"}, "missing_action"),
                          ({"backend": "table"}, "backend must be one of"), ({"tasks": ["nope"]}, "no task"),
                          ({"dual_every": "step"}, "dual_every")]:
        with pytest.raises((ValueError, KeyError), match=match):
            parallel_env(**kwargs)
