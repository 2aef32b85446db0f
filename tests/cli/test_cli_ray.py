"""Ray's start-up noise is not shown to CLI users; a failed Ray start is one line (issue 31)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from cli_helpers import run_cli

from agenticrs.policies import ray_util

NOISE = ("Token authentication is enabled", "new API stack", "DeprecationWarning", "Install gputil")


def test_quiet_ray_logging_hides_start_up_warnings():
    ray_util.quiet_ray_logging()
    for name in ("ray._private.authentication.authentication_token_setup", "ray.rllib.algorithms.algorithm_config",
                 "ray._common.deprecation", "ray.tune.utils.util"):
        logger = logging.getLogger(name)
        assert not logger.isEnabledFor(logging.WARNING) and logger.isEnabledFor(logging.ERROR), name


def _failing_init(**kwargs):
    raise ConnectionError("Could not find any running Ray instance.\nPlease specify the one to connect to.")


def test_failed_start_is_one_line(monkeypatch):
    import ray

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", _failing_init)
    monkeypatch.setattr(ray_util, "_check_reachable", lambda address, timeout_s: None)  # ray.init itself fails
    with pytest.raises(ray_util.RayStartError) as e:
        ray_util.init_ray("10.0.0.1:6379")
    msg = str(e.value)
    assert "\n" not in msg and "'10.0.0.1:6379'" in msg and "Could not find any running Ray instance" in msg


def test_train_reports_a_failed_ray_start_in_one_line(monkeypatch, tmp_path, capsys):
    import ray

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", _failing_init)
    rc, _, err = run_cli(capsys, "train", "--framework", "rllib", "--timesteps", "8", "--backend", "cli-fake",
                         "--suite", "cli-tiny", "--logdir", tmp_path, "--no-progress")
    assert rc == 2 and "Traceback" not in err
    (line,) = [x for x in err.splitlines() if "error:" in x]
    assert line.startswith("agenticrs train: error: could not start a local Ray instance: ConnectionError")
    assert not any(tmp_path.iterdir())  # no half-made run folder


@pytest.mark.slow
def test_rllib_train_shows_no_ray_noise(tmp_path):
    """The console script with RLlib, as a user runs it (~20 s: a real local Ray start)."""
    code = "import sys; from agenticrs.cli.main import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", code, "train", "--framework", "rllib", "--timesteps", "16",
                           "--logdir", str(tmp_path), "--no-progress",
                           "--hparams", '{"train_batch_size_per_learner": 64, "minibatch_size": 32, "num_epochs": 1}'],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for noise in NOISE:
        assert noise not in proc.stderr, proc.stderr
    assert "--timesteps 16 becomes about 64" in proc.stderr
