"""NoRepeats: a trained policy never spends a trial on a configuration it already tried."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from agenticrs.envs.spaces import AutoTrainSpace
from agenticrs.policies.base import Policy
from agenticrs.policies.episode import run_episode
from agenticrs.policies.no_repeats import NoRepeats

SPACE = AutoTrainSpace()
FIRST = SPACE.encode(*SPACE.enumerate()[0])
SECOND = SPACE.encode(*SPACE.enumerate()[2])


class Stubborn(Policy):
    """Always its favourite action; when switched to sampling (``deterministic=False``), another one."""

    name = "stubborn"

    def __init__(self, deterministic: bool | None = None):
        if deterministic is not None:
            self.deterministic = deterministic
        self.samples = 0

    def act(self, obs):
        if getattr(self, "deterministic", True) is False:
            self.samples += 1
            return SECOND.copy()
        return FIRST.copy()


def _episode(table_kwargs, policy: Policy, budget: int = 6):
    env = gym.make("agenticrs/AutoTrain-v0", **table_kwargs, split="test", max_trials=budget)
    try:
        trace = run_episode(env, policy, seed=3)
    finally:
        env.close()
    return [(t.model, tuple(sorted(t.params.items())), t.fidelity) for t in trace.trials]


def test_a_stubborn_policy_tries_a_new_configuration_every_trial(table_kwargs):
    tried = _episode(table_kwargs, NoRepeats(Stubborn()))
    assert len(tried) == 6 and len(set(tried)) == 6
    # Unwrapped, the same policy spends the whole budget on one configuration.
    assert len(set(_episode(table_kwargs, Stubborn()))) == 1


def test_a_deterministic_policy_samples_before_drawing_uniformly(table_kwargs):
    inner = Stubborn(deterministic=True)
    wrapped = NoRepeats(inner, resamples=4)
    tried = _episode(table_kwargs, wrapped, budget=4)
    first, second = (SPACE.decode(a) for a in (FIRST, SECOND))
    assert tried[0][::2] == (first[0].model, first[1]) and tried[1][0] == second[0].model
    assert len(set(tried)) == 4 and inner.deterministic is True  # its mode is restored after sampling
    assert inner.samples == 1 + 4 + 4  # trial 2: one draw; trials 3-4: all draws repeat, then uniform
    assert {SPACE.pair_id(FIRST), SPACE.pair_id(SECOND)} <= wrapped.tried and len(wrapped.tried) == 4
