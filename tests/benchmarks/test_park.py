"""Parked checkpoints: an unfinished run goes on from the repository on a machine with an empty cache."""

from __future__ import annotations

import pytest
import torch

from agenticrs.benchmarks.common import checkpoint_epoch, checkpoint_path, parked_path, run_checkpoint
from agenticrs.benchmarks.park import main as park_main


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTICRS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _fake_checkpoint(path, epoch: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": epoch}, path)


def test_a_parked_checkpoint_is_resumed_only_when_it_is_further_along_and_goes_when_the_run_ends(tmp_path, cache):
    run_file = tmp_path / "b_runs" / "beauty-lwgr-seed1.json"
    _fake_checkpoint(parked_path(run_file), 7)
    with run_checkpoint(run_file) as path:  # a machine that never saw the run
        assert checkpoint_epoch(path) == 7
    assert not path.exists() and not parked_path(run_file).exists()  # the run finished: both are gone

    _fake_checkpoint(parked_path(run_file), 7)
    _fake_checkpoint(checkpoint_path(run_file), 9)
    with pytest.raises(KeyboardInterrupt), run_checkpoint(run_file) as path:
        assert checkpoint_epoch(path) == 9  # the cache is further along: the parked copy is not used
        raise KeyboardInterrupt
    assert checkpoint_epoch(path) == 9 and checkpoint_epoch(parked_path(run_file)) == 7  # both kept

    with run_checkpoint(run_file, fresh=True) as path:  # --force: from scratch, parked or not
        assert not path.exists() and not parked_path(run_file).exists()


def test_park_copies_unfinished_runs_of_this_checkout_only(tmp_path, cache, capsys):
    out = tmp_path / "results"
    unfinished, finished = (out / "n_runs" / f"beauty-lwgr-seed{s}.json" for s in (1, 2))
    _fake_checkpoint(checkpoint_path(unfinished), 4)
    _fake_checkpoint(checkpoint_path(finished), 6)
    finished.parent.mkdir(parents=True)
    finished.write_text("{}")
    elsewhere = checkpoint_path(unfinished).with_name("beauty-lwgr-seed3-0123456789.pt")
    _fake_checkpoint(elsewhere, 2)

    assert park_main(["n", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert checkpoint_epoch(parked_path(unfinished)) == 4
    assert not parked_path(finished).exists() and "its run finished" in printed
    assert "another folder" in printed and not (out / "n_runs" / "parked" / "beauty-lwgr-seed3.pt").exists()

    _fake_checkpoint(parked_path(unfinished), 5)  # parked further along than the cache: left alone
    assert park_main(["n", "--out", str(out)]) == 0
    assert "already parked at epoch 5" in capsys.readouterr().out
    assert checkpoint_epoch(parked_path(unfinished)) == 5

    assert park_main(["none", "--out", str(out)]) == 1  # nothing to park is an error, naming where
    assert "no checkpoint of" in capsys.readouterr().out


def test_an_unreadable_parked_checkpoint_is_named_and_nothing_is_copied(tmp_path, cache):
    from agenticrs.recsys.training.checkpoint import CheckpointError

    run_file = tmp_path / "b_runs" / "beauty-lwgr-seed1.json"
    parked_path(run_file).parent.mkdir(parents=True)
    parked_path(run_file).write_text("version https://git-lfs.github.com/spec/v1\n")  # a pointer, not the file
    with pytest.raises(CheckpointError, match="beauty-lwgr-seed1.pt cannot be read"):
        with run_checkpoint(run_file):
            pass
    assert not checkpoint_path(run_file).exists() and parked_path(run_file).exists()
