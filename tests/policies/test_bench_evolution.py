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
    assert set(s["regret_at"]) == {"2", "3"}  # 5 > budget: the budget (3) stands in for it
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
    assert table.count("\n| ") == 2 * 6 and "regret@5" not in table and "regret@4" in table and "AUC" in table
    assert "vs random @4" in table and "rank@4" in table
    png = (out / "evolution_regret.png").read_bytes()
    assert png[:4] == b"\x89PNG" and len(png) > 10_000
    assert result["settings"]["budget"] == 4


def test_ppo_without_checkpoint_is_a_clear_error():
    with pytest.raises(ValueError, match="--checkpoint"):
        evolution.make_policy("ppo")
    with pytest.raises(ValueError, match="unknown policy"):
        evolution.make_policy("simulated-annealing")


def test_hpob_points_ranks_and_reduction_factors():
    assert evolution.report_points(20) == [5, 10, 20]
    assert evolution.report_points(30) == [5, 10, 25]
    assert evolution.report_points(25) == [5, 10, 25]
    assert evolution.report_points(3) == [3]
    traces = []
    for seed in range(2):
        for task in ("t1", "t2"):
            traces.append(_trace("random", task, seed, [0.4, 0.2, 0.2, 0.2, 0.2]))
            traces.append(_trace("good", task, seed, [0.2, 0.1, 0.1, 0.1, 0.05]))
            traces.append(_trace("tie", task, seed, [0.2, 0.2, 0.2, 0.2, 0.2]))
    s = evolution.summarise(traces, budget=5)
    assert s["report_at"] == [5]
    good, tie = s["by_policy"]["good"], s["by_policy"]["tie"]
    assert good["reduction_vs_random"]["5"] == pytest.approx(4.0)
    assert tie["reduction_vs_random"]["5"] == pytest.approx(1.0)
    # Trial 1: random 3rd, good and tie share ranks 1-2; trial 5: good 1st, the others share 2-3.
    assert good["rank_mean"][0] == pytest.approx(1.5) and s["by_policy"]["random"]["rank_mean"][0] == 3.0
    assert good["rank_at"]["5"][0] == 1.0 and tie["rank_at"]["5"][0] == pytest.approx(2.5)


def test_regret_without_a_reference_is_na_not_zero():
    from agenticrs.envs.backends.table import Table, TableBackend
    from agenticrs.envs.core import Task, TrialConfig, TrialResult
    from agenticrs.policies.regret import Reference, format_regret

    ref = Reference(TableBackend(Table([])), "synthetic")
    task = Task("my-shop", "csv:/nowhere.csv")  # not in any table: no best known metric
    r = TrialResult(TrialConfig.make("pop"), "my-shop", 1.0, 0, "ok", valid={"ndcg@10": 0.1})
    assert np.isnan(ref.regret(task, r)) and format_regret(ref.regret(task, r)) == "n/a"
    traces = [_trace("a", "my-shop", s, [float("nan")] * 2) for s in range(2)]
    s = evolution.summarise(traces, budget=2)
    assert "n/a" in evolution.markdown_table(s) and "0.0000" not in evolution.markdown_table(s)


def test_inapplicable_policies_are_skipped_with_a_note(tmp_path, capsys):
    """halving on an env without a fidelity dimension: a note, the other policies run."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "envs"))
    import evolution_fakes  # noqa: F401  (registers the "fake-evolution" backend)

    result = evolution.main(["--env", "agenticrs/Compose-v0", "--backend", "fake-evolution", "--policies",
                             "random,halving", "--seeds", "1", "--budget", "2", "--out", str(tmp_path),
                             "--no-progress"])
    assert result["summary"]["policies"] == ["random"]
    assert "fidelity" in result["settings"]["skipped"]["halving"]
    assert "note: halving skipped" in capsys.readouterr().err
    assert "Skipped halving" in (tmp_path / "evolution.md").read_text()


def test_each_policy_keeps_one_style():
    from agenticrs.benchmarks.plot_style import STYLES, policy_style

    assert policy_style("tpe") == policy_style("tpe") == STYLES["tpe"]
    assert policy_style("my-searcher") == policy_style("my-searcher")
    colours = [st["color"] for st in STYLES.values()]
    assert len(set(colours)) == len(colours)


def test_default_order_gap():
    from agenticrs.benchmarks.default_gap import default_gap
    from agenticrs.envs.backends.table import Table
    from agenticrs.envs.core import TrialConfig, TrialResult

    a, b = TrialConfig.make("pop"), TrialConfig.make("itemknn", max_len=20)
    values = {("t1", a): 0.2, ("t1", b): 0.1, ("t2", a): 0.2, ("t2", b): 0.1, ("t3", a): 0.1, ("t3", b): 0.4}
    table = Table([TrialResult(c, t, 1.0, 0, "ok", valid={"ndcg@10": v}) for (t, c), v in values.items()])
    r = default_gap(table, ["t1", "t2"], ["t3"])
    assert r["default"]["model"] == "pop" and r["gap"] == {"t3": pytest.approx(0.75)}
    assert r["best"]["t3"]["model"] == "itemknn" and r["share_at_target"] == 1.0
    assert default_gap(table, ["t1", "t2", "t3"], ["t1"])["gap"]["t1"] == 0.0  # pop: mean regret 0.25 vs 0.5
