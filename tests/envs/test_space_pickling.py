"""Conditional action spaces pickle cheaply: an unpickle reuses the process's canonical tables.

RLlib, SB3 checkpoints and the live worker pool ship these spaces between processes; building
their tables costs 6-40 ms, so a space with the same constructor arguments (an unpickled copy
included) takes them from :func:`~agenticrs.envs.grid_space.cached_tables` instead.
"""

from __future__ import annotations

import itertools
import pickle

import gymnasium as gym
import numpy as np
import pytest

import agenticrs  # noqa: F401  (registers the envs)
from agenticrs.envs import grid_space
from agenticrs.envs.autofeature import AutoFeatureEnv
from agenticrs.envs.autoperf import AutoPerfEnv
from agenticrs.envs.compose import ComposeEnv
from agenticrs.envs.grid_space import TABLE_BUILDS, Choice, ConditionalSpace, clear_table_cache, when
from agenticrs.envs.spaces import AutoTrainSpace, Dim


def _spaces() -> dict[str, gym.spaces.MultiDiscrete]:
    from agenticrs.envs.registration import _NullBackend

    out = {"AutoTrain": AutoTrainSpace()}
    for name, cls in (("Compose", ComposeEnv), ("AutoFeature", AutoFeatureEnv), ("AutoPerf", AutoPerfEnv)):
        out[name] = cls(backend=_NullBackend()).action_space
    return out


def _every_action(space: gym.spaces.MultiDiscrete) -> list[np.ndarray]:
    return [np.asarray(a, dtype=np.int64) for a in itertools.product(*(range(int(n)) for n in space.nvec))]


@pytest.mark.parametrize("name", ["AutoTrain", "Compose", "AutoFeature", "AutoPerf"])
def test_an_unpickled_space_is_equal_decodes_alike_and_does_not_rebuild(name: str) -> None:
    space = _spaces()[name]
    space.seed(3)
    blob = pickle.dumps(space)
    builds = TABLE_BUILDS["builds"]
    copies = [pickle.loads(blob), pickle.loads(blob)]
    assert TABLE_BUILDS["builds"] == builds, "unpickling rebuilt the canonical tables"
    for copy in copies:
        assert copy == space and type(copy) is type(space) and copy.n_pairs == space.n_pairs
        assert copy.enumerate() == space.enumerate()
        assert np.array_equal(copy.mask(), space.mask())
        assert [copy.decode(a) for a in _every_action(space)] == [space.decode(a) for a in _every_action(space)]
        assert np.array_equal(copy.sample(), pickle.loads(blob).sample())  # the sampler's state travels too
    if isinstance(space, AutoTrainSpace):
        assert copies[0].configs() == space.configs()
        config, fidelity = space.decode(space.sample())
        assert np.array_equal(copies[0].encode(config, fidelity), space.encode(config, fidelity))
    else:
        assert [copies[0].lookup(a) for a in _every_action(space)] == [space.lookup(a) for a in _every_action(space)]
        pid = space.n_pairs - 1
        assert copies[0].values(pid) == space.values(pid)
        assert np.array_equal(copies[0].encode(space.values(pid)), space.encode(space.values(pid)))


def test_the_first_space_builds_once_and_equal_arguments_share_read_only_tables() -> None:
    clear_table_cache()
    choices = (Choice("a", ("x", "y")), Choice("b", (1, 2, 3), when(a=("y",))))
    builds = TABLE_BUILDS["builds"]
    first = ConditionalSpace("m", choices)
    second = ConditionalSpace("m", choices, seed=5)
    assert TABLE_BUILDS["builds"] == builds + 1
    assert second._lut is first._lut  # shared, not copied
    with pytest.raises(ValueError, match="read-only"):
        first._canon_actions[0][0] = 1
    out = first.canonical_action(0)
    out[0] = 1  # what the public API hands out is a private copy
    assert first.canonical_action(0)[0] == 0


def test_values_that_compare_equal_but_differ_in_type_do_not_share_tables() -> None:
    # 1 == 1.0 == True, but each makes a different configuration (and config key).
    ints = AutoTrainSpace(("bprmf",), (Dim("embedding_dim", (1, 2), frozenset({"bprmf"})),), (1.0,))
    floats = AutoTrainSpace(("bprmf",), (Dim("embedding_dim", (1.0, 2.0), frozenset({"bprmf"})),), (1.0,))
    assert [type(dict(c.params)["embedding_dim"]) for c in ints.configs()] == [int, int]
    assert [type(dict(c.params)["embedding_dim"]) for c in floats.configs()] == [float, float]
    a = ConditionalSpace("m", (Choice("k", (1, 2)),))
    b = ConditionalSpace("m", (Choice("k", (True, 2)),))
    assert a.decode(np.array([0]))[0].params == (("k", 1),)
    assert type(b.decode(np.array([0]))[0].params[0][1]) is bool


def test_the_cache_stays_bounded() -> None:
    clear_table_cache()
    for i in range(grid_space.TABLE_CACHE_SIZE + 5):
        ConditionalSpace(f"m{i}", (Choice("k", (1, 2)),))
    assert len(grid_space._TABLES) == grid_space.TABLE_CACHE_SIZE
