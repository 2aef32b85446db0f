"""Backend results are validated at one choke point (``validate_result``, called by ``TrialEnv``).

Whatever a backend returns (NaN, infinity, negative costs or metrics, ``None``, wrong types,
an exception), the env turns it into a ``failed`` trial with a reason and the failure
penalty: rewards stay finite and observations stay inside the observation space. The
property test runs every registered single-agent env against randomly misbehaving backends
(a custom :class:`Backend` subclass and a :class:`FunctionBackend` trial function).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import random
import zlib
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import pytest
from autotrain_fakes import FakeBackend, env_kwargs

import agenticrs  # noqa: F401  (registers the envs)
from agenticrs.envs import registration
from agenticrs.envs.backends.function import FunctionBackend
from agenticrs.envs.core import Backend, Task, TrialConfig, TrialResult, validate_result
from agenticrs.envs.trial_env import TrialEnv

TASK = Task("t1", "synthetic:x")
SAS = TrialConfig.make("sasrec", embedding_dim=32)


def good(**changes: Any) -> TrialResult:
    r = TrialResult(SAS, "t1", 1.0, 3, "ok", {"ndcg@10": 0.1, "recall@10": 0.2}, {"ndcg@10": 0.09},
                    {"seconds": 2.0, "params": 1e4}, "", "custom")
    return dataclasses.replace(r, **changes) if changes else r


def check(result: Any) -> TrialResult:
    return validate_result(result, TASK, SAS, 1.0, 3, source="custom")


# ---------------------------------------------------------------------- the validator itself
def test_a_good_result_passes_unchanged() -> None:
    r = good()
    assert check(r) is r
    failed = good(status="failed", valid={}, test={}, reason="diverged: loss nan")
    assert check(failed) is failed


def test_numpy_and_int_numbers_become_floats() -> None:
    r = check(good(valid={"ndcg@10": np.float32(0.25)}, cost={"seconds": np.int64(3), "params": 7}))
    assert r.ok and type(r.valid["ndcg@10"]) is float and r.valid["ndcg@10"] == pytest.approx(0.25)
    assert r.cost == {"seconds": 3.0, "params": 7.0} and all(type(v) is float for v in r.cost.values())


BAD = {
    "none": (None, "returned None"),
    "dict": (good().to_dict(), "returned a dict, not a TrialResult"),
    "nan metric": (good(valid={"ndcg@10": math.nan}), "valid['ndcg@10'] is nan"),
    "inf metric": (good(test={"ndcg@10": math.inf}), "test['ndcg@10'] is inf"),
    "negative metric": (good(valid={"ndcg@10": -0.3}), "valid['ndcg@10'] is -0.3 (negative"),
    "negative cost": (good(cost={"seconds": -100.0}), "cost['seconds'] is -100"),
    "nan cost": (good(cost={"seconds": math.nan}), "cost['seconds'] is nan"),
    "-inf cost": (good(cost={"seconds": -math.inf}), "cost['seconds'] is -inf"),
    "huge": (good(cost={"seconds": 1e300}), "implausibly large"),
    "string metric": (good(valid={"ndcg@10": "0.1"}), "valid['ndcg@10'] is a str"),
    "bool metric": (good(valid={"ndcg@10": True}), "valid['ndcg@10'] is a bool"),
    "none metric": (good(valid={"ndcg@10": None}), "valid['ndcg@10'] is a NoneType"),
    "list cost": (good(cost=[1.0]), "cost is a list, not a mapping"),
    "none valid": (good(valid=None), "valid is a NoneType, not a mapping"),
    "int key": (good(valid={10: 0.1, "ndcg@10": 0.1}), "non-string key 10"),
    "status": (good(status="great"), "status 'great' is not one of"),
    "other task": (good(task="t2"), "for task 't2', not 't1'"),
    "config type": (good(config={"model": "sasrec"}), "config is a dict, not a TrialConfig"),
    "fidelity": (good(fidelity=math.nan), "fidelity nan is not in (0, 1]"),
    "seed": (good(seed="3"), "seed '3' is not an integer"),
    "reason type": (good(reason=None), "reason is a NoneType, not a str"),
    "no metric": (good(valid={"recall@10": 0.2}), "status ok but valid has no 'ndcg@10'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_result_becomes_a_failed_trial_with_the_reason(case: str) -> None:
    bad, fragment = BAD[case]
    r = check(bad)
    assert r.status == "failed" and r.valid == {} and r.test == {}
    assert r.reason.startswith("invalid backend result: ") and fragment in r.reason, r.reason
    # The failed trial is about what was asked, whatever the backend claimed.
    assert (r.config, r.task, r.fidelity, r.seed, r.source) == (SAS, "t1", 1.0, 3, "custom")
    assert validate_result(r, TASK, SAS, 1.0, 3) is r  # a failed result is itself valid


def test_a_failed_trial_keeps_a_valid_cost_and_the_backends_own_reason() -> None:
    r = check(good(status="timeout", valid={"ndcg@10": math.nan}, cost={"seconds": 5.0}, reason="killed"))
    assert r.status == "failed" and r.cost == {"seconds": 5.0} and "the backend said timeout: killed" in r.reason
    r = check(good(valid={"ndcg@10": math.nan}, cost={"seconds": -1.0}))
    assert r.cost == {}  # an invalid cost is not charged to the budget


# ---------------------------------------------------------------------- one env, the cases
class ConstantBackend:
    """Returns one fixed result for whatever is asked (the issue's reproductions)."""

    kind = "constant"

    def __init__(self, make: Callable[[Task, TrialConfig, float, int], Any]):
        self.make = make

    def evaluate(self, task: Task, config: TrialConfig, fidelity: float, seed: int) -> Any:
        return self.make(task, config, fidelity, seed)

    def best_known(self, task: Task, metric: str) -> float:
        return 0.1


def autotrain(make: Callable[..., Any]) -> gym.Env:
    return gym.make("agenticrs/AutoTrain-v0", backend=ConstantBackend(make), max_trials=3)


def result_for(task: Task, config: TrialConfig, fidelity: float, seed: int, **kw: Any) -> TrialResult:
    base = dict(valid={"ndcg@10": 0.05}, test={"ndcg@10": 0.05}, cost={"seconds": 1.0})
    return TrialResult(config, task.name, fidelity, seed, "ok", **{**base, **kw})


@pytest.mark.parametrize("kw, fragment", [
    ({"cost": {"seconds": -100000.0}}, "cost['seconds'] is -100000"),
    ({"valid": {"ndcg@10": math.nan}}, "valid['ndcg@10'] is nan"),
    ({"valid": {"ndcg@10": math.inf}}, "valid['ndcg@10'] is inf"),
    ({"valid": {"ndcg@10": -5.0}}, "valid['ndcg@10'] is -5"),
    ({"cost": {"seconds": math.inf}}, "cost['seconds'] is inf"),
])
def test_env_turns_a_bad_result_into_a_penalised_failure(kw: dict, fragment: str) -> None:
    env = autotrain(functools.partial(result_for, **kw))
    obs, _ = env.reset(seed=0)
    obs, reward, _, _, info = env.step(env.action_space.sample())
    assert info["result"].status == "failed" and fragment in info["result"].reason, info["result"].reason
    assert info["reward_terms"]["failure"] == -1.0 and math.isfinite(reward) and reward <= 0.0
    assert env.observation_space.contains(obs)


def test_env_survives_a_backend_returning_none() -> None:
    env = autotrain(lambda *a: None)
    env.reset(seed=0)
    obs, reward, _, _, info = env.step(env.action_space.sample())
    assert info["result"].status == "failed" and "returned None" in info["result"].reason
    assert reward == pytest.approx(-0.1) and env.observation_space.contains(obs)


def test_a_nan_scale_from_best_known_is_ignored() -> None:
    class NanScale(FakeBackend):
        def best_known(self, task: Task, metric: str) -> float:
            return math.nan

    env = gym.make("agenticrs/AutoTrain-v0", backend=NanScale(), max_trials=3)
    obs, _ = env.reset(seed=0)
    for _ in range(3):
        obs, reward, *_ = env.step(env.action_space.sample())
        assert math.isfinite(reward) and env.observation_space.contains(obs)


def test_a_reward_term_returning_nan_is_named() -> None:
    from agenticrs.envs.rewards import RewardTerm, register_reward_term

    @register_reward_term("test-nan-term", overwrite=True)
    class NanTerm(RewardTerm):
        def update(self, result: TrialResult, state: Any) -> float:
            return math.nan

    env = gym.make("agenticrs/AutoTrain-v0", backend=FakeBackend(), reward_weights={"test-nan-term": 1.0})
    env.reset(seed=0)
    with pytest.raises(ValueError, match="reward term 'test-nan-term' returned nan"):
        env.step(env.action_space.sample())


# ---------------------------------------------------------------------- property test, every env
MISBEHAVIOURS: dict[str, Callable[[TrialResult], Any]] = {
    "none": lambda r: None,
    "dict": lambda r: r.to_dict(),
    "string": lambda r: "ok",
    "nan metric": lambda r: dataclasses.replace(r, valid={**r.valid, "ndcg@10": math.nan}),
    "inf metric": lambda r: dataclasses.replace(r, valid={**r.valid, "ndcg@10": math.inf}),
    "negative metric": lambda r: dataclasses.replace(r, valid={k: -abs(v) - 1 for k, v in r.valid.items()}),
    "negative test": lambda r: dataclasses.replace(r, test={k: -50.0 for k in r.test}),
    "nan test": lambda r: dataclasses.replace(r, test={k: math.nan for k in r.test}),
    "negative cost": lambda r: dataclasses.replace(r, cost={k: -1e5 for k in r.cost} or {"seconds": -1e5}),
    "inf cost": lambda r: dataclasses.replace(r, cost={**r.cost, "seconds": math.inf}),
    "nan latency": lambda r: dataclasses.replace(r, cost={**r.cost, "p99_latency_ms": math.nan,
                                                           "memory_mb": -3.0}),
    "huge": lambda r: dataclasses.replace(r, valid={k: 1e308 for k in r.valid}),
    "string value": lambda r: dataclasses.replace(r, valid={**r.valid, "ndcg@10": "high"}),
    "none mapping": lambda r: dataclasses.replace(r, cost=None),
    "bad status": lambda r: dataclasses.replace(r, status="success"),
    "no metrics": lambda r: dataclasses.replace(r, valid={}),
    "raises": lambda r: (_ for _ in ()).throw(RuntimeError("backend exploded")),
}
CORRUPTING = set(MISBEHAVIOURS) - {"raises"}


def misbehave(result: TrialResult, task: Task, config: TrialConfig, seed: int, salt: int) -> Any:
    """Return ``result`` unchanged or one misbehaviour, a pure function of the arguments (replays match)."""
    rng = random.Random(zlib.crc32(f"{salt}|{task.name}|{config.key()}|{seed}".encode()))
    if rng.random() < 0.3:
        return result
    return MISBEHAVIOURS[rng.choice(sorted(MISBEHAVIOURS))](result)


class MisbehavingBackend(Backend):
    """A user's custom Backend subclass wrapping a good backend and corrupting most of its results."""

    kind = "misbehaving"

    def __init__(self, inner: Any, salt: int):
        self.inner, self.salt = inner, salt
        self.table = getattr(inner, "table", None)  # same scale and task features as the good backend

    def evaluate(self, task: Task, config: TrialConfig, fidelity: float, seed: int) -> Any:
        return misbehave(self.inner.evaluate(task, config, fidelity, seed), task, config, seed, self.salt)

    def task_stats(self, task: Task) -> dict[str, float]:
        fn = getattr(self.inner, "task_stats", None)
        return fn(task) if fn is not None else {}


def misbehaving_trial(task: Task, config: TrialConfig, fidelity: float, seed: int, *, inner: Any,
                      salt: int) -> Any:
    """A FunctionBackend trial function that misbehaves like :class:`MisbehavingBackend`."""
    return misbehave(inner.evaluate(task, config, fidelity, seed), task, config, seed, salt)


def single_agent_env_ids() -> list[str]:
    """Every registered env whose class is a TrialEnv (the single-agent envs that take a backend)."""
    out = []
    for env_id in registration.list_env_ids():
        entry = gym.spec(env_id).entry_point
        cls = gym.envs.registration.load_env_creator(entry) if isinstance(entry, str) else entry
        if isinstance(cls, type) and issubclass(cls, TrialEnv):
            out.append(env_id)
    return out


ENV_IDS = single_agent_env_ids()


def test_every_builtin_single_agent_env_is_covered() -> None:
    assert {"agenticrs/AutoTrain-v0", "agenticrs/Compose-v0", "agenticrs/AutoFeature-v0",
            "agenticrs/AutoPerf-v0"} <= set(ENV_IDS)


@pytest.mark.parametrize("kind", ["backend", "function"])
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_misbehaving_backends_never_break_an_env(env_id: str, kind: str) -> None:
    kwargs = env_kwargs(env_id)
    inner = gym.make(env_id, **kwargs).unwrapped.backend
    salt = zlib.crc32(f"{env_id}|{kind}".encode())
    if kind == "backend":
        backend: Any = MisbehavingBackend(inner, salt)
    else:
        backend = FunctionBackend(functools.partial(misbehaving_trial, inner=inner, salt=salt), isolate=False)
        backend.table = getattr(inner, "table", None)
    env = gym.make(env_id, **{**kwargs, "backend": backend, "max_trials": 8})
    env.action_space.seed(0)
    obs, _ = env.reset(seed=0)
    failed = corrupted = 0
    for step in range(64):
        obs, reward, term, trunc, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs), (step, obs)
        assert np.isfinite(reward), (step, info)
        assert all(math.isfinite(v) for v in info["reward_terms"].values()), info["reward_terms"]
        r = info["result"]
        assert isinstance(r, TrialResult) and r.status in ("ok", "failed", "timeout")
        for split in (r.valid, r.test, r.cost):
            assert all(type(v) is float and math.isfinite(v) and v >= 0 for v in split.values()), r
        if r.status != "ok":
            failed += 1
            assert r.reason and ("failure" not in info["reward_terms"] or info["reward_terms"]["failure"] == -1.0)
            corrupted += r.reason.startswith("invalid backend result: ")
        if term or trunc:
            obs, _ = env.reset()
            assert env.observation_space.contains(obs)
    assert corrupted >= 10 and failed >= corrupted  # the misbehaviours did reach the env


def returns_none(task: Task, config: TrialConfig, fidelity: float, seed: int) -> None:
    return None


def test_function_backend_records_a_bad_trial_as_failed(tmp_path) -> None:
    from agenticrs.envs.backends.function import call_trial
    from agenticrs.envs.knowledge import KnowledgeStore

    out = call_trial(returns_none, TASK, SAS, 1.0, 0, {})  # what an isolated worker sends back
    assert out["status"] == "failed" and "the backend returned None" in out["reason"] and out["cost"]["seconds"] >= 0
    store = KnowledgeStore(tmp_path / "k.sqlite")
    backend = FunctionBackend(returns_none, isolate=False, store=store)
    r = backend.evaluate(TASK, SAS, 1.0, 0)
    assert r.status == "failed" and backend.stats["failed"] == 1
    (stored,) = store.trials()
    assert stored.result.status == "failed" and "returned None" in stored.result.reason
