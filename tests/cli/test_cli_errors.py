"""One-line errors, no traceback (issue 31): what a user can get wrong is named in one line, exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import run_cli

TINY_PPO = '{"n_steps": 8, "batch_size": 8, "n_epochs": 1, "net_arch": [8]}'


def _one_line_error(rc: int, err: str, *needles: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2, err
    assert "Traceback" not in err, err
    errors = [line for line in lines if ": error: " in line]
    assert len(errors) == 1, err
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def autotrain_run(tmp_path_factory) -> Path:
    """A tiny SB3 run on AutoTrain (cli-fake backend, cli-tiny suite): ~1 s."""
    from agenticrs.cli.main import main

    logdir = tmp_path_factory.mktemp("runs")
    assert main(["train", "--framework", "sb3", "--timesteps", "8", "--backend", "cli-fake", "--suite", "cli-tiny",
                 "--logdir", str(logdir), "--hparams", TINY_PPO, "--no-progress"]) == 0
    (run_dir,) = logdir.iterdir()
    return run_dir


@pytest.mark.parametrize("command", ["train", "bench evolution --out OUT", "evaluate --checkpoint CKPT"])
def test_unknown_env_names_the_closest(command, tmp_path, capsys, autotrain_run):
    argv = [a.replace("OUT", str(tmp_path)).replace("CKPT", str(autotrain_run)) for a in command.split()]
    rc, _, err = run_cli(capsys, *argv, "--env", "agenticrs/AutoTrian-v0")
    line = _one_line_error(rc, err, "unknown env 'agenticrs/AutoTrian-v0'", "did you mean 'agenticrs/AutoTrain-v0'")
    assert "agenticrs/Compose-v0" in line  # the registered ids are listed


@pytest.mark.parametrize("argv,needle", [
    (["train", "--timesteps", "-5"], "--timesteps must be >= 1, got -5"),
    (["train", "--timesteps", "0"], "--timesteps must be >= 1, got 0"),
    (["evolve", "--timesteps", "-1"], "--timesteps must be >= 1, got -1"),
    (["train", "--max-trials", "0"], "--max-trials must be >= 1"),
    (["train", "--env-kwargs", "{not json"], "--env-kwargs is not valid JSON"),
    (["train", "--hparams", "[1, 2]"], "--hparams must be a JSON object"),
    (["train", "--framework", "rllib", "--algo", "maskable_ppo"], "maskable_ppo"),
    (["train", "--suite", "no-such-suite", "--timesteps", "8"], "no-such-suite"),
])
def test_bad_flags_are_one_line(argv, needle, capsys):
    rc, _, err = run_cli(capsys, *argv)
    _one_line_error(rc, err, needle)


def test_checkpoint_that_does_not_fit_the_env_is_refused_up_front(autotrain_run, capsys):
    rc, out, err = run_cli(capsys, "evaluate", "--checkpoint", autotrain_run, "--env", "agenticrs/Compose-v0",
                           "--tasks", "train", "--episodes", "1")
    _one_line_error(rc, err, "does not fit agenticrs/Compose-v0", "trained on agenticrs/AutoTrain-v0",
                    "observation space Box[38]")
    assert out == ""  # no episode ran


def test_bench_checks_the_checkpoint_too(autotrain_run, tmp_path, capsys):
    rc, _, err = run_cli(capsys, "bench", "evolution", "--env", "agenticrs/Compose-v0", "--policies", "ppo,random",
                         "--backend", "cli-fake", "--suite", "cli-tiny", "--split", "train", "--checkpoint", autotrain_run, "--seeds", "1", "--budget", "2", "--out", tmp_path / "b",
                         "--no-progress")
    _one_line_error(rc, err, "does not fit agenticrs/Compose-v0")
    assert not (tmp_path / "b").exists()


def test_ppo_without_checkpoint(tmp_path, capsys):
    rc, _, err = run_cli(capsys, "bench", "evolution", "--policies", "ppo,random", "--seeds", "1", "--budget", "2",
                         "--out", tmp_path, "--no-progress")
    _one_line_error(rc, err, "policy 'ppo' needs --checkpoint")


def test_missing_checkpoint_folder(tmp_path, capsys):
    rc, _, err = run_cli(capsys, "evaluate", "--checkpoint", tmp_path / "nope")
    _one_line_error(rc, err, "no agenticrs checkpoint at")


def test_default_policy_list_runs_on_an_env_without_fidelity(tmp_path, capsys):
    """``halving`` needs a fidelity; Compose has none: it is left out with a note, the rest runs."""
    out = tmp_path / "bench"
    rc, stdout, err = run_cli(capsys, "bench", "evolution", "--env", "agenticrs/Compose-v0", "--seeds", "1",
                              "--budget", "3", "--out", out, "--no-progress")
    assert rc == 0, err
    assert "note: halving left out" in err and "fidelity" in err
    assert "note: ppo left out: it needs --checkpoint" in err
    policies = json.loads((out / "evolution.json").read_text())["summary"]["policies"]
    from agenticrs.benchmarks.evolution import DEFAULT_POLICIES

    assert policies == [p for p in DEFAULT_POLICIES.split(",") if p not in ("ppo", "halving")]


def test_subprocess_shows_no_traceback(tmp_path):
    """The console script itself: exit status 2 and one stderr line."""
    proc = subprocess.run([sys.executable, "-c", "import sys; from agenticrs.cli.main import main; "
                           "sys.exit(main(sys.argv[1:]))", "train", "--env", "nope/Nope-v0"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "unknown env 'nope/Nope-v0'" in proc.stderr


def test_evolve_help_states_the_measured_time(capsys):
    """``evolve --help`` said "~10 min" for a job that takes about 45 s on a 2-core machine."""
    rc, out, _ = run_cli(capsys, "--help")
    assert rc == 0
    assert "10 min" not in out and "about 45 s on a 2-core machine" in " ".join(out.split())
