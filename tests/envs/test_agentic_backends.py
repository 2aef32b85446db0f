"""AgenticRS-v0 backends: the live backend in an isolated worker (a tiny task), cache building, RLlib sampling."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agenticrs.envs.agentic import AGENTS, JointConfig, parallel_env
from agenticrs.envs.agentic.backend import CachedBackend, LiveAgenticBackend, build_tables, cache_name
from agenticrs.envs.core import Task, TaskSuite

TINY = Task("tiny", "synthetic:users=60,items=80,seed=3,skew=1.0,seq_strength=0.6,text_signal=0.5,mean_length=6",
            max_trials=3)
TINY_SUITE = TaskSuite("agentic-tiny", train=(TINY,), test=())


def test_live_backend_trains_in_a_worker_and_drives_the_env():
    backend = LiveAgenticBackend(timeout_s=300)
    try:
        env = parallel_env(backend=backend, suite=TINY_SUITE, max_rounds=2)
        obs, _ = env.reset(seed=0)
        acts = {a: np.zeros(len(env.action_space(a).nvec), dtype=np.int64) for a in AGENTS}
        acts["composer"] = np.asarray([1, 0, 0, 0, 1])  # pop recall, no ranker
        _, rew, _, _, info = env.step(acts)
        p = info["model"]["pipeline"]
        assert p["status"] == "ok" and 0.0 <= p["valid_ndcg"] <= 1.0 and p["train_seconds"] > 0
        assert all(math.isfinite(r) for r in rew.values())
        assert backend.inner.stats["ran"] >= 2  # defaults at reset, the round's pipeline, counterfactuals
    finally:
        backend.close()


def test_live_backend_timeout_is_a_failed_round_not_a_crash():
    backend = LiveAgenticBackend(timeout_s=0.01)
    try:
        result = backend.evaluate(TINY, JointConfig.default(), 0)
        assert result.status == "timeout" and "timeout" in result.reason and not result.ok
    finally:
        backend.close()


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    """A cache of the tiny task built with one interruption: ``(folder, ranker parts trained on the rerun)``.

    Three rankers instead of the grid's 16 keep it fast (the default joint config uses ranker 0).
    """
    import agenticrs.envs.agentic.backend as backend_module
    from agenticrs.envs.agentic.components import ranker_grid

    folder = tmp_path_factory.mktemp("agentic-cache")
    out = folder / cache_name(TINY, 0)
    real, calls = backend_module._ranker_part, {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(backend_module, "ranker_grid", lambda: ranker_grid()[:3])
    mp.setattr(backend_module, "_ranker_part", flaky)
    try:
        with pytest.raises(KeyboardInterrupt):
            build_tables(TINY, 0, out, progress=False)
        interrupted = (out.exists(), sorted(p.name for p in out.with_name(out.name + ".parts").iterdir()))
        calls["n"] = 100  # no more interruptions
        build_tables(TINY, 0, out, progress=False)
    finally:
        mp.undo()
    return folder, interrupted, calls["n"] - 100


def test_cache_build_is_resumable_and_atomic(tiny_cache):
    """An interrupted build leaves part files and no cache file; the rerun finishes from them."""
    folder, (existed, parts), retrained = tiny_cache
    assert not existed and parts == ["ranker00.npz", "ranker01.npz", "recall.npz"]
    assert retrained == 1  # only the interrupted ranker was trained again
    out = folder / cache_name(TINY, 0)
    assert out.exists() and not out.with_name(out.name + ".parts").exists()


def test_cached_backend_equals_the_live_backend(tiny_cache):
    """The cache holds real components: a live run in a worker process gives the same metrics and memory."""
    folder = tiny_cache[0]
    cached = CachedBackend(cache_dir=folder, build=False)
    live = LiveAgenticBackend(timeout_s=300)
    try:
        for joint in (JointConfig.default(), JointConfig.make(
                serving={"precision": "int8", "refresh": 5},
                composer={"recall_a": "sasrec", "recall_b": "pop", "merge": "round_robin"})):
            c, lv = cached.evaluate(TINY, joint, 0), live.evaluate(TINY, joint, 0)
            assert c.ok and lv.ok, lv.reason
            for split in ("valid", "test"):
                for key in ("ndcg@10", "recall@10", "ranker_ndcg@10"):
                    assert getattr(lv, split)[key] == pytest.approx(getattr(c, split)[key], abs=1e-6), (split, key)  # float32 in the cache
            assert lv.memory_mb == pytest.approx(c.memory_mb)
            assert lv.p99_ms > 0 and c.p99_ms > 0  # measured twice: times differ, quality does not
    finally:
        live.close()


@pytest.mark.slow
def test_rllib_multi_agent_env_runner_samples():
    """RLlib's new-API-stack MultiAgentEnvRunner builds the registered env and samples all four agents."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.env.multi_agent_env_runner import MultiAgentEnvRunner

    from agenticrs.envs.registration import register_rllib

    register_rllib()
    config = (PPOConfig()
              .environment("agenticrs/AgenticRS-v0", env_config={"max_rounds": 5, "coupling": "lagrangian"})
              .multi_agent(policies=set(AGENTS), policy_mapping_fn=lambda aid, *a, **k: aid)
              .env_runners(num_env_runners=0))
    runner = MultiAgentEnvRunner(config=config)
    episodes = runner.sample(num_timesteps=50)
    assert sum(e.env_steps() for e in episodes) >= 50
    assert sum(e.agent_steps() for e in episodes) == 4 * sum(e.env_steps() for e in episodes)
