"""The sampled default-order gap (``benchmarks/v1_gap_sample.py``): the configuration sample, the
gap views on hand-made results (exact numbers), partial runs, and a tiny live, resumable run."""

from __future__ import annotations

import json

import pytest

from agenticrs.benchmarks.default_gap import default_gap, nearest_task_transfer
from agenticrs.benchmarks.v1_gap_sample import (
    _split_tasks,
    complete_tasks,
    family_defaults,
    gap_report,
    main,
    parse_config,
    sample_configs,
)
from agenticrs.envs.backends.table import Table
from agenticrs.envs.core import TrialConfig, TrialResult
from agenticrs.envs.spaces import CLOSED_FORM, SPACES, AutoTrainSpace

A, B, C = TrialConfig.make("pop"), TrialConfig.make("ease", l2=200.0), TrialConfig.make("itemknn", k_neighbors=100)


def res(task: str, config: TrialConfig, ndcg: float, seed: int = 0, test: float | None = None) -> TrialResult:
    return TrialResult(config, task, 1.0, seed, "ok", {"ndcg@10": ndcg, "recall@10": 2 * ndcg},
                       {"ndcg@10": ndcg if test is None else test})


# ---------------------------------------------------------------------- the sample
def test_sample_has_every_closed_form_config_a_minimum_per_family_defaults_and_includes():
    space = AutoTrainSpace(*SPACES["v1"])
    closed = [c for c in space.configs() if c.model in CLOSED_FORM]
    wide = parse_config("sasrec:embedding_dim=128,layers=1,dropout=0.0,lr=0.003,max_len=20,loss=bce,n_negatives=16")
    configs = sample_configs(5, seed=3, min_per_family=2, defaults=True, include=[wide])
    assert configs[:len(closed)] == closed and len(set(configs)) == len(configs)
    trainable = {f for f in space.families if f not in CLOSED_FORM}
    for family in trainable:
        assert sum(c.model == family for c in configs) >= 2
    assert set(family_defaults(space)) <= set(configs) and wide in configs
    assert sample_configs(5, seed=3) == sample_configs(5, seed=3) != sample_configs(5, seed=4)
    assert len(sample_configs(5, seed=3)) == len(closed) + 5
    with pytest.raises(ValueError, match="not a configuration of the space"):
        sample_configs(0, include=[TrialConfig.make("sasrec", embedding_dim=7)])


def test_family_defaults_are_index_zero_of_every_dimension():
    by_model = {c.model: c.param_dict for c in family_defaults(AutoTrainSpace(*SPACES["v1"]))}
    assert by_model["sasrec"] == {"dropout": 0.2, "embedding_dim": 64, "layers": 2, "loss": "ce", "lr": 0.001,
                                  "max_len": 50}
    assert by_model["ease"] == {"l2": 200.0} and by_model["pop"] == {}


def test_parse_config_reads_literals_and_bare_words():
    c = parse_config("sasrec: lr=3e-3, loss=bce, n_negatives=16, dropout=0.0")
    assert c == TrialConfig.make("sasrec", lr=0.003, loss="bce", n_negatives=16, dropout=0.0)
    with pytest.raises(ValueError, match="expected key=value"):
        parse_config("sasrec:lr")


# ---------------------------------------------------------------------- the views
def two_regimes() -> list[TrialResult]:
    """A wins the 'sequential' tasks s1 and s2, B the 'closed-form' ones c1 and t4; seed 1 repeats
    seed 0 except on t4, where C overtakes B (selection noise). On the test split B and C halve."""
    rows = {"s1": (0.5, 0.25, 0.1), "s2": (0.4, 0.2, 0.1), "c1": (0.16, 0.2, 0.1), "t4": (0.08, 0.1, 0.09)}
    out = []
    for seed in (0, 1):
        for task, (a, b, c) in rows.items():
            if seed == 1 and task == "t4":
                b, c = 0.09, 0.101
            out += [res(task, A, a, seed), res(task, B, b, seed, test=b / 2), res(task, C, c, seed, test=c / 2)]
    return out


def test_task_list_keeps_probe_uri_options_together():
    text = ("syn-mixed,bag=synthetic:users=90,seed=4,drift=1.0,"
            "cut=subsample:scientific?users=1500,part=3,sci-long")
    assert _split_tasks(text) == ["syn-mixed", "bag=synthetic:users=90,seed=4,drift=1.0",
                                  "cut=subsample:scientific?users=1500,part=3", "sci-long"]


def test_gap_views_on_two_regimes():
    r = gap_report(two_regimes(), ["s1", "c1"], ["s2", "t4"], [0, 1], users={"s2": 100, "t4": 50})
    # Train: A's regrets 0 and 0.2 (mean 0.1), B's 0.5 and 0: A is the default.
    tt = r["train_to_test"]
    assert tt["default"] == A.to_dict() and tt["mean_regret_learned"] == pytest.approx(0.1)
    # t4's seed means: A 0.08, B 0.095, C 0.0955 (best).
    assert tt["gap"] == {"s2": pytest.approx(0.0), "t4": pytest.approx(1 - 0.08 / 0.0955)}
    assert tt["share_at_target"] == 0.5
    assert r["per_seed"]["0"]["gap"]["t4"] == pytest.approx(0.2)
    assert r["per_seed"]["1"]["gap"]["t4"] == pytest.approx(1 - 0.08 / 0.101)
    assert r["cross_seed"]["0->1"]["gap"]["t4"] == pytest.approx(1 - 0.08 / 0.101)
    assert r["test_split"]["gap"]["t4"] == pytest.approx(0.0)  # B and C halve there: A is best
    t4 = r["tasks"]["t4"]
    assert t4["best"] == C.to_dict()
    assert t4["family_best"] == {"pop": pytest.approx(0.08), "ease": pytest.approx(0.095),
                                 "itemknn": pytest.approx(0.0955)}
    assert t4["ndcg_by_seed"] == {"0": 0.09, "1": 0.101} and t4["hits_by_seed"] == {"0": 9, "1": 10}
    # Best on seed 0 is B (0.09 on seed 1: regret 1 - 0.09 / 0.101); best on seed 1 is C (0.09 on seed 0).
    assert t4["best_of_one_seed_regret_on_other"] == {"0->1": pytest.approx(1 - 0.09 / 0.101),
                                                      "1->0": pytest.approx(0.1)}
    assert r["leave_one_out"]["gap"]["c1"] == pytest.approx(0.2)  # learned on s1, s2, t4: A
    assert r["in_sample"]["default"] == A.to_dict()


def test_nearest_task_transfer_follows_the_similar_train_task():
    # Two regimes: "big" tasks where A wins, "small" tasks where C wins; the train mean picks A.
    table = Table([res("big1", A, 0.30), res("big1", B, 0.20), res("big1", C, 0.10),
                   res("big2", A, 0.30), res("big2", B, 0.25), res("big2", C, 0.10),
                   res("small1", A, 0.09), res("small1", B, 0.05), res("small1", C, 0.10),
                   res("big3", A, 0.40), res("big3", B, 0.30), res("big3", C, 0.20),
                   res("small2", A, 0.05), res("small2", B, 0.06), res("small2", C, 0.10)])
    feats = {"big1": {"users": 1000, "items": 900}, "big2": {"users": 1200, "items": 800},
             "small1": {"users": 90, "items": 80}, "big3": {"users": 1100, "items": 1000},
             "small2": {"users": 100, "items": 70}}
    r = nearest_task_transfer(table, ["big1", "big2", "small1"], ["big3", "small2"], feats, ks=(1, 2))
    assert r["features"] == ["users", "items"]
    assert r["nearest"] == {"big3": "big1", "small2": "small1"}
    # Default order: A (mean regret 0.033), B, C. On small2 A's regret is 0.5, B's 0.4: @2 = 0.4.
    assert r["regret"]["best-default-order"]["small2"] == {"1": pytest.approx(0.5), "2": pytest.approx(0.4)}
    assert r["regret"]["nearest-task"]["small2"] == {"1": 0.0, "2": 0.0}  # small1's order: C first
    assert r["regret"]["nearest-task"]["big3"]["1"] == r["regret"]["best-default-order"]["big3"]["1"] == 0.0
    assert r["mean"]["nearest-task"]["1"] == 0.0 and r["mean"]["best-default-order"]["1"] == pytest.approx(0.25)


def test_default_gap_judged_on_another_table():
    learn, judge = Table([res("x", A, 0.3), res("x", B, 0.2)]), Table([res("x", A, 0.1), res("x", B, 0.2)])
    assert default_gap(learn, ["x"], ["x"], judge_table=judge)["gap"]["x"] == pytest.approx(0.5)


def test_partial_runs_leave_out_incomplete_task_seeds():
    rows = [r for r in two_regimes() if not (r.seed == 1 and r.task == "s1" and r.config == C)]
    assert complete_tasks(rows, ["s1", "s2"], [A, B, C], 1) == ["s2"]
    r = gap_report(rows, ["s1", "c1"], ["s2", "t4"], [0, 1], configs=[A, B, C])
    assert set(r["per_seed"]) == {"0"}  # seed 1 misses a train task: no per-seed view, ...
    assert set(r["cross_seed"]) == {"0->1"}  # ... but it is still judged on
    assert r["train_to_test"]["gap"]["t4"] == pytest.approx(1 - 0.08 / 0.0955)


# ---------------------------------------------------------------------- a tiny live run
def test_live_run_writes_reports_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr("agenticrs.benchmarks.v1_gap_sample.sample_configs", lambda *a, **k: [A, C])
    argv = ["--out", str(tmp_path), "--suite", "synthetic", "--tasks", "syn-sparse,syn-mixed", "--seeds", "0",
            "--n-neural", "0", "--epochs", "1"]
    r = main(argv)
    lines = (tmp_path / "v1_sample.jsonl").read_text().splitlines()
    assert len(lines) == 4 and all(json.loads(x)["status"] == "ok" for x in lines)
    assert r["train_to_test"]["gap"].keys() == {"syn-mixed"} and r["tasks"]["syn-sparse"]["users"] == 350
    assert json.loads((tmp_path / "v1_gap.json").read_text())["trials"] == 4
    assert "train -> test" in (tmp_path / "v1_gap.md").read_text()
    r = main(argv)  # resumed: nothing re-run
    assert len((tmp_path / "v1_sample.jsonl").read_text().splitlines()) == 4
    monkeypatch.setenv("AGENTICRS_DATA", str(tmp_path / "none"))
    monkeypatch.setattr("agenticrs.benchmarks.v1_gap_sample._features", None)  # must not be needed
    again = main([*argv, "--report-only"])
    assert again["date"] == r["date"] and again["tasks"]["syn-sparse"]["users"] == 350
    assert again["train_to_test"] == r["train_to_test"]
    # The task-aware baseline is reported from the recorded meta-features, without the data.
    assert again["transfer"] == r["transfer"] and r["transfer"]["nearest"] == {"syn-mixed": "syn-sparse"}
