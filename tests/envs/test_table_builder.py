"""The table builder: complete tables, resume after interruption or kill, torn journal lines, live end to end."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from chain_data import chain_dataset

from agenticrs.envs.backends import LiveBackend, Table, TableBackend
from agenticrs.envs.core import Task, TrialConfig, TrialResult
from agenticrs.envs.table_builder import build_table, journal_path, read_journal

TASKS = [Task("t1", "synthetic:users=50"), Task("t2", "synthetic:users=60")]
CONFIGS = [(TrialConfig.make("sasrec", embedding_dim=d), f) for d in (16, 32) for f in (0.5, 1.0)]
SEEDS = (0, 1, 2)
TOTAL = len(TASKS) * len(CONFIGS) * len(SEEDS)  # 24


class FakeBackend:
    """Deterministic results; counts calls; optionally raises after ``fail_after`` trials."""

    kind = "fake"

    def __init__(self, fail_after: int | None = None):
        self.calls: list[tuple[str, str, float, int]] = []
        self.fail_after = fail_after
        self.lock = threading.Lock()

    def evaluate(self, task: Task, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
        with self.lock:
            if self.fail_after is not None and len(self.calls) >= self.fail_after:
                raise RuntimeError("interrupted")
            self.calls.append((task.name, config.key(), fidelity, seed))
        v = config.param_dict["embedding_dim"] / 100 + fidelity / 10 + seed / 1000
        return TrialResult(config, task.name, fidelity, seed, "ok", {"ndcg@10": v}, {"ndcg@10": v},
                           {"seconds": 1.0 + seed})


def build(out: Path, backend, **kw):
    return build_table(CONFIGS, TASKS, SEEDS, out, workers=kw.pop("workers", 1), backend=backend, progress=False,
                       task_meta=None, env="autotrain", suite="test", **kw)


def check_complete(out: Path) -> Table:
    table = Table.load(out)
    assert len(table) == len(TASKS) * len(CONFIGS) and sum(1 for _ in table.results()) == TOTAL
    assert all(len(rs) == 3 for rs in table.entries.values())
    assert not journal_path(out).exists()
    return table


def test_build_complete_table_with_metadata(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl.gz"
    fake = FakeBackend()
    summary = build(out, fake, workers=2)
    assert summary.ran == TOTAL and summary.skipped == 0 and len(set(fake.calls)) == TOTAL
    table = check_complete(out)
    h = table.header
    assert h["env"] == "autotrain" and h["suite"] == "test" and h["seeds"] == [0, 1, 2] and h["configs"] == 2
    assert h["fidelities"] == [0.5, 1.0] and set(h["tasks"]) == {"t1", "t2"}
    b = h["build"]
    assert b["workers"] == 2 and b["trials"] == TOTAL and b["trial_seconds"] == pytest.approx(8 * (1 + 2 + 3))
    assert b["machine"]["cpu_count"] >= 1 and b["wall_seconds"] >= 0 and b["date"].startswith("20")
    # The table backend serves exactly what the backend produced.
    r = TableBackend(out).evaluate(TASKS[0], CONFIGS[0][0], 0.5, seed=7)
    assert r.valid["ndcg@10"] == pytest.approx(0.16 + 0.05 + r.seed / 1000)
    # A rerun of a finished build runs nothing.
    again = FakeBackend()
    assert build(out, again).ran == 0 and again.calls == []
    check_complete(out)


def test_interrupted_build_resumes_without_rerunning(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl.gz"
    with pytest.raises(RuntimeError, match="interrupted"):
        build(out, FakeBackend(fail_after=10))
    assert not out.exists()
    done, _ = read_journal(journal_path(out))
    assert len(done) == 10
    resumed = FakeBackend()
    summary = build(out, resumed)
    assert summary.skipped == 10 and summary.ran == TOTAL - 10
    assert set(resumed.calls).isdisjoint({(r.task, r.config.key(), r.fidelity, r.seed) for r in done})
    table = check_complete(out)
    assert table.header["build"]["sessions"] == 2


def test_torn_last_journal_line_is_ignored_and_redone(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl.gz"
    with pytest.raises(RuntimeError):
        build(out, FakeBackend(fail_after=6))
    journal = journal_path(out)
    data = journal.read_bytes()
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    journal.write_bytes(data[: last_start + (len(data) - last_start) // 2])  # a write cut in half
    torn = json.loads(data[last_start:])["result"]
    resumed = FakeBackend()
    assert build(out, resumed).ran == TOTAL - 5
    assert (torn["task"], TrialConfig.from_dict(torn["config"]).key(), torn["fidelity"], torn["seed"]) in resumed.calls
    check_complete(out)


def test_corrupt_middle_line_names_file_and_line(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl.gz"
    with pytest.raises(RuntimeError):
        build(out, FakeBackend(fail_after=4))
    journal = journal_path(out)
    lines = journal.read_text().splitlines()
    lines[2] = lines[2][:20]
    journal.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"t.jsonl.gz.partial.jsonl:3: corrupt journal line"):
        build(out, FakeBackend())


def test_killed_build_process_resumes(tmp_path: Path) -> None:
    # A separate process builds with a slow backend and is SIGKILLed mid-build.
    out = tmp_path / "t.jsonl.gz"
    code = textwrap.dedent(f"""
        import time
        from agenticrs.envs.core import Task, TrialConfig, TrialResult
        from agenticrs.envs.table_builder import build_table

        class Slow:
            kind = "slow"
            def evaluate(self, task, config, fidelity, seed):
                time.sleep(0.05)
                return TrialResult(config, task.name, fidelity, seed, "ok", {{"ndcg@10": 0.1}})

        configs = [(TrialConfig.make("sasrec", embedding_dim=d), f) for d in (16, 32) for f in (0.5, 1.0)]
        tasks = [Task("t1", "synthetic:users=50"), Task("t2", "synthetic:users=60")]
        build_table(configs, tasks, (0, 1, 2), {str(out)!r}, workers=2, backend=Slow, progress=False,
                    task_meta=None)
    """)
    child = subprocess.Popen([sys.executable, "-c", code])
    journal = journal_path(out)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and (not journal.exists() or journal.read_text().count('"kind": "result"') < 5):
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    assert not out.exists()
    done, _ = read_journal(journal)
    assert 5 <= len(done) < TOTAL
    resumed = FakeBackend()
    summary = build(out, resumed)
    assert summary.ran == TOTAL - len(done) == len(resumed.calls)
    check_complete(out)


def test_extending_a_table_runs_only_new_trials(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl.gz"
    build_table(CONFIGS, TASKS, (0, 1), out, workers=1, backend=FakeBackend(), progress=False, task_meta=None)
    more = FakeBackend()
    summary = build(out, more)
    assert summary.ran == TOTAL // 3 and {c[3] for c in more.calls} == {2}
    check_complete(out)


def test_live_build_end_to_end(tmp_path: Path) -> None:
    chain = chain_dataset(n_users=60, n_items=20, length=6)
    task = Task("chain", "mem:chain")
    live = LiveBackend(isolate=False, datasets={"mem:chain": chain}, full_epochs=2)
    configs = [(TrialConfig.make("pop"), 1.0), (TrialConfig.make("bprmf", embedding_dim=8, epochs=2), 0.5),
               (TrialConfig.make("pop", bad_field=1), 1.0)]
    out = tmp_path / "live.jsonl.gz"
    summary = build_table(configs, [task], (0, 1, 2), out, workers=2, backend=live, progress=False,
                          task_meta=lambda t: chain.stats())
    assert summary.ran == 9 and summary.failed == 3
    table = Table.load(out)
    assert table.task_meta("chain")["users"] == 60
    backend = TableBackend(out)
    r = backend.evaluate(task, TrialConfig.make("bprmf", embedding_dim=8, epochs=2), 0.5, 0)
    assert r.ok and r.cost["epochs"] == 1 and r.cost["seconds"] > 0
    direct = live.evaluate(task, TrialConfig.make("bprmf", embedding_dim=8, epochs=2), 0.5, r.seed)
    assert direct.valid == r.valid  # the table holds what a live run gives
    bad = backend.evaluate(task, TrialConfig.make("pop", bad_field=1), 1.0, 0)
    assert bad.status == "failed" and "bad_field" in bad.reason
