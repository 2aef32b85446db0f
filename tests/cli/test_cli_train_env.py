"""``agenticrs train`` honours what users register: registered kwargs, ``--env-kwargs``, a rounded budget said.

Issue 31: ``--env mylab/ShopTrain-v0`` trained on ``--backend table --suite synthetic`` (the CLI's
defaults) instead of the registration's suite and backend, and ``--timesteps 16`` silently became 256.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import CliFakeBackend, run_cli

from agenticrs.envs.registration import register_env, unregister_env

SHOP = "mylab/ShopTrain-v0"
TINY_PPO = '{"n_steps": 8, "batch_size": 8, "n_epochs": 1, "net_arch": [8]}'


@pytest.fixture
def shop_env():
    """A user's env id: AutoTrain on the ``cli-tiny`` suite with the ``cli-fake`` backend."""
    register_env(SHOP, "agenticrs.envs.autotrain:AutoTrainEnv", backends=("cli-fake",), overwrite=True,
                 backend="cli-fake", suite="cli-tiny")
    CliFakeBackend.calls.clear()
    yield SHOP
    unregister_env(SHOP)


def _train(capsys, tmp_path: Path, *extra: str, hparams: str = TINY_PPO) -> tuple[int, str, str, Path | None]:
    logdir = tmp_path / "runs"
    rc, out, err = run_cli(capsys, "train", "--framework", "sb3", "--logdir", logdir, "--hparams", hparams,
                           "--no-progress", *extra)
    runs = list(logdir.iterdir()) if logdir.exists() else []
    return rc, out, err, (runs[0] if runs else None)


def test_registered_suite_and_backend_are_kept(shop_env, tmp_path, capsys):
    rc, _, err, run_dir = _train(capsys, tmp_path, "--env", shop_env, "--timesteps", "16")
    assert rc == 0, err
    # Every trial ran on the registration's backend and suite (cli-fake on task "tiny"), none on the table.
    assert CliFakeBackend.calls and {c[0] for c in CliFakeBackend.calls} == {"tiny"}
    assert "backend=cli-fake" in err and "suite=cli-tiny" in err
    kwargs = json.loads((run_dir / "run.json").read_text())["env_kwargs"]
    assert "backend" not in kwargs and "suite" not in kwargs  # only what the user gave travels


def test_explicit_flags_and_env_kwargs_override_the_registration(shop_env, tmp_path, capsys):
    rc, _, err, run_dir = _train(capsys, tmp_path, "--env", shop_env, "--timesteps", "8",
                                 "--env-kwargs", '{"max_trials": 2, "suite": "synthetic", "cost_scale": 30}',
                                 "--suite", "cli-tiny")
    assert rc == 0, err
    kwargs = json.loads((run_dir / "run.json").read_text())["env_kwargs"]
    assert kwargs == {"split": "train", "max_trials": 2, "suite": "cli-tiny", "cost_scale": 30}  # flag beats JSON
    assert {c[0] for c in CliFakeBackend.calls} == {"tiny"}


def test_generative_families_reach_the_env_through_env_kwargs(tmp_path, capsys):
    families = ["pop", "itemknn", "bprmf", "gru4rec", "sasrec", "bert4rec", "tiger", "lwgr", "lwgr_fixed"]
    rc, _, err, run_dir = _train(capsys, tmp_path, "--timesteps", "8", "--backend", "cli-fake", "--suite", "cli-tiny",
                                 "--env-kwargs", json.dumps({"families": families}))
    assert rc == 0, err
    from stable_baselines3 import PPO

    model = PPO.load(run_dir / "checkpoint" / "model.zip", device="cpu")
    assert int(model.action_space.nvec[0]) == len(families)  # the policy chooses among 9 families


def test_a_rounded_budget_is_said(tmp_path, capsys):
    hp = '{"n_steps": 32, "batch_size": 16, "n_epochs": 1, "net_arch": [8]}'
    rc, _, err, run_dir = _train(capsys, tmp_path, "--timesteps", "16", "--backend", "cli-fake", "--suite",
                                 "cli-tiny", hparams=hp)
    assert rc == 0, err
    notes = [line for line in err.splitlines() if "--timesteps 16 becomes 32" in line]
    assert len(notes) == 1 and "n_steps 32 x 1 envs" in notes[0]
    assert json.loads((run_dir / "checkpoint" / "agenticrs.json").read_text())["timesteps"] == 32


def test_an_exact_budget_is_not_flagged(tmp_path, capsys):
    rc, _, err, _ = _train(capsys, tmp_path, "--timesteps", "16", "--backend", "cli-fake", "--suite", "cli-tiny")
    assert rc == 0, err
    assert "becomes" not in err


def test_bench_evolution_honours_the_registration_too(tmp_path, capsys):
    """``bench evolution --env ID`` ran the CLI's default suite instead of the registered one."""
    from agenticrs.envs.core import TaskSuite
    from agenticrs.envs.suites import get_suite, register_suite

    synthetic = get_suite("synthetic")
    one = synthetic.test[0]
    register_suite(TaskSuite("cli-one", train=synthetic.train, test=(one,)), overwrite=True)
    import agenticrs.envs

    table = Path(agenticrs.envs.__file__).parent / "tables" / "autotrain__synthetic.jsonl.gz"
    register_env("mylab/ShopBench-v0", "agenticrs.envs.autotrain:AutoTrainEnv", overwrite=True, suite="cli-one",
                 backend_kwargs={"table": str(table)})
    try:
        rc, _, err = run_cli(capsys, "bench", "evolution", "--env", "mylab/ShopBench-v0", "--policies", "random",
                             "--seeds", "1", "--budget", "2", "--out", tmp_path, "--no-progress")
    finally:
        unregister_env("mylab/ShopBench-v0")
    assert rc == 0, err
    assert json.loads((tmp_path / "evolution.json").read_text())["summary"]["tasks"] == [one.name]


def test_the_training_line_names_what_the_env_gets():
    """Unset flags show the constructor's defaults (Compose passes them up through **kwargs), then the registration."""
    from agenticrs.cli.env_args import describe_kwargs

    assert describe_kwargs("agenticrs/Compose-v0", {}) == "backend=table, suite=synthetic"
    assert describe_kwargs("agenticrs/AutoTrain-v0", {"suite": "cli-tiny", "max_trials": 2}) == \
        "backend=table, suite=cli-tiny, max_trials=2"
