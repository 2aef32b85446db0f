"""Shared checks of the search-baseline tests: one episode, every proposal valid and canonical."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from agenticrs.envs.spaces import AutoTrainSpace
from agenticrs.policies.base import BudgetExhausted, Searcher


def assert_valid_canonical(env: gym.Env, a: np.ndarray) -> None:
    """``a`` is in range, allowed by the env's current mask (and AutoTrain's family mask), and
    the canonical, unrepaired action of what it evaluates."""
    u = env.unwrapped
    space = u.action_space
    assert a.dtype == np.int64 and space.contains(a), a
    offsets = np.concatenate([[0], np.cumsum(space.nvec)])
    masks = [u.action_masks()]  # state-dependent for AutoPerf (ramp / rollback without an experiment)
    if isinstance(space, AutoTrainSpace):
        masks.append(space.mask(int(a[0])))
        assert np.array_equal(space.encode(*space.decode(a)), a), f"{a.tolist()} is not canonical"
    else:
        pid, repaired = space.lookup(a)
        assert not repaired, f"{a.tolist()} needed a repair"
        assert np.array_equal(space.canonical_action(pid), a), f"{a.tolist()} is not canonical"
    for mask in masks:
        assert all(mask[offsets[d] + a[d]] for d in range(len(a))), f"masked choice in {a.tolist()}"


def run_checked_episode(env: gym.Env, searcher: Searcher, seed: int, **reset_kw) -> list[int]:
    """One episode of ``searcher`` checking every action; the pair ids it proposed, in order.

    Also checks that exactly the episode budget was spent and that no configuration was
    proposed twice (except by ``halving``, which re-evaluates promoted ones at a higher fidelity).
    """
    obs, _ = env.reset(seed=seed, **reset_kw)
    searcher.begin(env, seed)
    proposed: list[int] = []
    done = False
    while not done:
        a = searcher.act(obs)
        assert_valid_canonical(env, a)
        obs, r, done, _, info = env.step(a)
        assert not info.get("repaired", False), (searcher.name, a)
        assert searcher.space is not None and info["result"].config == searcher.pairs[searcher.space.pair_id(a)][0]
        searcher.observe(a, obs, r, info)
        proposed.append(searcher.space.pair_id(a))
    assert len(proposed) == searcher.budget.max_trials
    with pytest.raises(BudgetExhausted):
        searcher.ask()
    if searcher.name != "halving":
        assert len(set(proposed)) == len(proposed), f"{searcher.name} repeated a configuration: {proposed}"
    return proposed
