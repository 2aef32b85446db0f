"""``agenticrs build-table``: a live build end to end, Ctrl-C and resume, bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import ENV, TINY, CliFakeBackend, run_cli

from agenticrs.envs.backends import Table, TableBackend
from agenticrs.envs.core import TrialConfig
from agenticrs.envs.spaces import AutoTrainSpace
from agenticrs.envs.table_builder import journal_path, read_journal

HERE = Path(__file__).resolve().parent


def test_live_build_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tiny.jsonl.gz"
    rc, stdout, stderr = run_cli(capsys, "build-table", "--env", ENV, "--suite", "cli-tiny", "--out", out,
                                 "--families", "pop", "--seeds", "2", "--workers", "1", "--timeout", "120")
    assert rc == 0, stderr
    assert "1 (config, fidelity) pairs x 1 tasks x 2 seeds = 2 trials, live backend" in stdout
    assert "2 trials (2 run now, 0 already done; 0 failed, 0 timed out)" in stdout
    assert "build tiny.jsonl.gz" in stderr  # the progress bar
    table = Table.load(out)
    assert not journal_path(out).exists()
    (repeats,) = table.entries.values()
    assert [r.seed for r in repeats] == [0, 1] and all(r.ok and r.source == "table" for r in repeats)
    assert repeats[0].cost["seconds"] > 0 and 0 < repeats[0].valid["ndcg@10"] <= 1
    h = table.header
    assert (h["env"], h["env_id"], h["suite"], h["seeds"]) == ("autotrain", ENV, "cli-tiny", [0, 1])
    assert h["space"]["canonical_pairs"] == AutoTrainSpace().n_pairs and h["tasks"]["tiny"]["meta"]["users"] == 80
    assert h["build"]["wall_seconds"] > 0 and h["build"]["trials"] == 2
    got = TableBackend(out).evaluate(TINY.train[0], TrialConfig.make("pop"), 1.0, seed=5)
    assert got.valid == repeats[got.seed].valid


def test_ctrl_c_then_rerun_resumes_without_rerunning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.jsonl.gz"
    journal = journal_path(out)
    families = ("pop", "itemknn", "bprmf")
    n = 2 * sum(1 for c, f in AutoTrainSpace().enumerate() if c.model in families and f == 1.0)  # 2 seeds
    assert n >= 10  # slow fake trials in a real CLI process: Ctrl-C lands mid-build
    argv = ["build-table", "--env", ENV, "--suite", "cli-tiny", "--out", str(out), "--families", *families,
            "--fidelities", "1.0", "--seeds", "2", "--workers", "2", "--backend", "cli-fake", "--no-progress"]
    # A shell that started the test run in the background (``cmd &``) passes SIGINT on as *ignored*;
    # restore Python's handler so the signal below acts like a Ctrl-C.
    script = ("import signal, sys, cli_helpers; signal.signal(signal.SIGINT, signal.default_int_handler); "
              "from agenticrs.cli.main import main; sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", script, *argv, "--backend-arg", "sleep=0.4"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if journal.exists() and journal.read_text().count('"kind": "result"') >= 3:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted: finished trials are kept in" in stderr and "rerun the same command" in stderr
    assert not out.exists()
    done, _ = read_journal(journal)
    assert 3 <= len(done) < n

    CliFakeBackend.calls.clear()
    rc, stdout, stderr = run_cli(capsys, *argv)
    assert rc == 0, stderr
    assert f"{n} trials ({n - len(done)} run now, {len(done)} already done" in stdout
    assert len(CliFakeBackend.calls) == n - len(done)
    assert set(CliFakeBackend.calls).isdisjoint({(r.task, r.config.key(), r.fidelity, r.seed) for r in done})
    table = Table.load(out)
    assert len(table) == n // 2 and all(len(rs) == 2 for rs in table.entries.values())
    assert table.header["build"]["sessions"] == 2 and not journal.exists()


@pytest.mark.parametrize("args, message", [
    (["--env", "nope/Nothing-v0"], "unknown env 'nope/Nothing-v0'; registered: "),
    (["--suite", "no-suite"], "unknown task suite 'no-suite'"),
    (["--tasks", "missing"], "has no task 'missing'"),
    (["--fidelities", "0.3"], "--fidelities [0.3] not in the env's action space"),
    (["--families", "gpt"], "--families ['gpt'] not in the env's action space"),
    (["--backend", "no-kind"], "unknown backend kind 'no-kind'"),
    (["--backend-arg", "sleep"], "--backend-arg expects KEY=VALUE"),
    (["--seeds", "0"], "--seeds and --workers must be >= 1"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       args: list[str], message: str) -> None:
    out = tmp_path / "t.jsonl.gz"
    base = {"--env": ENV, "--suite": "cli-tiny", "--out": str(out), "--backend": "cli-fake"}
    base.update({args[0]: None})
    argv = [x for k, v in base.items() if v is not None for x in (k, v)] + args
    rc, _, stderr = run_cli(capsys, "build-table", *argv)
    assert rc == 2 and message in stderr
    assert list(tmp_path.iterdir()) == []
