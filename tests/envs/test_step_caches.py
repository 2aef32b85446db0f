"""The per-process caches behind a table step: what they share, and that they change nothing.

Episodes stay bit-identical (``test_env_step_identity.py``); these tests pin down the caches
themselves: config keys computed once per object, table lookups shared by every backend on a
table (the vector envs of one RLlib env runner), AutoPerf's per-result work shared by its envs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle

import gymnasium as gym
import numpy as np

import agenticrs  # noqa: F401  (registers the envs)
from agenticrs.envs import autoperf
from agenticrs.envs.backends.table import TableBackend, load_table, table_path
from agenticrs.envs.core import TrialConfig


def test_a_config_key_is_computed_once_and_invisible_to_equality_hash_repr_and_pickle() -> None:
    config = TrialConfig.make("sasrec", embedding_dim=64, lr=1e-3)
    expected = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
    assert config.key() == expected and config.key() is config.key()
    fresh = TrialConfig.make("sasrec", embedding_dim=64, lr=1e-3)
    assert fresh == config and hash(fresh) == hash(config) and repr(fresh) == repr(config)
    assert pickle.loads(pickle.dumps(config)).key() == expected
    assert dataclasses.asdict(config) == {"model": "sasrec", "params": config.params}
    other = dataclasses.replace(config, model="bert4rec")
    assert other.key() != expected  # a new object gets its own key


def test_backends_on_one_table_share_their_lookups() -> None:
    table = load_table(table_path("autotrain", "synthetic"))
    a, b = TableBackend(table), TableBackend(table_path("autotrain", "synthetic"))
    task = table.tasks[0]
    entry = next(k for k in table.entries if k[0] == task)
    config, fidelity = table.configs[entry[1]], entry[2]
    first = a.evaluate(task, config, fidelity, seed=7)
    assert (task, config, fidelity) in table.lookups
    assert b.table is table and b.evaluate(task, config, fidelity, seed=7) is first
    assert b._memo[(task, config, fidelity)] is table.lookups[(task, config, fidelity)]
    assert pickle.loads(pickle.dumps(table)).lookups == {}  # derived state does not travel


def test_autoperf_envs_share_their_per_result_work(monkeypatch) -> None:
    import agenticrs.recsys.serving.ab as ab

    autoperf._ARM_RATES.clear()
    calls: list[int] = []
    real = ab.click_rate
    monkeypatch.setattr(ab, "click_rate", lambda positions: calls.append(1) or real(positions))
    envs = [gym.make("agenticrs/AutoPerf-v0").unwrapped for _ in range(2)]
    launch = envs[0].action_space.encode({"decision": "launch_20", "candidates": 200})  # not the control's config
    ramp = envs[0].action_space.encode({"decision": "ramp"})
    infos = []
    for env in envs:
        env.reset(seed=0)  # the same seed: the same control and treatment results
        env.step(launch)
        infos.append(env.step(ramp)[-1])
    assert len(calls) == len(autoperf._ARM_RATES) == 2  # control and treatment, once each for both envs
    free = [info["result"] for info in infos]
    assert free[0] is free[1] and free[0].cost["seconds"] == 0.0  # one cost-free copy per served result
    assert np.isclose(free[0].cost["p99_latency_ms"], envs[0].experiment["treatment"].cost["p99_latency_ms"])
