"""``agenticrs train`` / ``evaluate`` on the multi-agent ``agenticrs/AgenticRS-v0`` (RLlib MA-PPO), tiny budgets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("ray")

from tests.cli.cli_helpers import run_cli  # noqa: E402

ENV = "agenticrs/AgenticRS-v0"
TINY = json.dumps({"train_batch_size_per_learner": 40, "minibatch_size": 20, "num_epochs": 1, "fcnet_hiddens": [16]})


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One CLI training run shared by the tests below (Ray starts once)."""
    tmp = tmp_path_factory.mktemp("agentic_cli")
    from agenticrs.cli.main import main

    rc = main(["train", "--env", ENV, "--framework", "rllib", "--timesteps", "40", "--hparams", TINY,
               "--env-kwargs", json.dumps({"max_rounds": 4, "coupling": "lagrangian"}), "--logdir", str(tmp),
               "--no-progress"])
    assert rc == 0
    (run,) = [p for p in tmp.iterdir() if p.is_dir()]
    return run


def test_train_writes_a_multi_agent_checkpoint(trained_run):
    meta = json.loads((trained_run / "checkpoint" / "agenticrs.json").read_text())
    assert meta["multi_agent"] and meta["env_id"] == ENV
    assert meta["env_kwargs"] == {"split": "train", "max_rounds": 4, "coupling": "lagrangian"}
    spec = json.loads((trained_run / "run.json").read_text())
    assert spec["env_id"] == ENV and spec["framework"] == "rllib"


def test_evaluate_on_the_unseen_test_tasks(trained_run, tmp_path, capsys):
    out_json = tmp_path / "report.json"
    rc, out, err = run_cli(capsys, "evaluate", "--checkpoint", trained_run, "--episodes", "2", "--json", out_json)
    assert rc == 0, err
    assert "final outer objective" in out and "syn-mixed" in out and "syn-textual" in out
    report = json.loads(out_json.read_text())
    assert report["multi_agent"] and set(report["tasks"]) == {"syn-mixed", "syn-textual"}
    r = report["tasks"]["syn-mixed"]
    assert r["rounds"] == 4 and len(r["final_pipelines"]) == 2 and 0.0 <= r["regret"][0] <= 2.0


@pytest.mark.slow
def test_evaluate_named_task_and_knowledge(trained_run, tmp_path, capsys):
    db = tmp_path / "k.sqlite"
    rc, out, err = run_cli(capsys, "evaluate", "--checkpoint", trained_run, "--episodes", "1", "--tasks", "syn-long",
                           "--knowledge", db)
    assert rc == 0, err
    assert "syn-long" in out and Path(db).is_file()


def test_a_multi_agent_checkpoint_on_a_single_agent_env_is_one_line(trained_run, capsys):
    rc, out, err = run_cli(capsys, "evaluate", "--checkpoint", trained_run, "--env", "agenticrs/AutoTrain-v0")
    assert rc == 2 and "multi-agent" in err and "Traceback" not in err


def test_an_unknown_task_is_one_line(trained_run, capsys):
    rc, out, err = run_cli(capsys, "evaluate", "--checkpoint", trained_run, "--tasks", "nope")
    assert rc == 2 and "nope" in err and "Traceback" not in err


@pytest.mark.slow
def test_evolve_flagship_tiny(tmp_path, capsys):
    """``agenticrs evolve --env agenticrs/AgenticRS-v0`` end to end with a tiny budget: table, plot, results."""
    rc, out, err = run_cli(capsys, "evolve", "--env", ENV, "--timesteps", "40", "--seeds", "1", "--budget", "3",
                           "--baselines", "random,coordinate", "--hparams", TINY, "--logdir", tmp_path, "--no-progress")
    assert rc == 0, err
    assert "ma-ppo-difference-det" in out and "coordinate" in out and "normalised regret" in out
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert (run / "bench" / "agentic_regret.png").is_file() and (run / "bench" / "agentic.json").is_file()


def test_evolve_refuses_autotrain_only_flags_for_agentic(capsys):
    rc, out, err = run_cli(capsys, "evolve", "--env", ENV, "--table", "x.jsonl.gz")
    assert rc == 2 and "AutoTrain-v0 only" in err
    rc, out, err = run_cli(capsys, "evolve", "--env", ENV, "--coupling", "nope")
    assert rc == 2 and "--coupling" in err
