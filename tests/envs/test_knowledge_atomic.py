"""A killed env never leaves a trial without its decision in the KnowledgeStore.

Writers are forked children that step an AutoTrain env with a store as fast as they can;
each is killed with SIGKILL at a random moment. Afterwards the file must be intact and
every trial must have exactly one decision (and every decision its trial).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sys
import time
from pathlib import Path

import gymnasium as gym
import pytest
from autotrain_fakes import FakeBackend

import agenticrs  # noqa: F401  (registers the envs)
from agenticrs.envs.knowledge import KnowledgeStore

KILLS = 16

pytestmark = pytest.mark.skipif(sys.platform == "win32" or not hasattr(os, "fork"), reason="needs fork")


def _writer(env: gym.Env, path: str, run_id: str, ready: "multiprocessing.synchronize.Event") -> None:
    """Child: step the env with a store forever (until killed)."""
    env.unwrapped.store = KnowledgeStore(path)  # its own connection, opened after the fork
    env.unwrapped.run_id = run_id
    env.reset(seed=0)
    step = 0
    while True:
        _, _, term, _, _ = env.step(env.action_space.sample())
        step += 1
        if step == 5:
            ready.set()
        if term:
            env.reset()


def test_kill_9_never_separates_a_trial_from_its_decision(tmp_path: Path) -> None:
    path = str(tmp_path / "k.sqlite")
    KnowledgeStore(path).close()  # the schema exists before the first writer; no connection stays open here
    env = gym.make("agenticrs/AutoTrain-v0", backend=FakeBackend(), max_trials=7)
    env.action_space.seed(0)
    ctx = multiprocessing.get_context("fork")
    rng = random.Random(0)
    for i in range(KILLS):
        ready = ctx.Event()
        child = ctx.Process(target=_writer, args=(env, path, f"run{i}", ready), daemon=True)
        child.start()
        try:
            assert ready.wait(30), "the writer never got going"
            # Random moments: a step is ~1 ms here, so these land anywhere inside a step.
            time.sleep(rng.uniform(0.0, 0.03))
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.join(10)
            if child.is_alive():
                child.kill()
                child.join()
        assert child.exitcode == -signal.SIGKILL

    store = KnowledgeStore(path)
    assert store.integrity_check() == "ok"
    trials, decisions = store.trials(), store.decisions()
    assert len(trials) >= 5 * KILLS
    per_run: dict[str, list[int]] = {}
    for t in trials:
        per_run.setdefault(t.run_id, [0, 0])[0] += 1
    for d in decisions:
        per_run.setdefault(d.run_id, [0, 0])[1] += 1
    orphans = {run: n for run, n in per_run.items() if n[0] != n[1]}
    assert not orphans, f"runs whose trial and decision counts differ (trials, decisions): {orphans}"
    # Each decision names its trial, one to one.
    linked = [d.trial_id for d in decisions]
    assert sorted(linked) == sorted(t.id for t in trials)
    by_id = {t.id: t for t in trials}
    for d in decisions:
        t = by_id[d.trial_id]
        assert (t.run_id, t.result.task, t.env) == (d.run_id, d.task, d.env)
        assert d.info["config"] == t.result.config.to_dict()
    store.add_trial(trials[0].result)  # writable again
