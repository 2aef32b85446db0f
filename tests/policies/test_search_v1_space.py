"""AutoTrain-v1: the harder space (EASE, three choices per dimension, multi-field choices); v0 unchanged."""

from __future__ import annotations

import zlib
from collections import Counter

import gymnasium as gym
import pytest

import agenticrs  # noqa: F401
from agenticrs.envs.core import Task, TrialConfig, TrialResult
from agenticrs.envs.spaces import SPACES, V1_DIMS, V1_FAMILIES, V1_FIDELITIES, AutoTrainSpace
from agenticrs.policies.search import make_searcher


class Hashing:
    """Every configuration of every family gets a stable metric (no training)."""

    kind = "hashing"

    def evaluate(self, task: Task, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
        v = 0.05 + (zlib.crc32(config.key().encode()) % 1000) / 10_000 * fidelity
        return TrialResult(config, task.name, fidelity, seed, "ok", valid={"ndcg@10": v}, test={"ndcg@10": v},
                           cost={"seconds": 1.0})

    def best_known(self, task: Task, metric: str) -> float:
        return 0.15


@pytest.fixture(scope="module")
def v1_space() -> AutoTrainSpace:
    return AutoTrainSpace(V1_FAMILIES, V1_DIMS, V1_FIDELITIES)


def test_v0_space_is_unchanged():
    sp = AutoTrainSpace(*SPACES["v0"])
    assert len(sp.configs()) == 119 and sp.n_pairs == 235 and list(sp.nvec) == [6, 2, 2, 2, 2, 2, 2, 2, 2]
    assert "ease" not in sp.families


def test_v1_space_sizes_and_multi_field_choices(v1_space):
    counts = Counter(c.model for c in v1_space.configs())
    assert counts == {"sasrec": 972, "bert4rec": 243, "gru4rec": 81, "bprmf": 9, "itemknn": 3, "ease": 3, "pop": 1}
    assert v1_space.n_pairs == 3922  # closed-form families (pop, itemknn, ease) have one fidelity
    losses = {(c.param_dict["loss"], c.param_dict.get("n_negatives")) for c in v1_space.configs() if c.model == "sasrec"}
    assert losses == {("ce", None), ("bce", 1), ("bce", 16), ("sampled_softmax", 64)}  # a Fields choice sets loss and negatives together
    cfg = next(c for c in v1_space.configs() if c.model == "sasrec" and c.param_dict.get("n_negatives") == 16)
    assert v1_space.decode(v1_space.encode(cfg, 0.5)) == (cfg, 0.5)
    assert v1_space.describe()["loss"]["choices"] == ["ce", "bce-1", "bce-16", "ssm-64"]


def test_v1_env_is_registered_live_by_default_and_searchable():
    spec = gym.spec("agenticrs/AutoTrain-v1")
    assert spec.kwargs["backend"] == "live" and spec.kwargs["space"] == "v1"
    env = gym.make("agenticrs/AutoTrain-v1", backend=Hashing(), max_trials=5)
    assert env.observation_space.shape == (17 + 10 + 2 * 7,)  # as v0: 17 + n_dims + 2 * n_families
    for name in ("random", "tpe", "halving", "evolution"):
        env.reset(seed=0)
        s = make_searcher(name)
        s.begin(env, 0)
        done, pids = False, []
        while not done:
            a = s.act(None)
            _, _, done, _, info = env.step(a)
            s.observe(a, None, 0.0, info)
            pids.append(s.space.pair_id(a))
            assert info["result"].status == "ok"
        assert len(set(pids)) == 5, name
    env.close()
    with pytest.raises(ValueError, match="unknown AutoTrain space"):
        gym.make("agenticrs/AutoTrain-v0", backend=Hashing(), space="v9")
