"""The evolution diagnosis replays a recorded search exactly and recovers parents and operators."""

from __future__ import annotations

import math

import pytest

from agenticrs.benchmarks.design_evolution_diagnosis import replay
from agenticrs.policies.proposers import DesignTask, FunctionEvaluator, PipelineConfig, make_proposer, run_pipeline


def toy_score(program) -> float:
    """Deterministic, varied: wider programs with item text and CE loss score higher."""
    return 0.01 * program.dim / 32 + 0.1 * program.inputs.text + 0.1 * (program.loss.kind == "ce") + 0.01 * len(
        program.blocks)


def recorded(seed: int = 3, trials: int = 20) -> dict:
    task = DesignTask("toy", n_items=300, fixed={"epochs": 2})
    trace = run_pipeline(make_proposer("evolution"), FunctionEvaluator(toy_score, task="toy"), task,
                         PipelineConfig(rounds=trials // 2, generate=2, select=2), seed)
    return {**trace.to_dict(), "task": "toy", "trials": trials, "seed": 0, "search_seed": seed, "variant": None}


def test_replay_recovers_each_childs_parent_and_operator():
    run = recorded()
    rows = replay(run, epochs=2, n_items=300)
    assert [r["source"] for r in rows] == [r["source"] for r in run["rows"]]
    children = [r for r in rows if "parent" in r]
    assert len(children) == 12 and all(math.isfinite(r["parent"]) for r in children)  # 8 initial random draws
    # A mutation child is exactly one operator away from the program mutated.
    assert all(r["ops"] for r in children if r["source"] == "mutation")
    assert {r["section"] for r in children} <= {"shape", "blocks", "inputs", "readout", "loss", "train", "?"}


def test_replay_refuses_a_search_it_cannot_reproduce():
    run = recorded()
    run["search_seed"] = 4  # another seed proposes other programs
    with pytest.raises(AssertionError, match="replay of toy"):
        replay(run, epochs=2, n_items=300)


def test_only_bred_children_have_parents_when_duplicates_are_refused():
    """A refused duplicate's parent must not be charged to the program proposed next (an immigrant here)."""
    task = DesignTask("toy", n_items=300, fixed={"epochs": 2})
    kwargs = {"sample": 8, "p_immigrant": 0.5, "population": 4}
    trace = run_pipeline(make_proposer("evolution", **kwargs), FunctionEvaluator(toy_score, task="toy"), task,
                         PipelineConfig(rounds=40, generate=2, select=2), 5)
    run = {**trace.to_dict(), "task": "toy", "trials": 80, "seed": 0, "search_seed": 5,
           "variant": {"proposer": "evolution", "kwargs": kwargs}}
    rows = replay(run, epochs=2, n_items=300)
    assert {r["source"] for r in rows} >= {"immigrant", "mutation"}
    assert all(("parent" in r) == (r["source"] in ("mutation", "crossover")) for r in rows)
