"""The ``regimes`` suites: synthetic, Beauty and Scientific tasks in both splits, registered without
the data, and their committed AutoTrain-v1 samples (results only) read back without the data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agenticrs.envs import suites
from agenticrs.envs.core import TrialConfig, TrialResult
from agenticrs.envs.suites import get_suite
from agenticrs.recsys.data.errors import DataFormatError
from agenticrs.recsys.data.registry import load_dataset
from agenticrs.recsys.data.subsample import SubsampleSpec, subsample_uri

SUITES_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "suites"
RESULTS = SUITES_DIR / "regimes_v1"
SAMPLES = {"regimes": RESULTS, "regimes-balanced": SUITES_DIR / "regimes_balanced_v1"}


def kind(data: str) -> str:
    return data.split(":")[0] if not data.startswith("subsample:") else data[len("subsample:"):].split("?")[0]


def test_regimes_suite_has_every_kind_in_both_splits_and_canonical_uris():
    suite = get_suite("regimes")
    for split in (suite.train, suite.test):
        kinds = [kind(t.data) for t in split]
        assert sorted(kinds) == ["beauty", "beauty", "scientific", "scientific", "synthetic", "synthetic"]
    synthetic = get_suite("synthetic")
    for t in suite.tasks:
        if t.data.startswith("synthetic:"):  # the synthetic tasks are the embedded suite's, unchanged
            assert synthetic.task(t.name) == t
        else:
            source, options = t.data[len("subsample:"):].split("?")
            assert subsample_uri(source, **vars(SubsampleSpec.parse(options))) == t.data
    # The two dense Beauty cuts are the same cut of disjoint users.
    a, b = (vars(SubsampleSpec.parse(suite.task(n).data.split("?")[1])) for n in ("beauty-dense-900a",
                                                                                   "beauty-dense-900b"))
    assert (a.pop("part"), b.pop("part")) == (0, 1) and a == b


@pytest.mark.parametrize("suite_name", sorted(SAMPLES))
def test_committed_sample_reads_back_without_data(suite_name, tmp_path, monkeypatch):
    from agenticrs.benchmarks.v1_gap_sample import gap_report

    results_dir = SAMPLES[suite_name]
    if not (results_dir / "v1_sample.jsonl").exists():
        pytest.skip(f"the {suite_name} sample is not committed")

    monkeypatch.setenv("AGENTICRS_DATA", str(tmp_path))
    monkeypatch.setattr(suites, "_STATS", {})
    with pytest.raises(DataFormatError, match="not found"):
        load_dataset("beauty")
    saved = json.loads((results_dir / "v1_gap.json").read_text())
    results = [TrialResult.from_dict(json.loads(x)) for x in (results_dir / "v1_sample.jsonl").read_text().splitlines()]
    suite = get_suite(suite_name)
    assert {r.task for r in results} <= {t.name for t in suite.tasks}
    configs = [TrialConfig.from_dict(c) for c in saved["configs"]]
    results = [r for r in results if r.task in saved["complete_tasks"] and r.config in configs]
    again = gap_report(results, saved["train"], saved["test"], saved["seeds"], configs=configs,
                       features=saved.get("task_features"))
    views = [v for v in ("in_sample", "train_to_test", "test_split") if v in saved]
    assert views and all(again[v]["gap"] == pytest.approx(saved[v]["gap"]) for v in views)
    assert all(again[v]["default"] == saved[v]["default"] for v in views)
    if "transfer" in saved:  # recorded meta-features: the task-aware baseline reads back too
        assert json.loads(json.dumps(again["transfer"])) == saved["transfer"]


@pytest.mark.skipif(not (suites.data_available("beauty") and suites.data_available("scientific")),
                    reason="needs ../shared/data (Amazon Beauty and Scientific)")
def test_real_cuts_are_large_enough_to_measure():
    for t in get_suite("regimes").tasks:
        if t.data.startswith("subsample:"):
            assert load_dataset(t.data).stats()["users"] >= 700, t.name
