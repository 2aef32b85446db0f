"""Short SB3 and RLlib runs: train, checkpoint, resume, Ctrl-C, reload, evaluate."""

from __future__ import annotations

import json
import math

import gymnasium as gym
import numpy as np
import pytest

import agenticrs  # noqa: F401
from agenticrs.policies.episode import run_episode
from agenticrs.policies.training import META_FILE, TrainSpec, find_checkpoint, load_policy, read_meta, train

SB3_TINY = {"n_steps": 32, "batch_size": 16, "n_epochs": 1, "net_arch": [16]}
RLLIB_TINY = {"train_batch_size_per_learner": 64, "minibatch_size": 32, "num_epochs": 1, "fcnet_hiddens": [16]}


def _evaluate(policy, table_kwargs, seed=0):
    env = gym.make("agenticrs/AutoTrain-v0", **table_kwargs, split="test", obs_mode=policy.obs_mode, max_trials=5)
    trace = run_episode(env, policy, seed=seed, task="syn-mixed")
    env.close()
    assert len(trace.trials) == 5 and 0.0 <= trace.final_regret <= 1.0
    return trace


def _event_tags(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = set()
    for f in run_dir.glob("events.out.tfevents.*"):
        acc = EventAccumulator(str(f))
        acc.Reload()
        tags |= set(acc.Tags()["scalars"])
    return tags


@pytest.mark.parametrize("algo", ["ppo", "maskable_ppo"])
def test_sb3_train_resume_reload_evaluate(tmp_path, table_kwargs, algo):
    spec = TrainSpec(env_kwargs=table_kwargs, framework="sb3", algo=algo, timesteps=64, checkpoint_every=32,
                     hparams=SB3_TINY, seed=1)
    result = train(spec, tmp_path, progress=False)
    run_dir = result.run_dir
    assert run_dir.name.startswith(f"agenticrs-AutoTrain-v0__sb3-{algo}__1__")
    assert read_meta(run_dir)["timesteps"] == 64
    tags = _event_tags(run_dir)
    assert {"env/best_ndcg", "env/regret", "env/trial_cost", "rollout/ep_rew_mean"} <= tags, tags

    resumed = train(TrainSpec(env_kwargs=table_kwargs, framework="sb3", algo=algo, timesteps=96), resume=run_dir,
                    progress=False)
    assert resumed.run_dir == run_dir and resumed.timesteps == 96 and read_meta(run_dir)["timesteps"] == 96

    policy = load_policy(run_dir)
    a, b = _evaluate(policy, table_kwargs, seed=3), _evaluate(policy, table_kwargs, seed=3)
    assert a.regrets == b.regrets  # seeded sampling: the same episode twice


def test_sb3_ctrl_c_leaves_a_usable_checkpoint(tmp_path, table_kwargs, monkeypatch):
    from agenticrs.policies import wrappers

    calls = {"n": 0}
    real_step = wrappers.EvolutionMetrics.step

    def interrupting_step(self, action):
        calls["n"] += 1
        if calls["n"] == 50:
            raise KeyboardInterrupt
        return real_step(self, action)

    monkeypatch.setattr(wrappers.EvolutionMetrics, "step", interrupting_step)
    spec = TrainSpec(env_kwargs=table_kwargs, framework="sb3", timesteps=128, checkpoint_every=32, hparams=SB3_TINY)
    with pytest.raises(KeyboardInterrupt):
        train(spec, tmp_path, progress=False)
    (run_dir,) = tmp_path.iterdir()
    ckpt = find_checkpoint(run_dir)
    assert (ckpt / META_FILE).exists() and read_meta(run_dir)["timesteps"] >= 32
    monkeypatch.setattr(wrappers.EvolutionMetrics, "step", real_step)
    done = train(TrainSpec(env_kwargs=table_kwargs, framework="sb3", timesteps=128), resume=run_dir, progress=False)
    assert done.timesteps >= 128  # SB3 completes whole rollouts of n_steps
    _evaluate(load_policy(run_dir), table_kwargs)


def test_bad_specs_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="maskable_ppo"):
        TrainSpec(framework="rllib", algo="maskable_ppo")
    with pytest.raises(ValueError, match="JSON-able"):
        TrainSpec(env_kwargs={"backend": object()})
    with pytest.raises(FileNotFoundError, match="run.json"):
        train(TrainSpec(), tmp_path, resume=tmp_path)
    with pytest.raises(FileNotFoundError, match="checkpoint"):
        load_policy(tmp_path)


def test_rllib_masking_train_resume_reload_evaluate(tmp_path, table_kwargs):
    """0 env runners: 2 iterations, resume for 1 more, reload the RLModule without Ray, evaluate."""
    ray = pytest.importorskip("ray")
    from agenticrs.policies.rllib_adapter import init_ray

    assert init_ray(None, num_cpus=2)  # one Ray instance for both runs (train() leaves it running)
    try:
        _rllib_runs(tmp_path, table_kwargs)
    finally:
        ray.shutdown()


def _rllib_runs(tmp_path, table_kwargs):
    spec = TrainSpec(env_kwargs=table_kwargs, framework="rllib", timesteps=128, checkpoint_every=64,
                     hparams=RLLIB_TINY, num_env_runners=0)
    result = train(spec, tmp_path, progress=False)
    assert result.timesteps >= 128 and math.isfinite(result.metrics["env/regret"])
    meta = json.loads((result.checkpoint / META_FILE).read_text())
    assert meta["framework"] == "rllib" and meta["obs_mode"] == "dict"
    assert {"env/best_ndcg", "env/regret", "env/trial_cost", "train/policy_loss"} <= _event_tags(result.run_dir)

    resumed = train(TrainSpec(env_kwargs=table_kwargs, framework="rllib", timesteps=192), resume=result.run_dir,
                    progress=False)
    assert resumed.timesteps >= 192

    policy = load_policy(result.run_dir)
    env = gym.make("agenticrs/AutoTrain-v0", **table_kwargs, split="test", obs_mode="dict")
    obs, _ = env.reset(seed=0)
    # The masking module never samples a choice the env masks (forced here: mask every lr choice but one).
    mask = obs["action_mask"].copy()
    space = env.unwrapped.action_space
    lo = int(np.concatenate([[0], np.cumsum(space.nvec)])[5])
    mask[lo] = 0.0
    policy.begin(env, 0)
    assert all(policy.act({"observations": obs["observations"], "action_mask": mask})[5] == 1 for _ in range(20))
    env.close()
    _evaluate(policy, table_kwargs)


@pytest.mark.slow
def test_rllib_one_remote_env_runner(tmp_path, table_kwargs):
    spec = TrainSpec(env_kwargs=table_kwargs, framework="rllib", timesteps=64, hparams=RLLIB_TINY,
                     num_env_runners=1, num_envs_per_env_runner=2)
    result = train(spec, tmp_path, progress=False)
    assert result.timesteps >= 64
    _evaluate(load_policy(result.run_dir), table_kwargs)


NO_NETWORK_DRIVER = r"""
import json, socket, sys
from pathlib import Path
outside = []
_connect = socket.socket.connect
def connect(self, address):  # record any connection this driver tries to open off the machine
    if self.family in (socket.AF_INET, socket.AF_INET6) and not str(address[0]).startswith(("127.", "::1", "localhost")):
        outside.append(str(address))
    return _connect(self, address)
socket.socket.connect = connect
from agenticrs.policies.training import TrainSpec, train
spec = TrainSpec(env_kwargs=json.loads(sys.argv[2]), framework="rllib", timesteps=100_000, checkpoint_every=64,
                 hparams={"train_batch_size_per_learner": 64, "minibatch_size": 32, "num_epochs": 1,
                          "fcnet_hiddens": [16]})
try:
    train(spec, sys.argv[1], progress=False)
finally:
    Path(sys.argv[1], "outside.json").write_text(json.dumps(outside))
"""


def test_rllib_without_a_network_stops_on_sigterm_with_a_usable_checkpoint(tmp_path, table_kwargs):
    """RLlib training in a network namespace with only loopback (no route out): Ray starts without its
    outside-IP probe, the driver opens no off-machine connection, and SIGTERM stops the run in seconds
    leaving a checkpoint that loads and acts."""
    import shutil
    import signal
    import subprocess
    import sys
    import time

    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs unshare and ip (util-linux, iproute2)")
    if subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode != 0:
        pytest.skip("user/network namespaces are not permitted here")
    cmd = ["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', sys.executable, "-c",
           NO_NETWORK_DRIVER, str(tmp_path), json.dumps(table_kwargs)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not list(tmp_path.glob("*/checkpoint/" + META_FILE)):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no checkpoint; rc {proc.returncode}: {proc.communicate()[1][-3000:]}")
        time.sleep(0.2)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    stopped_in = time.monotonic() - sent
    print(f"SIGTERM to exit: {stopped_in:.1f} s")
    assert stopped_in < 20, f"SIGTERM took {stopped_in:.1f} s"
    assert "KeyboardInterrupt" in err  # the adapter's Ctrl-C path: checkpoint, then stop
    assert "external connectivity" not in err and "8.8.8.8" not in err, err[-2000:]
    assert json.loads((tmp_path / "outside.json").read_text()) == []
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert read_meta(run_dir)["timesteps"] >= 64
    _evaluate(load_policy(run_dir), table_kwargs)


@pytest.mark.slow
def test_rllib_survives_an_env_runner_killed_mid_training(tmp_path, table_kwargs):
    """kill -9 one of two env runners: RLlib's env-runner fault tolerance (FAULT_TOLERANCE) replaces it and
    training goes on (more checkpoints follow); SIGTERM then ends the run with a usable checkpoint."""
    import signal
    import subprocess
    import sys
    import time

    import psutil

    driver = NO_NETWORK_DRIVER.replace("framework=\"rllib\",", "framework=\"rllib\", num_env_runners=2,")
    proc = subprocess.Popen([sys.executable, "-c", driver, str(tmp_path), json.dumps(table_kwargs)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def steps() -> int:
        try:
            return read_meta(next(p for p in tmp_path.iterdir() if p.is_dir()))["timesteps"]
        except (StopIteration, FileNotFoundError, ValueError, KeyError):
            return 0

    def wait_for(n: int) -> None:
        deadline = time.monotonic() + 300
        while steps() < n:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"stuck at {steps()} steps; rc {proc.returncode}: {proc.communicate()[1][-3000:]}")
            time.sleep(0.2)

    wait_for(64)
    # The runners descend from this driver (it started the local Ray): other jobs' Ray is never touched.
    runners = [p for p in psutil.Process(proc.pid).children(recursive=True)
               if "SingleAgentEnvRunner" in " ".join(p.cmdline())]
    assert len(runners) == 2, [p.cmdline() for p in runners]
    runners[0].kill()
    killed_at = steps()
    wait_for(killed_at + 192)  # three more iterations after the loss
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert steps() >= killed_at + 192
    _evaluate(load_policy(next(p for p in tmp_path.iterdir() if p.is_dir())), table_kwargs)
