"""``agenticrs train / evaluate / bench evolution / evolve`` end to end on tiny settings (SB3: fast)."""

from __future__ import annotations

import json

from agenticrs.cli.main import main

TINY = '{"n_steps": 32, "batch_size": 16, "n_epochs": 1, "net_arch": [16]}'


def test_train_evaluate_bench_cli(tmp_path, table_file, capsys):
    logdir = tmp_path / "runs"
    assert main(["train", "--env", "agenticrs/AutoTrain-v0", "--backend", "table", "--table", table_file,
                 "--framework", "sb3", "--algo", "maskable_ppo", "--timesteps", "64", "--seed", "2",
                 "--logdir", str(logdir), "--hparams", TINY, "--no-progress"]) == 0
    (run_dir,) = logdir.iterdir()
    assert run_dir.name.startswith("agenticrs-AutoTrain-v0__sb3-maskable_ppo__2__")
    assert "TensorBoard" in capsys.readouterr().out

    assert main(["train", "--framework", "sb3", "--timesteps", "96", "--resume", str(run_dir), "--no-progress"]) == 0
    assert json.loads((run_dir / "checkpoint" / "agenticrs.json").read_text())["timesteps"] == 96

    report = tmp_path / "eval.json"
    assert main(["evaluate", "--checkpoint", str(run_dir), "--env", "agenticrs/AutoTrain-v0", "--tasks", "test",
                 "--episodes", "2", "--max-trials", "3", "--json", str(report)]) == 0
    data = json.loads(report.read_text())
    assert set(data["tasks"]) == {"syn-mixed", "syn-textual"}
    for r in data["tasks"].values():
        assert 0.0 <= r["regret"][0] <= 1.0 and r["trials"] == 3 and r["best_valid"][0] > 0
    assert "normalised regret" in capsys.readouterr().out

    out = tmp_path / "bench"
    assert main(["bench", "evolution", "--env", "agenticrs/AutoTrain-v0", "--backend", "table", "--table", table_file,
                 "--policies", "ppo,random,tpe", "--seeds", "2", "--budget", "3", "--checkpoint", str(run_dir),
                 "--out", str(out), "--no-progress"]) == 0
    assert json.loads((out / "evolution.json").read_text())["summary"]["policies"] == ["ppo", "random", "tpe"]
    assert (out / "evolution.md").exists() and (out / "evolution_regret.png").exists()


def test_evolve_main_job_tiny(tmp_path, table_file, capsys):
    assert main(["evolve", "--env", "agenticrs/AutoTrain-v0", "--framework", "sb3", "--timesteps", "64", "--seeds", "2", "--budget", "3",
                 "--table", table_file, "--logdir", str(tmp_path), "--hparams", TINY, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "| ppo |" in out and "| random |" in out and "| tpe |" in out and "evolution_regret.png" in out
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert (run_dir / "bench" / "evolution.json").exists() and (run_dir / "checkpoint").is_dir()
