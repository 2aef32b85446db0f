"""KnowledgeStore: recording and queries, warm-start lookup, export, sharing and kill-safety."""

from __future__ import annotations

import csv
import json
import pickle
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from agenticrs.envs.core import Task, TrialConfig, TrialResult
from agenticrs.envs.knowledge import SCHEMA_VERSION, KnowledgeStore, StoredTrial

SAS = TrialConfig.make("sasrec", dim=32, lr=0.001)
POP = TrialConfig.make("pop")


def result(config: TrialConfig = SAS, task: str = "t1", ndcg: float = 0.1, status: str = "ok",
           fidelity: float = 1.0, seed: int = 0) -> TrialResult:
    ok = status == "ok"
    return TrialResult(config, task, fidelity, seed, status,  # type: ignore[arg-type]
                       {"ndcg@10": ndcg} if ok else {}, {"ndcg@10": ndcg * 0.9} if ok else {},
                       {"seconds": 2.5}, "" if ok else "diverged: loss nan")


@pytest.fixture
def store(tmp_path: Path) -> KnowledgeStore:
    return KnowledgeStore(tmp_path / "k.sqlite")


def test_file_is_wal_with_schema_version(store: KnowledgeStore) -> None:
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.schema_version == SCHEMA_VERSION == 2
    assert store.integrity_check() == "ok"


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    KnowledgeStore(tmp_path / "k.sqlite")
    with sqlite3.connect(tmp_path / "k.sqlite") as c:
        c.execute("INSERT INTO schema_version VALUES (99)")
    with pytest.raises(RuntimeError, match="schema version 99 is newer"):
        KnowledgeStore(tmp_path / "k.sqlite")


def test_trials_roundtrip_and_filters(store: KnowledgeStore) -> None:
    run = store.start_run({"env": "agenticrs/AutoTrain-v0"})
    store.add_trial(result(ndcg=0.2), run_id=run, agent="ppo", env="AutoTrain", reward_terms={"inner": 0.5})
    store.add_trial(result(POP, ndcg=0.05), run_id=run, agent="ppo", env="AutoTrain")
    store.add_trial(result(status="failed", task="t2"), run_id="other")
    all_trials = store.trials()
    assert [t.result.config for t in all_trials] == [SAS, POP, SAS]
    first = all_trials[0]
    assert isinstance(first, StoredTrial) and first.result == result(ndcg=0.2)
    assert first.reward_terms == {"inner": 0.5} and first.agent == "ppo" and first.run_id == run
    assert len(store.trials(task="t1")) == 2 and len(store.trials(task=Task("t2", "x"))) == 1
    assert [t.result.status for t in store.trials(status="failed")] == ["failed"]
    assert len(store.trials(status=["ok", "failed"])) == 3
    assert len(store.trials(config_key=POP.key())) == 1
    assert len(store.trials(run_id=run, env="AutoTrain")) == 2
    assert [t.result.config for t in store.trials(limit=1)] == [SAS] and store.trials(limit=1)[0].result.task == "t2"
    runs = {r["run_id"]: r for r in store.runs()}
    assert runs[run]["meta"] == {"env": "agenticrs/AutoTrain-v0"} and runs[run]["trials"] == 2
    assert runs["other"]["trials"] == 1  # recording into an unknown run creates it


def test_find_trial_for_warm_start(store: KnowledgeStore) -> None:
    store.add_trial(result(ndcg=0.1, fidelity=0.5, seed=1))
    store.add_trial(result(ndcg=0.3, fidelity=0.5, seed=1))  # a later re-run wins
    store.add_trial(result(status="failed", fidelity=1.0, seed=1))
    hit = store.find_trial("t1", SAS, 0.5, 1)
    assert hit is not None and hit.valid["ndcg@10"] == 0.3
    assert store.find_trial("t1", SAS, 0.1 + 0.4, 1) is not None  # float noise in the fidelity
    assert store.find_trial("t1", SAS, 0.5, 2) is None  # other seed
    assert store.find_trial("t2", SAS, 0.5, 1) is None  # other task
    assert store.find_trial("t1", TrialConfig.make("sasrec", dim=64, lr=0.001), 0.5, 1) is None
    assert store.find_trial("t1", SAS, 1.0, 1) is None  # only failed there
    failed = store.find_trial("t1", SAS, 1.0, 1, status=None)
    assert failed is not None and failed.reason == "diverged: loss nan"


def test_best_and_history(store: KnowledgeStore) -> None:
    run = store.start_run()
    store.add_decision(run_id=run, step=0, action=[1, 2], info={"reward": 0.0}, agent="ppo", task="t1")
    store.add_trial(result(ndcg=0.2), run_id=run)
    store.add_trial(result(POP, ndcg=0.4), run_id=run)
    store.add_trial(result(status="failed"), run_id=run)
    store.add_trial(result(POP, task="t2", ndcg=0.9))
    store.add_decision(run_id=run, step=1, action=[0, 0], info={"reward": 1.0})
    best = store.best("t1", "ndcg@10")
    assert best is not None and best.result.config == POP and best.result.valid["ndcg@10"] == 0.4
    assert store.best("t1", "recall@10") is None
    assert store.best("t3") is None
    kinds = [type(e).__name__ for e in store.history(run)]
    assert kinds.count("Decision") == 2 and kinds.count("StoredTrial") == 3
    decisions = store.decisions(run_id=run)
    assert [d.step for d in decisions] == [0, 1] and decisions[0].action == [1, 2]


def test_numpy_values_in_info_are_stored(store: KnowledgeStore) -> None:
    np = pytest.importorskip("numpy")
    store.add_decision(run_id=None, step=np.int64(3), action=np.array([1, 2]), info={"r": np.float32(0.5)})
    d = store.decisions()[0]
    assert d.step == 3 and d.action == [1, 2] and d.info == {"r": 0.5}


def test_export_jsonl_and_csv(store: KnowledgeStore, tmp_path: Path) -> None:
    store.add_trial(result(ndcg=0.2), run_id="r", reward_terms={"inner": 1.0})
    store.add_trial(result(status="timeout", task="t2"), run_id="r")
    n = store.export(tmp_path / "out.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert n == 2 and rows[0]["valid"] == {"ndcg@10": 0.2} and rows[0]["config"] == SAS.to_dict()
    assert rows[1]["status"] == "timeout"
    assert store.export(tmp_path / "out.csv", task="t1") == 1
    with open(tmp_path / "out.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert float(row["valid.ndcg@10"]) == 0.2 and float(row["reward_terms.inner"]) == 1.0
    assert json.loads(row["config"]) == SAS.to_dict()
    with pytest.raises(ValueError, match="fmt"):
        store.export(tmp_path / "x", fmt="xml")
    assert not list(tmp_path.glob(".*tmp"))


def test_show_summarises(store: KnowledgeStore) -> None:
    run = store.start_run()
    store.add_trial(result(ndcg=0.25), run_id=run)
    store.add_trial(result(status="failed"), run_id=run)
    text = store.show()
    assert run in text and "t1: failed=1 ok=1" in text and "0.2500 sasrec" in text


def test_pickles_by_path_and_shares_across_processes(store: KnowledgeStore) -> None:
    clone = pickle.loads(pickle.dumps(store))
    assert clone.path == store.path
    clone.add_trial(result(ndcg=0.7))
    assert store.find_trial("t1", SAS, 1.0, 0) is not None
    code = textwrap.dedent(f"""
        import pickle, sys
        store = pickle.loads({pickle.dumps(store)!r})
        from agenticrs.envs.core import TrialConfig, TrialResult
        store.add_trial(TrialResult(TrialConfig.make("pop"), "child", 1.0, 0, "ok", {{"ndcg@10": 0.5}}))
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert [t.result.task for t in store.trials(task="child")] == ["child"]


def test_killed_writer_leaves_no_torn_rows(store: KnowledgeStore) -> None:
    # A child records batches of 5 trials per transaction as fast as it can; SIGKILL hits it
    # mid-loop. Afterwards the file must be intact and hold only whole batches.
    code = textwrap.dedent(f"""
        import sys
        from agenticrs.envs.knowledge import KnowledgeStore
        from agenticrs.envs.core import TrialConfig, TrialResult
        store = KnowledgeStore({str(store.path)!r})
        i = 0
        while True:
            batch = [TrialResult(TrialConfig.make("sasrec", dim=i, n=j), "t", 1.0, j, "ok",
                                 {{"ndcg@10": 0.1}}, {{"ndcg@10": 0.1}}, {{"seconds": 1.0}}) for j in range(5)]
            store.add_trials(batch, run_id="kill", reward_terms=[{{"inner": float(i)}}] * 5)
            store.add_decision(run_id="kill", step=i, action=[i], info={{"pad": "x" * 2000}})
            i += 1
            if i == 20:
                print("running", flush=True)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "running"
        time.sleep(0.3)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    fresh = KnowledgeStore(store.path)
    assert fresh.integrity_check() == "ok"
    trials = fresh.trials(run_id="kill")
    assert len(trials) >= 100 and len(trials) % 5 == 0
    for t in trials:  # every column complete and parseable
        assert t.result.valid == {"ndcg@10": 0.1} and t.result.cost == {"seconds": 1.0} and "inner" in t.reward_terms
    decisions = fresh.decisions(run_id="kill")
    assert len(decisions) in (len(trials) // 5, len(trials) // 5 - 1)  # the kill may fall between the two writes
    assert all(d.info == {"pad": "x" * 2000} for d in decisions)
    fresh.add_trial(result())  # and it is writable again


# ---------------------------------------------------------------------- steps, runs, opening
def test_add_step_links_the_decision_to_its_trial(store: KnowledgeStore) -> None:
    trial_id, decision_id = store.add_step(result(ndcg=0.3), step=0, action=[1, 2], run_id="r", agent="ppo",
                                           env="E", reward_terms={"inner": 1.0}, info={"reward": 1.0})
    (t,), (d,) = store.trials(run_id="r"), store.decisions(run_id="r")
    assert (t.id, d.id, d.trial_id) == (trial_id, decision_id, trial_id)
    assert d.task == "t1" and d.action == [1, 2] and t.reward_terms == {"inner": 1.0}
    assert store.add_decision(run_id="r", step=1, action=None) and store.decisions()[-1].trial_id is None
    # A value that cannot be stored rolls the whole step back: no trial without its decision.
    with pytest.raises(TypeError, match="not JSON serialisable"):
        store.add_step(result(), step=2, action=object(), run_id="r")
    assert store.counts()["trials"] == 1


def test_a_version_1_store_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as c:  # the version-1 schema, with one trial and one decision
        c.executescript("""
            CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);
            CREATE TABLE runs (run_id TEXT PRIMARY KEY, started REAL NOT NULL, meta TEXT NOT NULL DEFAULT '{}');
            CREATE TABLE trials (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, agent TEXT NOT NULL DEFAULT '',
                env TEXT NOT NULL DEFAULT '', task TEXT NOT NULL, config_key TEXT NOT NULL, config TEXT NOT NULL,
                fidelity REAL NOT NULL, seed INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
                valid TEXT NOT NULL DEFAULT '{}', test TEXT NOT NULL DEFAULT '{}', cost TEXT NOT NULL DEFAULT '{}',
                reward_terms TEXT NOT NULL DEFAULT '{}', source TEXT NOT NULL DEFAULT 'live', created REAL NOT NULL);
            CREATE TABLE decisions (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, agent TEXT NOT NULL DEFAULT '',
                env TEXT NOT NULL DEFAULT '', task TEXT NOT NULL DEFAULT '', step INTEGER NOT NULL,
                action TEXT NOT NULL DEFAULT 'null', info TEXT NOT NULL DEFAULT '{}', created REAL NOT NULL);
            INSERT INTO runs VALUES ('old', 1.0, '{"env": "E"}');
            INSERT INTO trials (run_id, task, config_key, config, fidelity, seed, status, valid, created)
                VALUES ('old', 't1', 'k', '{"model": "pop", "params": {}}', 1.0, 0, 'ok', '{"ndcg@10": 0.2}', 2.0);
            INSERT INTO decisions (run_id, step, created) VALUES ('old', 0, 2.0);
        """)
    store = KnowledgeStore.open(path)
    assert store.schema_version == 2 and store.integrity_check() == "ok"
    (run,) = store.runs()
    assert run["run_id"] == "old" and run["status"] == "" and run["finished"] is None and run["trials"] == 1
    assert store.decisions()[0].trial_id is None and store.trials()[0].result.valid == {"ndcg@10": 0.2}
    store.add_step(result(), step=1, action=[0], run_id="old")
    assert store.decisions()[-1].trial_id == store.trials()[-1].id
    assert KnowledgeStore(path).schema_version == 2  # reopening does not upgrade twice


def test_open_gives_one_line_errors(tmp_path: Path) -> None:
    from agenticrs.envs.knowledge import KnowledgeStoreError

    with pytest.raises(KnowledgeStoreError, match=r"is a folder; give the knowledge store a file path"):
        KnowledgeStore.open(tmp_path)
    (tmp_path / "notes.txt").write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(KnowledgeStoreError, match=r"notes.txt: cannot open the knowledge store: file is not a database"):
        KnowledgeStore.open(tmp_path / "notes.txt")
    (tmp_path / "file").write_text("x")
    with pytest.raises(KnowledgeStoreError, match="cannot open the knowledge store"):
        KnowledgeStore.open(tmp_path / "file" / "k.sqlite")  # its folder is a file
    store = KnowledgeStore.open(tmp_path / "new" / "k.sqlite")
    assert KnowledgeStore.open(store) is store


def test_run_records_command_status_and_summary(tmp_path: Path) -> None:
    import gymnasium as gym
    from autotrain_fakes import FakeBackend

    from agenticrs.envs.knowledge import open_run

    path = tmp_path / "k.sqlite"
    with open_run(path, "train", meta={"env": "agenticrs/AutoTrain-v0", "out": tmp_path / "run"}) as run:
        assert json.loads(json.dumps(run.env_kwargs())) == {"store": str(path), "run_id": run.run_id}
        env = gym.make("agenticrs/AutoTrain-v0", backend=FakeBackend(), max_trials=3, **run.env_kwargs())
        env.reset(seed=0)
        for _ in range(3):
            env.step(env.action_space.sample())
        run.summary["best"] = 0.25
    with pytest.raises(RuntimeError, match="boom"):
        with open_run(path, "evolve") as failed:
            raise RuntimeError("boom")
    with pytest.raises(KeyboardInterrupt):
        with open_run(path, "autotune") as stopped:
            raise KeyboardInterrupt
    store = KnowledgeStore(path)
    runs = {r["run_id"]: r for r in store.runs()}
    ok = runs[run.run_id]
    assert ok["status"] == "ok" and ok["finished"] >= ok["started"] and (ok["trials"], ok["decisions"]) == (3, 3)
    assert ok["meta"] == {"command": "train", "env": "agenticrs/AutoTrain-v0", "out": str(tmp_path / "run"),
                          "best": 0.25}
    assert runs[failed.run_id]["status"] == "failed" and runs[failed.run_id]["meta"]["error"] == "RuntimeError: boom"
    assert runs[stopped.run_id]["status"] == "interrupted"
    text = store.show()
    assert f"{run.run_id}" in text and "train ok after" in text and "evolve failed" in text
    with open_run(None, "train") as nothing:  # no --knowledge: nothing recorded
        assert nothing.env_kwargs() == {} and nothing.run_id is None
    with pytest.raises(ValueError, match="status must be one of"):
        store.finish_run(run.run_id, "great")
