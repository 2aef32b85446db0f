"""The evolution benchmark runner: protocol, aggregation maths, JSON / table / plot outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agenticrs.benchmarks import evolution
from agenticrs.policies.episode import EpisodeTrace, TrialRecord


def _trace(policy, task, seed, regrets, seconds=1.0):
    tr = EpisodeTrace(policy, task, seed, "ndcg@10", 0.1)
    for i, r in enumerate(regrets):
        tr.trials.append(TrialRecord(i + 1, "pop", {}, 1.0, "ok", 0.05, seconds, seconds * (i + 1), r))
    return tr


def test_summary_maths():
    traces = [_trace("a", "t1", 0, [0.5, 0.2, 0.0]), _trace("a", "t2", 0, [1.0, 0.4, 0.2]),
              _trace("a", "t1", 1, [0.3, 0.3, 0.1]), _trace("a", "t2", 1, [0.5, 0.5, 0.3])]
    s = evolution.summarise(traces, budget=3, report_at=(2, 5))["by_policy"]["a"]
    per_seed_final = np.array([(0.0 + 0.2) / 2, (0.1 + 0.3) / 2])
    assert s["final_regret"][0] == pytest.approx(per_seed_final.mean())
    assert s["final_regret"][1] == pytest.approx(per_seed_final.std(ddof=1) / np.sqrt(2))
    assert s["regret_mean"] == pytest.approx([(0.75 + 0.4) / 2, (0.3 + 0.4) / 2, 0.15])
    assert s["auc"][0] == pytest.approx(np.mean([(0.75 + 0.3 + 0.1) / 3, (0.4 + 0.4 + 0.2) / 3]))
    assert set(s["regret_at"]) == {"2"}  # 5 > budget is not reported
    assert s["trials_to_1pct"] == 3.0 and s["reached_1pct"] == 0.25
    # Regret against compute: 1 before the first trial, then the step function.
    assert s["compute_regret_mean"][-1] == pytest.approx(s["final_regret"][0])


def test_missing_episodes_are_an_error():
    with pytest.raises(ValueError, match="lacks episodes"):
        evolution.summarise([_trace("a", "t1", 0, [0.1]), _trace("a", "t2", 1, [0.1])], budget=1)


def test_bench_runner_writes_json_table_and_plot(tmp_path, table_file):
    out = tmp_path / "bench"
    result = evolution.main(["--policies", "random,grid,evolution,tpe,halving", "--seeds", "2", "--budget", "4",
                             "--table", table_file, "--out", str(out), "--no-progress"])
    data = json.loads((out / "evolution.json").read_text())
    assert data["summary"]["policies"] == ["random", "grid", "evolution", "tpe", "halving"]
    assert data["summary"]["tasks"] == ["syn-mixed", "syn-textual"]  # the suite's test tasks
    assert len(data["traces"]) == 5 * 2 * 2 and all(len(t["regret"]) == 4 for t in data["traces"])
    assert "machine" in data and "command" in data
    table = (out / "evolution.md").read_text()
    assert table.count("\n| ") == 6 and "regret@5" not in table and "AUC" in table
    png = (out / "evolution_regret.png").read_bytes()
    assert png[:4] == b"\x89PNG" and len(png) > 10_000
    assert result["settings"]["budget"] == 4


def test_ppo_without_checkpoint_is_a_clear_error():
    with pytest.raises(ValueError, match="--checkpoint"):
        evolution.make_policy("ppo")
    with pytest.raises(ValueError, match="unknown policy"):
        evolution.make_policy("simulated-annealing")
