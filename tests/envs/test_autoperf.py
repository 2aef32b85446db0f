"""AutoPerf-v0: experiment decisions, state-dependent masks, A/B reward, primal-dual constraints, live serving."""

from __future__ import annotations

import pytest
from evolution_fakes import FakeEvolutionBackend

import agenticrs  # noqa: F401
from agenticrs.envs.autoperf import DECISIONS, AutoPerfEnv
from agenticrs.envs.core import Task

TINY = Task("tiny", "synthetic:users=120,items=80,seed=5,mean_length=8", max_trials=3)


def act(env, decision, **values):
    return env.action_space.encode({"decision": decision, **values})


def ramp_mask_open(env) -> bool:
    return bool(env.action_masks()[DECISIONS.index("ramp")])


def test_launch_ramp_and_ship():
    env = AutoPerfEnv(backend=FakeEvolutionBackend(), max_trials=8)
    env.reset(seed=0)
    assert not ramp_mask_open(env) and env.experiment is None
    _, _, _, _, info = env.step(act(env, "launch_5", precision="int8"))
    assert env.experiment["share"] == 0.05 and ramp_mask_open(env)
    x = info["extra"]
    assert x["ci_low"] <= x["lift"] <= x["ci_high"] and info["reward_terms"]["online"] == pytest.approx(
        x["online"])
    treatment = env.experiment["treatment"]
    calls = env.backend.calls
    for share in (0.2, 0.5):
        env.step(act(env, "ramp"))
        assert env.experiment["share"] == share
    env.step(act(env, "ramp"))
    assert env.experiment is None and env.control is treatment  # shipped
    assert env.backend.calls == calls  # ramping evaluates nothing
    _, _, _, _, info = env.step(act(env, "rollback"))  # nothing to roll back: invalid, a no-op
    assert info["repaired"] and info["reward_terms"]["invalid"] == -1.0


def test_rollback_stops_the_experiment_and_its_reward():
    env = AutoPerfEnv(backend=FakeEvolutionBackend(), max_trials=4)
    env.reset(seed=1)
    env.step(act(env, "launch_20"))
    _, _, _, _, info = env.step(act(env, "rollback"))
    assert env.experiment is None and info["reward_terms"]["online"] == 0.0 and not info["repaired"]


def run_episode(env, seed=None):
    env.reset(seed=seed)
    term = False
    while not term:
        term = env.step(act(env, "offline"))[2]


def test_primal_dual_multipliers_follow_constraint_violation():
    tight = AutoPerfEnv(backend=FakeEvolutionBackend(), max_trials=3, latency_sla_ms=1.0, memory_budget_mb=10.0)
    run_episode(tight, seed=0)
    first = dict(tight.lambdas)
    tight.reset()  # unseeded: dual ascent on the last episode's mean violation
    assert tight.lambdas["latency"] > first["latency"]  # always violated: grows
    assert tight.lambdas["memory"] < first["memory"]  # always slack: shrinks
    _, _, _, _, info = tight.step(act(tight, "offline"))
    assert info["reward_terms"]["latency_sla"] == pytest.approx(
        -tight.lambdas["latency"] * info["extra"]["g_latency"]) and info["reward_terms"]["latency_sla"] < 0
    assert info["reward_terms"]["memory_budget"] == 0.0
    tight.reset(seed=5)  # seeded: the schedule restarts (same seed, same episode)
    assert tight.lambdas == {"latency": 1.0, "memory": 1.0}


def test_live_serving_trial_measures_latency_and_memory():
    env = AutoPerfEnv(backend="live", backend_kwargs={"isolate": False, "base_epochs": 1})
    env.reset(seed=0, options={"task": TINY})
    ctl = env.control
    assert ctl.ok, ctl.reason
    _, _, _, _, info = env.step(act(env, "launch_20", precision="int8", refresh=5))
    r = info["result"]
    assert r.ok and r.cost["memory_mb"] != ctl.cost["memory_mb"] and r.cost["p99_latency_ms"] > 0
    assert 0 <= r.test["ndcg@10"] <= 1 and "pos@1" in r.test
    assert env.experiment["share"] == 0.2


def test_offline_evaluation_is_always_valid():
    """An offline evaluation is never an invalid (repaired) action, with or without an experiment."""
    env = AutoPerfEnv(backend=FakeEvolutionBackend(), max_trials=4)
    env.reset(seed=0)
    _, _, _, _, info = env.step(act(env, "offline"))
    assert not info["repaired"] and info["reward_terms"]["invalid"] == 0.0
    env.step(act(env, "launch_5"))
    _, _, _, _, info = env.step(act(env, "offline"))
    assert not info["repaired"] and env.experiment is not None  # the experiment keeps running


def _trace(env, seed, steps=40):
    """Exact per-step record (obs bytes, reward, terms, extra) of random actions from ``reset(seed)``."""
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    rows = [obs.tobytes()]
    for _ in range(steps):
        obs, reward, term, _, info = env.step(env.action_space.sample())
        rows.append((obs.tobytes(), reward, sorted(info["reward_terms"].items()), sorted(info["extra"].items())))
        if term:
            obs, _ = env.reset()
            rows.append(obs.tobytes())
    return rows


def test_cached_arm_statistics_change_no_result():
    """The per-result A/B statistics AutoPerf caches give bit-identical periods: every simulated
    period equals :func:`simulate_ab` on the arms' ``pos@K`` shares with the step's seed, and a
    warm cache (after other episodes) replays a cold env's episodes exactly."""
    import numpy as np

    from agenticrs.recsys.serving.ab import expected_ctr, simulate_ab

    env = AutoPerfEnv(backend="table")
    env.action_space.seed(0)
    env.reset(seed=0)
    initial, periods = env.control, 0
    for _ in range(60):
        _, _, term, _, info = env.step(env.action_space.sample())
        x, trial = info["extra"], env._state.trials
        if env.experiment is not None and env.control.ok:
            ab = simulate_ab(env.control.test, env._treat.test, env._share, env.requests,
                             np.random.default_rng(env._seeds[trial - 1]))
            assert (x["lift"], x["ci_low"], x["ci_high"], x["revenue_lift"]) == (
                ab.lift, ab.ci_low, ab.ci_high, ab.revenue_lift)
            periods += 1
        ref = max(expected_ctr(initial.test), 1e-6)
        assert x["shipped"] == (expected_ctr(env.control.test) - expected_ctr(initial.test)) / ref
        if term:
            env.reset()
            initial = env.control
    assert periods >= 10  # the random actions ran experiments
    warm = env
    for seed in (1, 2):
        assert _trace(AutoPerfEnv(backend="table"), seed) == _trace(warm, seed)
