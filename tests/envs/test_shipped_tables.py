"""The shipped tables (``envs/tables/{env}__synthetic.jsonl.gz``): complete, recorded, usable.

A table covers every canonical (config, fidelity) pair of its env's default space on every
task of the synthetic suite with 3 seeds, records how it was built, and its best
configuration is not the same on every task (else there would be nothing to learn). Tables
not built yet are skipped by name (the issue tracker says which are missing).
"""

from __future__ import annotations

import gymnasium as gym
import pytest
from autotrain_fakes import SHIPPED_TABLES, table_available

import agenticrs  # noqa: F401
from agenticrs.envs.backends.table import load_table, table_path
from agenticrs.envs.registration import _NullBackend


def shipped(env_id: str):
    if not table_available(env_id):
        pytest.skip(f"{SHIPPED_TABLES[env_id]}__synthetic.jsonl.gz is not built yet")
    return load_table(table_path(SHIPPED_TABLES[env_id], "synthetic"))


@pytest.mark.parametrize("env_id", sorted(SHIPPED_TABLES))
def test_shipped_table_covers_the_space_on_every_task(env_id):
    table = shipped(env_id)
    env = gym.make(env_id, backend=_NullBackend(), disable_env_checker=True).unwrapped
    pairs = env.action_space.enumerate()
    tasks = [t.name for t in env.suite.tasks]
    assert sorted(table.tasks) == sorted(tasks)
    for task in tasks:
        for config, fidelity in pairs:
            repeats = table.lookup(task, config, fidelity)
            assert sorted(r.seed for r in repeats) == [0, 1, 2], (task, config, fidelity)
    results = list(table.results())
    assert len(results) == len(pairs) * len(tasks) * 3
    ok = sum(r.ok for r in results)
    assert ok / len(results) > 0.99
    build = table.header["build"]
    assert build["trials"] == len(results) and build["machine"]["cpu_count"] >= 1 and build["date"]


@pytest.mark.parametrize("env_id", sorted(SHIPPED_TABLES))
def test_best_configuration_differs_across_tasks(env_id):
    from agenticrs.benchmarks.env_best_configs import best_per_task

    table = shipped(env_id)
    full = table.filter(lambda r: r.fidelity == 1.0)
    best = best_per_task(full)  # mean over seeds; exact quality ties go to the cheaper config
    assert len(best) == len(table.tasks)
    assert len({b["key"] for b in best.values()}) > 1, best
