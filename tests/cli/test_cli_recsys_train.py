"""``agenticrs recsys train``: one model trained and tested, resumable with ``--checkpoint``."""

from __future__ import annotations

import json

from agenticrs.cli.main import main

DATA = "synthetic:users=80,items=40,seed=1,mean_length=8,max_length=20"


def test_train_prints_metrics_writes_json_and_deletes_its_checkpoint(tmp_path, capsys) -> None:
    ckpt, out = tmp_path / "gru.pt", tmp_path / "gru.json"
    rc = main(["recsys", "train", "--data", DATA, "--model", "gru4rec", "--epochs", "2", "--no-progress",
               "--checkpoint", str(ckpt), "--json", str(out), "--set", "embedding_dim=16"])
    assert rc == 0
    assert "ndcg@10" in capsys.readouterr().out.lower()
    result = json.loads(out.read_text())
    assert result["train"]["resumed_after"] == [] and "checkpoint" not in result["config"]["train"]
    assert not ckpt.exists()


def test_a_broken_checkpoint_or_setting_is_a_named_error(tmp_path, capsys) -> None:
    ckpt = tmp_path / "gru.pt"
    ckpt.write_bytes(b"half a file")
    args = ["recsys", "train", "--data", DATA, "--model", "gru4rec", "--epochs", "1", "--no-progress"]
    assert main([*args, "--checkpoint", str(ckpt)]) == 2
    assert "cannot be read" in capsys.readouterr().err and ckpt.exists()  # not deleted: the user decides
    assert main([*args, "--set", "valid_max_users=many"]) == 2
    assert "'valid_max_users' expects int or none" in capsys.readouterr().err
