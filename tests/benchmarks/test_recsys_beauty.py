"""The Beauty benchmark's bookkeeping: one run file per (row, seed), a table over every finished run."""

from __future__ import annotations

import json

import pytest

from agenticrs.benchmarks.recsys_beauty import SPECS, main, run_path

DATA = "synthetic:users=60,items=40,seed=3,mean_length=6,max_length=20"


def test_every_row_has_its_own_run_files(tmp_path):
    paths = {run_path(tmp_path, spec, 0) for spec in SPECS}
    assert len(paths) == len(SPECS)  # rows sharing a model and loss must not share (and skip) runs


def test_rows_add_up_across_commands_and_finished_runs_are_skipped(tmp_path):
    assert main(["--data", DATA, "--seeds", "0,1", "--models", "pop", "--out", str(tmp_path), "--name", "beauty"]) == 0
    runs = tmp_path / "beauty_runs"
    assert sorted(p.name for p in runs.iterdir()) == ["pop-seed0.json", "pop-seed1.json"]
    # A run of another row made by another command (here: pop's result filed under a SASRec row).
    other = next(s for s in SPECS if s.key == "sasrec-bce-s3rec")
    run = json.loads((runs / "pop-seed0.json").read_text())
    run_path(runs, other, 0).write_text(json.dumps(run))
    before = (runs / "pop-seed0.json").stat().st_mtime_ns
    assert main(["--data", DATA, "--seeds", "0", "--models", "pop", "--out", str(tmp_path), "--name", "beauty"]) == 0
    assert (runs / "pop-seed0.json").stat().st_mtime_ns == before  # finished: not rerun
    rows = json.loads((tmp_path / "beauty.json").read_text())["rows"]
    assert rows["Pop"]["seeds"] == [0, 1] and rows[other.label]["seeds"] == [0]
    assert not any(label.startswith("SASRec (BCE, 1 negative)") for label in rows)


def test_runs_of_another_dataset_are_not_summarised(tmp_path):
    assert main(["--data", DATA, "--seeds", "0", "--models", "pop", "--out", str(tmp_path)]) == 0
    runs_dir = next(tmp_path.glob("*_runs"))
    assert "users=60" in runs_dir.name  # default name: the dataset, so datasets get separate tables
    other = DATA.replace("seed=3", "seed=4")
    with pytest.raises(SystemExit, match="holds runs on"):
        main(["--data", other, "--seeds", "1", "--models", "pop", "--out", str(tmp_path),
              "--name", runs_dir.name.removesuffix("_runs")])
    md = (tmp_path / f"{runs_dir.name.removesuffix('_runs')}.md").read_text()
    assert "Amazon Beauty" not in md and "Published rows" not in md  # Beauty's numbers only beside Beauty
    assert len(list(runs_dir.iterdir())) == 1  # refused before running: nothing written into the wrong table


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path, monkeypatch, ctrl_c_after_epoch_one):
    from agenticrs.benchmarks.common import checkpoint_path

    monkeypatch.setenv("AGENTICRS_CACHE", str(tmp_path / "cache"))
    args = ["--data", DATA, "--seeds", "0", "--models", "gru4rec", "--out", str(tmp_path), "--name", "b"]
    with pytest.raises(KeyboardInterrupt):
        main(args)
    gru = next(s for s in SPECS if s.key.startswith("gru4rec"))
    run_file = run_path(tmp_path / "b_runs", gru, 0)
    assert checkpoint_path(run_file).exists() and not run_file.exists()
    ctrl_c_after_epoch_one()  # restore: the user's rerun
    assert main(args) == 0
    assert json.loads(run_file.read_text())["train"]["resumed_after"] == [1]
    assert not checkpoint_path(run_file).exists()
