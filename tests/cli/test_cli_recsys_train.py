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


def test_invalid_training_values_are_one_line_naming_the_field(capsys) -> None:
    args = ["recsys", "train", "--data", DATA, "--model", "gru4rec", "--no-progress"]
    assert main([*args, "--epochs", "-1"]) == 2
    assert capsys.readouterr().err == "error: TrainConfig: field 'epochs' must be an integer >= 1, got -1\n"
    assert main([*args, "--max-seconds", "0"]) == 2
    assert "field 'max_seconds' must be None or a finite number of seconds > 0" in capsys.readouterr().err


def test_off_a_terminal_progress_is_printed_as_lines_and_sasrec_defaults_to_ce(tmp_path, capsys) -> None:
    out = tmp_path / "sas.json"
    rc = main(["recsys", "train", "--data", DATA, "--model", "sasrec", "--epochs", "2", "--json", str(out),
               "--set", "embedding_dim=16", "--set", "layers=1"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "train sasrec: epoch 1/2, loss " in err and "train sasrec: epoch 2/2, loss " in err and "valid ndcg@10" in err
    assert json.loads(out.read_text())["config"]["model"]["loss"] == "ce"


def test_max_seconds_bounds_the_whole_run_evaluation_included(monkeypatch, capsys) -> None:
    """Scoring costs 10 ms a user (as TIGER's beam search does): 0.8 s per evaluation of the 80 users.
    Before, --max-seconds bounded training only and the run took budget + two evaluations."""
    import time

    import torch
    from bigram_model import Bigram

    from agenticrs.recsys.models import base

    class SlowScoringCLI(Bigram):
        def score(self, users: torch.Tensor, histories: torch.Tensor) -> torch.Tensor:
            time.sleep(0.01 * len(users))
            return super().score(users, histories)

    monkeypatch.setitem(base._MODELS, "slow_scoring_cli", SlowScoringCLI)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # the first Adam imports torch._dynamo: seconds, once
    start = time.perf_counter()
    rc = main(["recsys", "train", "--data", DATA, "--model", "slow_scoring_cli", "--epochs", "100000",
               "--no-progress", "--max-seconds", "3", "--set", "patience=0", "--set", "eval_every=1000"])
    elapsed = time.perf_counter() - start
    assert rc == 0 and "stopped: max_seconds" in capsys.readouterr().out
    assert elapsed < 3.5, elapsed


def test_a_malformed_data_file_is_one_line_naming_file_and_line(tmp_path, capsys) -> None:
    seq = tmp_path / "seq.txt"
    seq.write_text("1 2 3\n+1 2 3\n")
    assert main(["recsys", "train", "--data", f"sasrec:{seq}", "--model", "pop", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {seq}, line 2: user id '+1' is not a plain integer id") and err.count("\n") == 1


def test_long_preparatory_steps_are_shown_as_stderr_lines(capsys) -> None:
    """``recsys train`` shows the recsys package's INFO records (e.g. "building semantic ids for 4382 items")."""
    import logging

    import numpy as np

    from agenticrs.cli.recsys import _info_lines
    from agenticrs.recsys.semantic import SemanticIdConfig, build_semantic_ids

    vectors = np.random.default_rng(0).normal(size=(31, 8)).astype(np.float32)
    with _info_lines(enabled=True):
        build_semantic_ids(vectors, SemanticIdConfig(levels=2, codebook_size=4, latent_dim=4, epochs=3))
    err = capsys.readouterr().err
    assert "building semantic ids for 30 items (rqvae, 3 epochs)\n" in err and "semantic ids built in " in err
    assert logging.getLogger("agenticrs.recsys").handlers == []  # removed again
    with _info_lines(enabled=False):
        build_semantic_ids(vectors, SemanticIdConfig(levels=2, codebook_size=4, latent_dim=4, epochs=3))
    assert "building" not in capsys.readouterr().err
