"""``--knowledge PATH`` on ``train``, ``evaluate`` and ``evolve`` records into a KnowledgeStore; ``knowledge show`` reports the runs.

Issue 31: no command created a KnowledgeStore.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run_cli

from agenticrs.envs.knowledge import KnowledgeStore

TINY_PPO = '{"n_steps": 8, "batch_size": 8, "n_epochs": 1, "net_arch": [8]}'
FAKE = ("--backend", "cli-fake", "--suite", "cli-tiny")


def _runs(db: Path) -> list[dict]:
    store = KnowledgeStore(db)
    try:
        return store.runs()
    finally:
        store.close()


@pytest.fixture
def trained(tmp_path, capsys) -> tuple[Path, Path]:
    """``(run folder, store)``: 16 SB3 steps on cli-tiny (3-trial episodes), recorded in the store."""
    db = tmp_path / "k.sqlite"
    rc, out, err = run_cli(capsys, "train", "--framework", "sb3", "--timesteps", "16", *FAKE, "--logdir",
                           tmp_path / "runs", "--hparams", TINY_PPO, "--knowledge", db, "--no-progress")
    assert rc == 0, err
    assert f"knowledge:   {db}" in out
    (run_dir,) = (tmp_path / "runs").iterdir()
    return run_dir, db


def test_train_records_every_step(trained):
    _, db = trained
    (run,) = _runs(db)
    assert run["meta"]["command"] == "train" and run["meta"]["framework"] == "sb3"
    assert run["trials"] == 16 and run["decisions"] == 16  # one trial and one decision per env step


def test_evaluate_records_a_run_of_its_own_and_show_reports_both(trained, capsys):
    run_dir, db = trained
    rc, _, err = run_cli(capsys, "evaluate", "--checkpoint", run_dir, "--tasks", "train", "--episodes", "2",
                         "--max-trials", "2", "--knowledge", db)
    assert rc == 0, err
    train_run, eval_run = _runs(db)
    assert eval_run["meta"]["command"] == "evaluate" and eval_run["trials"] == 4  # 2 episodes x 2 trials
    assert train_run["trials"] == 16  # evaluation does not write into the training run

    rc, out, err = run_cli(capsys, "knowledge", "show", "--db", db)
    assert rc == 0, err
    assert train_run["run_id"] in out and eval_run["run_id"] in out and "tiny:" in out


def test_evolve_records_training_and_benchmark(tmp_path, capsys):
    db = tmp_path / "k.sqlite"
    rc, out, err = run_cli(capsys, "evolve", "--env", "agenticrs/AutoTrain-v0", "--framework", "sb3", "--timesteps", "32", "--seeds", "1", "--budget",
                           "2", "--baselines", "random", "--logdir", tmp_path / "evolve", "--hparams",
                           '{"n_steps": 8, "batch_size": 8, "n_epochs": 1, "net_arch": [8]}', "--knowledge", db,
                           "--no-progress")
    assert rc == 0, err
    stages = {r["meta"]["stage"]: r for r in _runs(db)}
    assert stages["train"]["trials"] == 32
    # ppo and random: 1 seed x 2 trials on each of the suite's test tasks
    assert stages["benchmark"]["trials"] > 0 and stages["benchmark"]["trials"] % 4 == 0


def test_a_store_that_cannot_be_opened_is_one_line(tmp_path, capsys):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    rc, _, err = run_cli(capsys, "train", "--framework", "sb3", "--timesteps", "8", *FAKE, "--logdir", tmp_path,
                         "--knowledge", folder)
    assert rc == 2 and "Traceback" not in err and f"--knowledge {folder}" in err and "is a folder" in err
