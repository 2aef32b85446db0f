"""Compose-v0: wiring space, invalid wirings, reward terms, live pipelines end to end."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from evolution_fakes import FakeEvolutionBackend

import agenticrs  # noqa: F401
from agenticrs.envs.backends.function import FunctionBackend
from agenticrs.envs.compose import ComposeEnv, pipeline_config
from agenticrs.envs.core import Task, TrialConfig

TINY = Task("tiny", "synthetic:users=120,items=80,seed=5,mean_length=8", max_trials=3)


def test_space_canonicalises_and_repairs_duplicate_recall():
    env = ComposeEnv(backend=FakeEvolutionBackend())
    sp = env.action_space
    assert sp.n_pairs == 840 and len(sp.enumerate()) == 840
    dup = sp.encode({"recall_a": "pop"})
    dup[1] = 1  # recall_b = pop, same as recall_a
    pid, repaired = sp.lookup(dup)
    assert repaired and sp.values(pid)["recall_b"] == "none" and "merge" not in sp.values(pid)
    # Conditional mask: with recall_a = pop, recall_b = pop is masked; merge only matters with two agents.
    m = sp.mask({"recall_a": "pop"})
    assert not m[4 + 1] and m[4 + 2]
    env.reset(seed=0)
    _, r, _, _, info = env.step(dup)
    assert info["repaired"] and info["reward_terms"]["invalid"] == -1.0


def test_terminal_terms_and_dict_obs():
    env = gym.make("agenticrs/Compose-v0", backend="fake-evolution", max_trials=3, obs_mode="dict")
    obs, _ = env.reset(seed=1)
    assert set(obs) == {"observations", "action_mask"} and obs["action_mask"].shape == (22,)
    env.action_space.seed(1)
    terms = []
    for _ in range(3):
        obs, r, term, _, info = env.step(env.action_space.sample())
        terms.append(info["reward_terms"])
    assert term
    assert all(t["coverage"] == 0.0 and t["latency"] == 0.0 for t in terms[:-1])
    inc = env.unwrapped.incumbent
    assert terms[-1]["coverage"] == pytest.approx(inc.test["coverage@10"])
    assert terms[-1]["latency"] == pytest.approx(-inc.cost["inference_ms_per_user"])
    env.reset(seed=2)
    before = env.unwrapped._obs.copy()
    for bad in (np.array([9, 0, 0, 0, 0, 0, 0, 0]), np.zeros(3, dtype=np.int64), np.full(8, np.nan)):
        with pytest.raises(ValueError):
            env.step(bad)
    assert np.array_equal(env.unwrapped._obs, before) and env.unwrapped._state.trials == 0


def test_pipeline_config_mapping():
    cfg = pipeline_config({"recall_a": "itemknn", "recall_b": "pop", "quota": 50, "merge": "round_robin",
                           "ranker": "sasrec", "rerank": "mmr", "mmr_weight": 0.5, "mmr_sim": "text"}, 0.5)
    assert [r.component.model for r in cfg.recall] == ["itemknn", "pop"] and cfg.merge == "round_robin"
    assert cfg.rank.model == "sasrec" and cfg.rank.epochs == 5 and cfg.mmr_embedding == "text"
    assert pipeline_config({"recall_a": "pop", "quota": 50}).rank is None


def test_live_pipeline_end_to_end_and_failures():
    env = ComposeEnv(backend="live", backend_kwargs={"isolate": False, "full_epochs": 1})
    env.reset(seed=0, options={"task": TINY})
    a = env.action_space.encode({"recall_a": "itemknn", "recall_b": "pop", "quota": 50, "merge": "rrf",
                                 "ranker": "bprmf", "rerank": "mmr", "mmr_weight": 0.5, "mmr_sim": "text"})
    _, _, _, _, info = env.step(a)
    r = info["result"]
    assert r.ok, r.reason
    assert 0 < r.valid["ndcg@10"] <= 1 and 0 < r.valid["coverage@10"] <= 1 and "diversity@10" in r.valid
    assert r.cost["inference_ms_per_user"] > 0 and r.cost["params"] > 0
    # A crashing trial is a failed result with its reason, never an exception.
    backend = FunctionBackend("agenticrs.envs.compose:run_compose_trial", isolate=False)
    bad = backend.evaluate(TINY, TrialConfig.make("pipeline", recall_a="nope", quota=50), 1.0, 0)
    assert bad.status == "failed" and "KeyError" in bad.reason


def test_isolated_trial_timeout_becomes_a_timeout_result():
    backend = FunctionBackend("evolution_fakes:stuck_compose_trial", timeout_s=0.5)
    try:
        r = backend.evaluate(TINY, TrialConfig.make("pipeline", recall_a="pop", quota=50), 1.0, 0)
    finally:
        backend.close()
    assert r.status == "timeout" and "timeout" in r.reason
