"""The paired comparison reads run files, pairs them by seed, refuses pairs that are not like for
like, and reports the paired t-test over the complete pairs."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from agenticrs.benchmarks import paired
from agenticrs.recsys.models import get_model

TRAIN = {"epochs": 40, "lr": 0.001, "patience": 5, "precision": "fp32", "batch_size": 256}


def write_run(out: Path, name: str, row: str, seed: int, ndcg: float, *, model: str | None = None,
              model_config: dict | None = None, train: dict | None = None, data: str = "beauty",
              cpu: str = "test cpu") -> None:
    run = {
        "data": data, "seed": seed, "model": model or ("tiger" if row == "tiger" else "lwgr"),
        "config": {"model": {"dropout": 0.1, **(model_config or {})}, "train": {**TRAIN, "seed": seed, **(train or {})}},
        "test": {"ndcg@10": ndcg, "recall@10": 2 * ndcg}, "valid": {"ndcg@10": ndcg + 0.01, "recall@10": 0.1},
        "train": {"best_epoch": 3}, "cost": {"train_seconds": 100.0},
        "machine": {"cpu": cpu, "cores": 2, "memory_gb": 8, "gpu": None, "torch": "x", "torch_threads": 1},
    }
    if row == "lwgr":
        run["constraint_valid"] = {"holds": True}
    path = out / f"{name}_runs" / f"{data}-{row}-seed{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run))


def test_paired_statistics_match_scipy_and_missing_runs_are_named(tmp_path, capsys):
    from scipy import stats

    base, cand = [0.030, 0.032, 0.028], [0.031, 0.035, 0.027]
    for seed, (b, c) in enumerate(zip(base, cand)):
        write_run(tmp_path, "a", "tiger", seed, b)
        write_run(tmp_path, "b", "lwgr", seed, c, model_config={"knowledge_weight": 0.5})
    write_run(tmp_path, "a", "tiger", 3, 0.5)  # its candidate is missing: left out, named
    assert paired.main(["--data", "beauty", "--pair", "a:b:0,1,2,3", "--out", str(tmp_path), "--name", "p"]) == 0
    result = json.loads((tmp_path / "p.json").read_text())
    test = result["comparisons"][0]
    assert (test["split"], test["metric"], test["seeds"], test["ahead"]) == ("test", "ndcg@10", [0, 1, 2], 2)
    assert test["relative"] == pytest.approx((statistics.fmean(cand) - statistics.fmean(base)) / statistics.fmean(base))
    ref = stats.ttest_rel(cand, base)
    assert (test["t"], test["p"], test["df"]) == (pytest.approx(ref.statistic), pytest.approx(ref.pvalue), 2)
    assert result["missing_runs"] == ["b_runs/beauty-lwgr-seed3.json"]
    table = (tmp_path / "p.md").read_text()
    assert "| 3 |" not in table and "b_runs/beauty-lwgr-seed3.json" in table
    assert "ahead on 2 of 3 seeds" in table and "held on validation in 3 of 3 runs" in table


@pytest.mark.parametrize("cand_kwargs, named", [
    ({"train": {"lr": 0.002}}, "train.lr"),
    ({"model_config": {"dropout": 0.0}}, "model.dropout"),
])
def test_a_pair_that_differs_in_a_shared_setting_is_refused(tmp_path, cand_kwargs, named):
    write_run(tmp_path, "a", "tiger", 0, 0.03)
    write_run(tmp_path, "b", "lwgr", 0, 0.03, **cand_kwargs)
    with pytest.raises(SystemExit, match=named):
        paired.main(["--data", "beauty", "--pair", "a:b:0", "--out", str(tmp_path), "--name", "p"])
    assert not (tmp_path / "p.md").exists()


def test_settings_that_differ_between_pairs_are_listed(tmp_path):
    write_run(tmp_path, "a", "tiger", 0, 0.03, train={"precision": "bf16"})
    write_run(tmp_path, "b", "lwgr", 0, 0.031, train={"precision": "bf16"})
    for seed in (1, 2):
        write_run(tmp_path, "c", "tiger", seed, 0.03)
        write_run(tmp_path, "d", "lwgr", seed, 0.029, model_config={"knowledge_weight": 0.1 * seed})
    paired.main(["--data", "beauty", "--pair", "a:b:0", "--pair", "c:d:1,2", "--out", str(tmp_path), "--name", "p"])
    result = json.loads((tmp_path / "p.json").read_text())
    default = get_model("lwgr").Config().knowledge_weight
    assert result["differ_between_seeds"] == {"train.precision": {"0": "bf16", "1": "fp32", "2": "fp32"},
                                              "model.knowledge_weight": {"0": default, "1": 0.1, "2": 0.2}}
    assert "`train.precision`: seed 0: bf16; seed 1: fp32; seed 2: fp32" in (tmp_path / "p.md").read_text()


def test_a_pair_run_on_two_machines_is_named_with_both(tmp_path):
    write_run(tmp_path, "a", "tiger", 0, 0.03)
    write_run(tmp_path, "b", "lwgr", 0, 0.031)
    write_run(tmp_path, "a", "tiger", 1, 0.03, cpu="AMD EPYC")
    write_run(tmp_path, "b", "lwgr", 1, 0.031, cpu="Intel Xeon")
    paired.main(["--data", "beauty", "--pair", "a:b:0,1", "--out", str(tmp_path), "--name", "p"])
    within = json.loads((tmp_path / "p.json").read_text())["machines_within_pairs"]
    assert list(within) == ["1"]  # seed 0 ran both models on one machine
    assert within["1"]["tiger"].startswith("AMD EPYC") and within["1"]["lwgr"].startswith("Intel Xeon")
    assert "- seed 1: tiger on AMD EPYC, 2 cores" in (tmp_path / "p.md").read_text()


@pytest.mark.parametrize("pairs, message", [
    (["a:b:0", "a:b:0"], "seed 0 is named by more than one --pair"),
    (["a:b"], "BASE:CAND:SEEDS"),
    (["a:b:zero"], "comma-separated integers"),
])
def test_bad_pair_specs_are_refused(tmp_path, pairs, message):
    args = ["--data", "beauty", "--out", str(tmp_path), "--name", "p"]
    for spec in pairs:
        args += ["--pair", spec]
    with pytest.raises(SystemExit, match=message):
        paired.main(args)


def test_a_run_file_of_another_seed_or_a_broken_one_is_refused(tmp_path):
    write_run(tmp_path, "a", "tiger", 0, 0.03)
    write_run(tmp_path, "b", "lwgr", 0, 0.03)
    moved = tmp_path / "b_runs" / "beauty-lwgr-seed1.json"
    (tmp_path / "b_runs" / "beauty-lwgr-seed0.json").rename(moved)
    (tmp_path / "b_runs" / "beauty-lwgr-seed0.json").write_text(moved.read_text().replace('"seed": 0', '"seed": 7', 1))
    with pytest.raises(SystemExit, match="holds beauty seed 7, expected beauty seed 0"):
        paired.main(["--data", "beauty", "--pair", "a:b:0", "--out", str(tmp_path), "--name", "p"])
    (tmp_path / "b_runs" / "beauty-lwgr-seed0.json").write_text("{not json")
    with pytest.raises(SystemExit, match="not a generative benchmark run file"):
        paired.main(["--data", "beauty", "--pair", "a:b:0", "--out", str(tmp_path), "--name", "p"])
