"""Shared pieces of the CLI tests: a tiny task suite, a deterministic backend, a CLI runner.

Importing this module registers the suite ``cli-tiny`` (one small synthetic task) and the
backend kind ``cli-fake``, so a subprocess that imports it can run the CLI on them too.
"""

from __future__ import annotations

import threading
import time
import zlib
from typing import Any

import pytest

from agenticrs.cli.main import main
from agenticrs.envs.backends import register_backend
from agenticrs.envs.core import Task, TaskSuite, TrialConfig, TrialResult
from agenticrs.envs.suites import register_suite

ENV = "agenticrs/AutoTrain-v0"
TINY = TaskSuite("cli-tiny", train=(Task("tiny", "synthetic:users=80,items=60,seed=3,mean_length=8,max_length=20", max_trials=3),),
                 test=())
register_suite(TINY, overwrite=True)


class CliFakeBackend:
    """``kind="cli-fake"``: a pure function of the trial, optionally slow; counts calls per process."""

    kind = "cli-fake"
    calls: list[tuple[str, str, float, int]] = []
    lock = threading.Lock()

    def __init__(self, sleep: float = 0.0):
        self.sleep = float(sleep)

    def evaluate(self, task: Task, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
        with self.lock:
            self.calls.append((task.name, config.key(), float(fidelity), int(seed)))
        time.sleep(self.sleep)
        u = zlib.crc32(f"{task.name}|{config.key()}|{fidelity}|{seed}".encode()) / 2**32
        return TrialResult(config, task.name, fidelity, seed, "ok", {"ndcg@10": 0.05 + 0.1 * u},
                           {"ndcg@10": 0.04 + 0.1 * u}, {"seconds": 1.0 + fidelity})


register_backend("cli-fake", overwrite=True)(CliFakeBackend)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    """``agenticrs ARGV`` in process: ``(exit status, stdout, stderr)``."""
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:  # argparse errors
        rc = int(e.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err
