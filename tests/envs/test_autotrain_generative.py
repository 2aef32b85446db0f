"""The opt-in generative AutoTrain space: TIGER, LWGR and LWGR-fixed trained live through the env."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import agenticrs  # noqa: F401  (registers the envs)
from agenticrs.envs.core import Task, TaskSuite
from agenticrs.envs.spaces import (
    DEFAULT_DIMS,
    FAMILIES,
    GENERATIVE_DIMS,
    GENERATIVE_FAMILIES,
    AutoTrainSpace,
    Dim,
)

GEN = frozenset(GENERATIVE_FAMILIES)
# Single-choice dimensions: they only shrink the models (and skip the disk cache) for the test.
TINY = (
    Dim("ff_dim", (32,), GEN),
    Dim("id_levels", (2,), GEN),
    Dim("codebook_size", (8,), GEN),
    Dim("id_epochs", (10,), GEN),
    Dim("text_encoder", ("tfidf:dim=16",), GEN),
    Dim("beam_size", (10,), GEN),
    Dim("cache", (False,), GEN),
)
TASK = Task("syn-text", "synthetic:users=60,items=40,seed=0,text_signal=0.9,mean_length=6,max_length=20", max_trials=3)


def test_generative_space_adds_the_three_families_and_keeps_the_default_one():
    sp = AutoTrainSpace(FAMILIES + GENERATIVE_FAMILIES, GENERATIVE_DIMS)
    per_family = {f: sum(c.model == f for c in sp.configs()) for f in GENERATIVE_FAMILIES}
    assert per_family == {"tiger": 8, "lwgr": 128, "lwgr_fixed": 32}
    default = AutoTrainSpace()
    assert [c for c in sp.configs() if c.model in FAMILIES] == default.configs()
    assert AutoTrainSpace(FAMILIES, GENERATIVE_DIMS).enumerate() == default.enumerate()
    # The knowledge options reach LWGR only; the fixed variant keeps its plain fusion.
    knobs = {"constraint", "gates"}
    assert all(knobs <= set(c.param_dict) for c in sp.configs() if c.model == "lwgr")
    assert not any(knobs & set(c.param_dict) for c in sp.configs() if c.model in ("tiger", "lwgr_fixed"))
    # One layer choice sizes both stacks.
    assert all(c.param_dict["decoder_layers"] == c.param_dict["encoder_layers"]
               for c in sp.configs() if c.model in GEN)
    with pytest.raises(ValueError, match="unique"):
        AutoTrainSpace(FAMILIES + GENERATIVE_FAMILIES, DEFAULT_DIMS + GENERATIVE_DIMS)


def test_one_live_trial_of_each_generative_family_through_the_env():
    env = gym.make(
        "agenticrs/AutoTrain-v0", backend="live", suite=TaskSuite("text", (TASK,), ()),
        families=GENERATIVE_FAMILIES, dims=GENERATIVE_DIMS + TINY, fidelities=(1.0,),
        backend_kwargs={"isolate": False, "timeout_s": None, "full_epochs": 1},
    )
    space = env.unwrapped.action_space
    env.reset(seed=0)
    seen = {}
    for family in GENERATIVE_FAMILIES:
        action = space.encode(*next((c, f) for c, f in space.enumerate()
                                    if c.model == family and c.param_dict["encoder_layers"] == 1))
        _, _, _, _, info = env.step(np.asarray(action))
        result = info["result"]
        assert result.status == "ok", (family, result.reason)
        assert result.config.model == family and result.cost["epochs"] == 1
        assert 0.0 <= result.valid["ndcg@10"] <= 1.0
        seen[family] = result.config.param_dict
    assert seen["lwgr"]["constraint"] is True and "constraint" not in seen["lwgr_fixed"]
    env.close()
