"""``agenticrs autotune`` end to end: live trials in isolated workers, Ctrl-C, resume; one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_helpers import run_cli

DATA = "synthetic:users=80,items=60,seed=3,mean_length=8,max_length=20"


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "agenticrs.cli.main", "autotune", "--data", DATA, *args]


@pytest.mark.slow
def test_autotune_live_interrupted_and_resumed_without_repeating_a_trial(tmp_path):
    """Budget 3, two isolated live workers: Ctrl-C after the first finished trial, then the same command."""
    out = tmp_path / "run"
    args = ["--budget", "3", "--policy", "random", "--workers", "2", "--epochs", "1", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.Popen(_cli(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    first: list[str] = []
    deadline = time.monotonic() + 240
    assert proc.stdout is not None
    for line in proc.stdout:
        first.append(line)
        if line.startswith("[1/3]"):
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group, workers included
            break
        assert time.monotonic() < deadline, "".join(first)
    rest, _ = proc.communicate(timeout=120)
    first_text = "".join(first) + rest
    assert proc.returncode == 130, first_text
    assert "run the same command to resume" in first_text

    from agenticrs.envs.knowledge import KnowledgeStore

    store = KnowledgeStore(out / "knowledge.sqlite")
    done_before = {(t.result.config, t.result.fidelity) for t in store.trials(env="autotune")}
    assert 1 <= len(done_before) <= 2  # the trial in flight at Ctrl-C may have finished first

    second = subprocess.run(_cli(*args), capture_output=True, text=True, env=env, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    rows = store.trials(env="autotune")
    pairs = [(t.result.config, t.result.fidelity) for t in rows]
    assert len(pairs) == 3 and len(set(pairs)) == 3, "a finished trial was trained again"
    assert second.stdout.count("from the journal);") == len(done_before)
    report = json.loads((out / "report.json").read_text())
    assert report["trials"] == 3 and report["resumed_trials"] == len(done_before)
    assert all(r["status"] == "ok" and r["test"] is not None for r in report["leaderboard"])
    assert Path(report["best_checkpoint"]).exists() and "| rank | model |" in (out / "report.md").read_text()


@pytest.mark.parametrize("args, message", [
    (["--budget", "0"], "--budget must be >= 1"),
    (["--budget", "2", "--workers", "0"], "--workers must be >= 1"),
    (["--budget", "2", "--policy", "random", "--data", "csv:/no/such/file.csv"], "cannot read dataset"),
    (["--budget", "2", "--policy", "random", "--data", "synthetic:users=15,items=100,seed=1"], "too small"),
    (["--budget", "2", "--policy", "/no/such/checkpoint"], "neither a search baseline"),
])
def test_autotune_bad_input_is_one_line(capsys, tmp_path, args, message):
    argv = ["autotune", "--data", DATA, "--out", str(tmp_path), *args]
    if args.count("--data") == 1:
        argv = ["autotune", "--out", str(tmp_path), *args]
    rc, out, err = run_cli(capsys, *argv)
    assert rc == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err
