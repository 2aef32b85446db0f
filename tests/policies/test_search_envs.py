"""Every search baseline on every registered env: budget respected, only valid canonical actions.

Parametrized over the registry with the env tests' backends (:func:`autotrain_fakes.env_kwargs`:
the shipped AutoTrain table when present, the deterministic fake evolution backend for
Compose, AutoFeature and AutoPerf), so a newly registered env is covered at once.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "envs"))  # the env tests' fakes

import evolution_fakes  # noqa: E402,F401  (registers the "fake-evolution" backend used below)
from autotrain_fakes import make_test_env  # noqa: E402
from search_checks import run_checked_episode  # noqa: E402

import agenticrs  # noqa: E402,F401
from agenticrs.envs import registration  # noqa: E402
from agenticrs.envs.grid_space import ConditionalSpace  # noqa: E402
from agenticrs.policies.base import Budget  # noqa: E402
from agenticrs.policies.search import list_searchers, make_searcher  # noqa: E402
from agenticrs.policies.search_space import ConditionalView, search_space  # noqa: E402

ENV_IDS = registration.list_env_ids(multi_agent=False)  # joint search on AgenticRS-v0: its own tests
BUDGET = 7


@pytest.fixture(scope="module", params=ENV_IDS)
def env(request):
    e = make_test_env(request.param)
    try:
        search_space(e.unwrapped.action_space, request.param)
    except TypeError as err:  # OpenDesign's programs: a Discrete edit space, searched by its proposers
        e.close()
        assert request.param in str(err)  # the error names the env
        pytest.skip(f"no search-baseline view: {err}")
    yield e
    e.close()


@pytest.mark.parametrize("name", list_searchers())
def test_baseline_runs_one_episode_on_every_env(env, name):
    u = env.unwrapped
    env_id = u.spec.id
    view = search_space(u.action_space)
    u.max_trials_override = BUDGET  # the searcher reads the episode budget from the env
    try:
        searcher = make_searcher(name)
        if name == "halving" and not view.has_fidelity:
            env.reset(seed=1)
            with pytest.raises(ValueError, match=f"fidelity.*{env_id}"):
                searcher.begin(env, 1)
            return
        assert len(run_checked_episode(env, searcher, 1)) == BUDGET
    finally:
        u.max_trials_override = None


def test_conditional_view_candidates_are_the_evaluated_configurations(env):
    space = env.unwrapped.action_space
    if not isinstance(space, ConditionalSpace):
        pytest.skip("AutoTrainSpace: covered by test_search.py")
    view = ConditionalView(space)
    assert view.pairs == space.enumerate()
    for pid in range(len(view.pairs)):
        a = view.action_of(pid)
        assert space.decode(a) == view.pairs[pid] and view.pair_id(a) == pid
        assert space.lookup(a)[1] is False
    if "decision" in space.names:  # AutoPerf: offline search only, never an experiment action
        assert {space.values(space.lookup(view.action_of(p))[0])["decision"] for p in range(len(view.pairs))} == {"offline"}


def test_conditional_mutation_changes_one_active_choice():
    import gymnasium as gym

    space = gym.make("agenticrs/Compose-v0", backend="fake-evolution").unwrapped.action_space
    view = ConditionalView(space)
    rng = np.random.default_rng(0)
    for pid in rng.choice(len(view.pairs), size=40, replace=False):
        child = view.mutate(int(pid), rng)
        assert child != pid
        before, after = space.values(space.lookup(view.action_of(int(pid)))[0]), \
            space.values(space.lookup(view.action_of(child))[0])
        changed = {k for k in before.keys() & after.keys() if before[k] != after[k]}
        # One choice changed; a second one only through the wiring repair (recall_b -> none).
        assert 1 <= len(changed) <= 2 and (len(changed) == 1 or "recall_b" in changed), (before, after)


def test_tpe_suggests_only_active_choices_on_a_conditional_space():
    """TPE's define-by-run parameters on Compose: ``mmr_weight`` only with ``rerank = mmr``,
    ``merge`` only with a second recall agent."""
    import gymnasium as gym

    space = gym.make("agenticrs/Compose-v0", backend="fake-evolution").unwrapped.action_space
    s = make_searcher("tpe", n_startup_trials=3)
    s.reset(space, Budget(12), seed=0)
    from agenticrs.envs.core import TrialResult

    for _ in range(12):
        a = s.ask()
        config, fid = space.decode(a)
        s.tell(a, TrialResult(config, "t", fid, 0, "ok", valid={"ndcg@10": 0.1 * (config.param_dict["quota"] == 100)}))
    for trial in s._study.trials:
        p = trial.params
        assert ("mmr_weight" in p) == (p.get("rerank") == 1), p
        assert ("merge" in p) == (p.get("recall_b", 0) != 0), p
