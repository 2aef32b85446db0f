"""AgenticRS-v0 baselines: joint search under the budget, coordinate descent, independent agents, scoring."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agenticrs.envs.agentic.spaces import AGENTS, JointConfig
from agenticrs.policies.agentic_baselines import (
    CoordinateDescent,
    IndependentAgents,
    SingleAgentView,
    agent_blocks,
    joint_view,
    run_independent_episode,
    run_search_episode,
    train_independent,
)
from agenticrs.policies.agentic_eval import expected_outer, joint_of_action, joint_space, regret, summarise
from agenticrs.policies.base import Budget, BudgetExhausted

TASK = "syn-mixed"


def test_joint_space_is_the_four_agents_spaces():
    sp = joint_space()
    assert list(sp.nvec) == [2, 2, 2, 2, 3, 3, 2, 4, 5, 2, 2, 2]
    assert sp.n_pairs == 4 * 4 * 18 * 112 == len(joint_view().pairs)
    assert joint_of_action(np.zeros(12, dtype=np.int64)) == JointConfig.default()
    # recall_b == recall_a is repaired as the env repairs it
    j = joint_of_action(sp.encode({"recall_a": "pop", "recall_b": "pop"}))
    assert j.part("composer")["recall_b"] == "none"


@pytest.mark.parametrize("name", ["random", "tpe", "evolution", "coordinate"])
def test_search_respects_budget_and_never_repeats(name):
    trace = run_search_episode(name, TASK, seed=3, budget=7)
    assert len(trace.evaluated) == 7 == len(set(trace.evaluated))
    # the final pipeline is the best observed so far, never worse in observation over rounds
    seen = dict(zip(trace.evaluated, trace.observed))
    assert [seen[f] for f in trace.final] == list(np.maximum.accumulate(trace.observed))
    s = trace.scores()
    assert len(s["regret"]) == 7 and all(math.isfinite(r) for r in s["regret"])
    assert s["compute"] == sorted(s["compute"]) and s["compute"][-1] > 0


def test_searcher_refuses_past_budget():
    c = CoordinateDescent(blocks=agent_blocks(), start_value=0.0)
    c.reset(joint_view(), Budget(2), seed=0, metric="outer")
    c.ask(), c.ask()
    with pytest.raises(BudgetExhausted):
        c.ask()


def test_coordinate_descent_changes_one_module_at_a_time():
    c = CoordinateDescent(blocks=agent_blocks(), per_block=2, start_value=0.0)
    c.reset(joint_view(), Budget(12), seed=1, metric="outer")
    from agenticrs.envs.core import TrialConfig, TrialResult

    default = JointConfig.default()
    incumbent = default
    for k in range(12):
        action = c.ask()
        joint = joint_of_action(action)
        changed = [a for a in AGENTS if joint.part(a) != incumbent.part(a)]
        assert changed == [AGENTS[(k // 2) % 4]] or changed == [], (k, changed)
        value = expected_outer(TASK, joint)
        c.tell(action, TrialResult(TrialConfig.make("pipeline"), TASK, 1.0, 0, "ok", {"outer": value}, {}, {}))
        if value > max([0.0] + [v for _, v in c.history[:-1]]):
            incumbent = joint


def test_coordinate_descent_evaluates_its_start_without_a_known_value():
    c = CoordinateDescent(blocks=agent_blocks())
    c.reset(joint_view(), Budget(3), seed=0, metric="outer")
    assert joint_of_action(c.ask()) == JointConfig.default()
    with pytest.raises(ValueError, match="unknown choice"):
        CoordinateDescent(blocks=[["nope"]]).reset(joint_view(), Budget(3), seed=0)


def test_regret_is_zero_at_the_best_and_one_at_the_default():
    from agenticrs.policies.agentic_eval import best_known

    b = best_known(TASK)
    assert regret(TASK, b.outer) == pytest.approx(0.0)
    assert regret(TASK, expected_outer(TASK, JointConfig.default())) == pytest.approx(1.0)


def test_single_agent_view_holds_the_others_at_default():
    from gymnasium.utils.env_checker import check_env

    env = SingleAgentView("serving", max_rounds=3)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    _, r, done, trunc, info = env.step(np.array([2, 1, 1]))
    core = env.env.core
    assert core.joint.part("model") == JointConfig.default().part("model")
    assert core.joint.part("serving") != JointConfig.default().part("serving")
    assert math.isfinite(r) and not done and "outer" in info


def test_independent_agents_train_save_load_and_act_together(tmp_path):
    train_independent(tmp_path, timesteps=128, env_kwargs={"max_rounds": 4})
    policy = IndependentAgents.load(tmp_path)
    assert set(policy.models) == set(AGENTS)
    trace = run_independent_episode(policy, TASK, seed=0, env_kwargs={"max_rounds": 4})
    assert len(trace.evaluated) == 4 and len(trace.shipped) == 4
    summary = summarise([trace])
    assert summary["independent"]["n"] == 1 and "shipped_outer" in summary["independent"]


def test_fast_expected_outer_equals_the_envs_evaluate():
    from agenticrs.envs.agentic.joint_eval import evaluate, joint_configs

    joints = list(joint_configs())
    for j in [joints[i] for i in np.random.default_rng(0).choice(len(joints), 40, replace=False)]:
        for task in ("syn-mixed", "syn-textual"):
            assert expected_outer(task, j) == pytest.approx(evaluate(task, j, expected=True).outer, abs=1e-12)
