"""``agenticrs knowledge show|export`` on a temporary store, and ``agenticrs envs``."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import ENV, run_cli

from agenticrs.envs.core import TrialConfig, TrialResult
from agenticrs.envs.knowledge import KnowledgeStore
from agenticrs.envs.spaces import AutoTrainSpace


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "k.sqlite"
    store = KnowledgeStore(path)
    run_a, run_b = store.start_run({"who": "a"}, run_id="run-a"), store.start_run(run_id="run-b")
    sasrec = TrialConfig.make("sasrec", embedding_dim=64)
    store.add_trials([
        TrialResult(TrialConfig.make("pop"), "t1", 1.0, 0, "ok", {"ndcg@10": 0.02}, {"ndcg@10": 0.018}, {"seconds": 0.1}),
        TrialResult(sasrec, "t1", 1.0, 0, "ok", {"ndcg@10": 0.09}, {"ndcg@10": 0.08}, {"seconds": 5.0}),
        TrialResult(sasrec, "t1", 0.25, 1, "failed", cost={"seconds": 1.0}, reason="diverged"),
    ], run_id=run_a, agent="ppo", env=ENV)
    store.add_trial(TrialResult(TrialConfig.make("pop"), "t2", 1.0, 0, "ok", {"ndcg@10": 0.03}), run_id=run_b,
                    agent="random", env=ENV)
    store.add_decision(run_id=run_a, step=0, action=[4, 1], agent="ppo", env=ENV, task="t1")
    store.close()
    return path


def test_show(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(capsys, "knowledge", "show", "--db", db)
    assert rc == 0
    assert "runs: 2, trials: 4, decisions: 1" in out and "run-a" in out and "run-b" in out
    assert "t1: failed=1 ok=2; best 0.0900 sasrec {'embedding_dim': 64}" in out
    assert "diverged" in out
    rc, out, _ = run_cli(capsys, "knowledge", "show", "--db", db, "--task", "t2", "--limit", "1")
    assert rc == 0 and "t2: ok=1" in out and "t1:" not in out and "latest 1 trials" in out


def test_export_jsonl_csv_and_filters(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(capsys, "knowledge", "export", "--db", db, "--out", tmp_path / "all.jsonl")
    assert rc == 0 and "wrote 4 trials" in out
    rows = [json.loads(line) for line in (tmp_path / "all.jsonl").read_text().splitlines()]
    assert [r["task"] for r in rows] == ["t1", "t1", "t1", "t2"] and rows[2]["reason"] == "diverged"

    rc, out, _ = run_cli(capsys, "knowledge", "export", "--db", db, "--out", tmp_path / "ok.csv", "--run-id", "run-a",
                         "--status", "ok")
    assert rc == 0 and "wrote 2 trials" in out
    with open(tmp_path / "ok.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [float(r["valid.ndcg@10"]) for r in table] == [0.02, 0.09] and {r["agent"] for r in table} == {"ppo"}

    rc, out, _ = run_cli(capsys, "knowledge", "export", "--db", db, "--out", tmp_path / "d.jsonl",
                         "--table", "decisions", "--agent", "ppo")
    assert rc == 0 and "wrote 1 decisions" in out
    assert json.loads((tmp_path / "d.jsonl").read_text())["action"] == [4, 1]


def test_missing_or_foreign_db_is_an_error_and_creates_nothing(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(capsys, "knowledge", "show", "--db", tmp_path / "none.sqlite")
    assert rc == 2 and "no knowledge store at" in err
    (tmp_path / "text.sqlite").write_text("not a database\n")
    rc, _, err = run_cli(capsys, "knowledge", "export", "--db", tmp_path / "text.sqlite", "--out", tmp_path / "o.csv")
    assert rc == 2 and "is not a knowledge store" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["text.sqlite"]


def test_envs_lists_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(capsys, "envs")
    assert rc == 0
    assert ENV in out and "table, surrogate, live" in out and "MultiDiscrete([6, 2, 2, 2, 2, 2, 2, 2, 2])" in out
    space = AutoTrainSpace()
    assert f"{len(space.configs())} configs / {space.n_pairs} pairs" in out
    assert "Box(0.0, 10.0, (38,), float32)" in out
    # The console script, as a user runs it, in JSON.
    proc = subprocess.run([sys.executable, "-m", "agenticrs.cli.main", "envs", "--json"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (row,) = [r for r in json.loads(proc.stdout) if r["id"] == ENV]
    assert row["entry_point"] == "agenticrs.envs.autotrain:AutoTrainEnv"
    assert row["action_space_describe"]["family"][0] == "pop" and row["backends"] == ["table", "surrogate", "live"]
    assert row["canonical_pairs"] == AutoTrainSpace().n_pairs
