"""On a real local Ray cluster (head + worker node as separate processes): build-table, live trials as Ray
tasks, RLlib training with remote env runners, node loss, and the one-line errors."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from agenticrs.envs.backends import Table
from agenticrs.envs.table_builder import journal_path

CLI = "import sys; from agenticrs.cli.main import main; sys.exit(main(sys.argv[1:]))"
SCOPE = ["--env", "agenticrs/AutoTrain-v0", "--suite", "synthetic", "--tasks", "syn-sparse", "--seeds", "1",
         "--families", "pop", "itemknn", "--no-progress"]
"""A small documented scope: one task, one seed, the 3 closed-form configurations (seconds each)."""


def cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CLI, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def rows(path: Path) -> dict:
    """What must agree between two builds of a table: every trial's status and metrics (not its seconds)."""
    return {(r.task, r.config.key(), r.fidelity, r.seed): (r.status, r.valid, r.test)
            for r in Table.load(path).results()}


def local_build(out: Path, families: tuple[str, ...] = ("pop", "itemknn"), fidelities=None, limit=None) -> None:
    """The same scope built in this process (the reference a cluster build must equal)."""
    from agenticrs.cli.build_table import select_pairs
    from agenticrs.cli.envs import env_action_space
    from agenticrs.envs.backends import LiveBackend
    from agenticrs.envs.suites import get_suite
    from agenticrs.envs.table_builder import build_table

    pairs = select_pairs(env_action_space("agenticrs/AutoTrain-v0"), list(families), fidelities, limit)
    build_table(pairs, [get_suite("synthetic").task("syn-sparse")], [0], out, workers=1, progress=False,
                backend=lambda: LiveBackend(isolate=False, threads=1), task_meta=None)


def test_wrong_address_is_one_line_in_seconds(tmp_path):
    start = time.monotonic()
    proc = cli("build-table", *SCOPE, "--out", tmp_path / "t.jsonl.gz", "--ray-address", "127.0.0.1:1", timeout=60)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "could not connect to the Ray cluster at '127.0.0.1:1'" in line and "ray start --head" in line
    assert time.monotonic() - start < 30 and not (tmp_path / "t.jsonl.gz").exists()


def test_build_table_on_cluster_equals_local_build(ray_cluster, tmp_path):
    on_cluster, local = tmp_path / "cluster.jsonl.gz", tmp_path / "local.jsonl.gz"
    proc = cli("build-table", *SCOPE, "--out", on_cluster, "--ray-address", ray_cluster.address, "--workers", "2",
               env=ray_cluster.env)
    assert proc.returncode == 0, proc.stderr
    assert f"Ray cluster at {ray_cluster.address}: 2 nodes, 2 CPUs" in proc.stdout, proc.stdout
    local_build(local)
    a, b = rows(on_cluster), rows(local)
    assert len(a) == 3 and a == b and all(status == "ok" for status, _, _ in a.values())
    assert Table.load(on_cluster).header["build"]["ray_address"] == ray_cluster.address


def test_missing_package_on_a_node_is_one_line(ray_cluster):
    code = ("import sys; from agenticrs.policies import ray_util as r; r.init_ray(sys.argv[1]);\n"
            "try: r.check_cluster_has_agenticrs('agenticrs_not_installed')\n"
            "except r.RayStartError as e: print(e); sys.exit(2)")
    proc = subprocess.run([sys.executable, "-c", code, ray_cluster.address], capture_output=True, text=True,
                          timeout=120, env=ray_cluster.env)
    assert proc.returncode == 2
    (line,) = proc.stdout.strip().splitlines()
    assert "cannot import agenticrs_not_installed" in line and "install it on every node" in line


@pytest.mark.slow
def test_env_episode_trials_run_as_ray_tasks(ray_cluster, tmp_path):
    """An AutoTrain episode on the live backend with use_ray: each step's trial is a Ray task on the cluster."""
    code = r"""
import sys, gymnasium as gym, ray
import agenticrs
from agenticrs.envs.core import TrialConfig
env = gym.make("agenticrs/AutoTrain-v0", backend="live", suite="synthetic", split="test", max_trials=2,
               backend_kwargs={"use_ray": True, "ray_address": sys.argv[1], "timeout_s": 120})
u = env.unwrapped
env.reset(seed=0, options={"task": "syn-mixed"})
for config in (TrialConfig.make("pop"), TrialConfig.make("itemknn", max_len=20)):
    _, _, _, _, info = env.step(u.action_space.encode(config, 1.0))
    assert info["result"].status == "ok", info["result"].reason
print("trials", u.backend.stats["trained"], "on", ray.get_runtime_context().gcs_address)
"""
    proc = subprocess.run([sys.executable, "-c", code, ray_cluster.address], capture_output=True, text=True,
                          timeout=300, env=ray_cluster.env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "trials 2 on" in proc.stdout


@pytest.mark.slow
def test_rllib_train_with_remote_env_runners_on_cluster(ray_cluster, tmp_path):
    hp = '{"train_batch_size_per_learner": 64, "minibatch_size": 32, "num_epochs": 1, "fcnet_hiddens": [16]}'
    proc = cli("train", "--framework", "rllib", "--ray-address", ray_cluster.address, "--num-env-runners", "2",
               "--timesteps", "128", "--checkpoint-every", "64", "--hparams", hp, "--logdir", tmp_path,
               "--no-progress", env=ray_cluster.env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = tmp_path.iterdir()
    from agenticrs.policies.training import load_policy, read_meta

    assert read_meta(run_dir)["timesteps"] >= 128
    policy = load_policy(run_dir)  # evaluates without Ray
    import gymnasium as gym

    from agenticrs.policies.episode import run_episode

    env = gym.make("agenticrs/AutoTrain-v0", split="test", obs_mode=policy.obs_mode, max_trials=5)
    trace = run_episode(env, policy, seed=0, task="syn-mixed")
    assert len(trace.trials) == 5 and 0.0 <= trace.final_regret <= 1.0


@pytest.mark.slow
def test_build_survives_losing_the_worker_node(fresh_cluster, tmp_path):
    """kill -9 the worker node's raylet mid-build: the build finishes on the head, no duplicate or torn row,
    and the table equals an uninterrupted build's."""
    scope = [*SCOPE[:-4], "--families", "pop", "itemknn", "bprmf", "--fidelities", "0.25", "1.0", "--limit", "6",
             "--no-progress"]
    out = tmp_path / "cluster.jsonl.gz"
    proc = subprocess.Popen([sys.executable, "-c", CLI, "build-table", *scope, "--out", str(out), "--ray-address",
                             fresh_cluster.address, "--workers", "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=fresh_cluster.env)
    journal = journal_path(out)
    deadline = time.monotonic() + 300
    while not (journal.exists() and journal.read_text().count('"kind": "result"') >= 1):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    (raylet,) = fresh_cluster.worker_raylets()
    import os
    import signal

    os.kill(raylet, signal.SIGKILL)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    reference = tmp_path / "reference.jsonl.gz"
    local_build(reference, ("pop", "itemknn", "bprmf"), [0.25, 1.0], 6)
    assert rows(out) == rows(reference) and len(rows(out)) == 6
    assert sum(1 for _ in Table.load(out).results()) == 6  # one row per trial: no duplicates


@pytest.mark.slow
def test_rllib_agenticrs_multi_agent_train_on_cluster(ray_cluster, tmp_path):
    """MA-PPO on AgenticRS-v0 with 2 env runners on the cluster: 2 iterations of 40 agent steps, a checkpoint
    after each, then ``agenticrs evaluate`` on the unseen test tasks (loads the modules without Ray)."""
    import json

    hp = '{"train_batch_size_per_learner": 40, "minibatch_size": 20, "num_epochs": 1, "fcnet_hiddens": [16]}'
    logdir = tmp_path / "runs"
    proc = cli("train", "--env", "agenticrs/AgenticRS-v0", "--framework", "rllib", "--ray-address",
               ray_cluster.address, "--num-env-runners", "2", "--timesteps", "80", "--checkpoint-every", "40",
               "--hparams", hp, "--env-kwargs", '{"max_rounds": 4, "coupling": "lagrangian"}', "--logdir", logdir,
               "--no-progress", env=ray_cluster.env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = [p for p in logdir.iterdir() if p.is_dir()]
    from agenticrs.policies.training import read_meta

    meta = read_meta(run_dir)
    assert meta["multi_agent"] and meta["env_id"] == "agenticrs/AgenticRS-v0" and meta["timesteps"] >= 80
    report_json = tmp_path / "report.json"
    proc = cli("evaluate", "--checkpoint", run_dir, "--episodes", "1", "--json", report_json, env=ray_cluster.env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(report_json.read_text())
    assert report["multi_agent"] and set(report["tasks"]) == {"syn-mixed", "syn-textual"}
    r = report["tasks"]["syn-mixed"]  # one episode: one final joint pipeline per task
    assert r["rounds"] == 4 and len(r["final_pipelines"]) == 1 and 0.0 <= r["regret"][0] <= 2.0
