"""Resumable training: an interrupted run, resumed from its checkpoint, is the uninterrupted run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from bigram_model import Bigram, BigramConfig

from agenticrs.recsys.data import load_dataset
from agenticrs.recsys.data.dataset import Dataset
from agenticrs.recsys.models import build_config, get_model
from agenticrs.recsys.training import TrainConfig, run_experiment, seed_everything, train
from agenticrs.recsys.training import checkpoint as ckpt
from agenticrs.recsys.training.checkpoint import CheckpointError

LWGR_DATA = "synthetic:users=200,items=60,seed=0,text_signal=0.9,topics=4,seq_strength=0.8"
LWGR_SMALL = dict(embedding_dim=16, encoder_layers=1, decoder_layers=1, heads=2, ff_dim=32, id_levels=2,
                  codebook_size=8, id_epochs=30, text_encoder="tfidf:dim=8", max_len=8, n_instructions=2,
                  dropout=0.2)


def build(kind: str, data: Dataset) -> Any:
    """A fresh, seeded model: the bigram (no dropout), or a tiny LWGR (dropout, gates, dual variable)."""
    seed_everything(0)
    if kind == "bigram":
        return Bigram(data.n_items, data.n_users, BigramConfig())
    cls = get_model("lwgr")
    return cls(data.n_items, data.n_users, build_config(cls, LWGR_SMALL), data)


def interrupt(model: Any, epoch: int, batch: int) -> None:
    """Make ``model`` raise KeyboardInterrupt at ``batch`` of its ``epoch``-th epoch, as Ctrl-C would."""
    original, calls = model.batches, {"epoch": 0}

    def batches(*args: Any):
        calls["epoch"] += 1
        for i, b in enumerate(original(*args)):
            if calls["epoch"] == epoch and i == batch:
                raise KeyboardInterrupt
            yield b

    model.batches = batches


def timeless(history: list[dict[str, float]]) -> list[dict[str, float]]:
    return [{k: v for k, v in h.items() if not k.startswith("time/")} for h in history]


@pytest.fixture(scope="module")
def lwgr_data() -> Dataset:
    return load_dataset(LWGR_DATA)


@pytest.mark.parametrize("kind", ["bigram", "lwgr"])
def test_a_resumed_run_is_the_uninterrupted_run(kind: str, chain: Dataset, lwgr_data: Dataset,
                                                tmp_path: Path) -> None:
    data = chain if kind == "bigram" else lwgr_data
    split = data.split()
    config = dict(epochs=4, patience=0, batch_size=64, lr=3e-3, progress=False, seed=3)
    whole = build(kind, data)
    expected = train(whole, split, TrainConfig(**config))

    path = tmp_path / "run.pt"
    first = build(kind, data)
    interrupt(first, epoch=3, batch=1)  # mid-epoch: epochs 1-2 are saved, epoch 3 is lost
    with pytest.raises(KeyboardInterrupt):
        train(first, split, TrainConfig(**config, checkpoint=str(path)))
    assert path.exists() and not list(tmp_path.glob("*.tmp*"))

    resumed = build(kind, data)
    got = train(resumed, split, TrainConfig(**config, checkpoint=str(path)))
    assert got.resumed_after == [2]
    assert (got.epochs_run, got.best_epoch, got.best_valid) == (4, expected.best_epoch, expected.best_valid)
    assert timeless(got.history) == timeless(expected.history)
    for name, value in whole.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name
    if kind == "lwgr":  # the dual variable travelled with the model, and it was exercised
        assert any("lwgr/lambda" in h for h in got.history)


def test_a_finished_checkpoint_returns_its_result_without_training(chain: Dataset, tmp_path: Path) -> None:
    split, path = chain.split(), tmp_path / "run.pt"
    config = TrainConfig(epochs=3, patience=0, progress=False, checkpoint=str(path))
    done = train(build("bigram", chain), split, config)
    again = build("bigram", chain)
    interrupt(again, epoch=1, batch=0)  # any training at all would raise
    result = train(again, split, config)
    assert (result.best_valid, result.epochs_run, result.resumed_after) == (done.best_valid, 3, [])
    saved_seconds = torch.load(path, weights_only=True)["seconds"]
    assert saved_seconds > 0 and result.train_seconds >= saved_seconds  # the first session's seconds count


def test_max_seconds_counts_the_seconds_of_every_session(chain: Dataset, tmp_path: Path) -> None:
    split, path = chain.split(), tmp_path / "run.pt"
    first = build("bigram", chain)
    interrupt(first, epoch=2, batch=0)
    with pytest.raises(KeyboardInterrupt):
        train(first, split, TrainConfig(epochs=5, patience=0, progress=False, checkpoint=str(path)))
    state = torch.load(path, weights_only=True)
    state["seconds"] = 1e6  # as if the first session had used up the budget
    torch.save(state, path)
    result = train(build("bigram", chain), split,
                   TrainConfig(epochs=5, patience=0, progress=False, checkpoint=str(path), max_seconds=100.0))
    assert result.stopped_because == "max_seconds" and result.epochs_run == 2  # one batch of epoch 2, then out


def test_another_runs_checkpoint_is_refused_by_name(chain: Dataset, tmp_path: Path) -> None:
    split, path = chain.split(), tmp_path / "run.pt"
    train(build("bigram", chain), split, TrainConfig(epochs=1, progress=False, lr=0.01, checkpoint=str(path)))
    with pytest.raises(CheckpointError, match=r"train\.lr: checkpoint 0\.01, current run 0\.02"):
        train(build("bigram", chain), split, TrainConfig(epochs=1, progress=False, lr=0.02, checkpoint=str(path)))
    # The budget and the display are not part of the run: changing them resumes.
    train(build("bigram", chain), split,
          TrainConfig(epochs=1, progress=True, lr=0.01, max_seconds=50.0, checkpoint=str(path)))


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"PK\x03\x04truncated"])
def test_an_unreadable_checkpoint_is_a_clear_error(chain: Dataset, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "run.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="cannot be read.*delete it"):
        train(build("bigram", chain), chain.split(), TrainConfig(epochs=1, progress=False, checkpoint=str(path)))


def test_an_old_format_is_refused(chain: Dataset, tmp_path: Path) -> None:
    path = tmp_path / "run.pt"
    torch.save({"version": 0}, path)
    with pytest.raises(CheckpointError, match="format version 0"):
        train(build("bigram", chain), chain.split(), TrainConfig(epochs=1, progress=False, checkpoint=str(path)))


def test_a_crash_while_saving_keeps_the_previous_checkpoint(chain: Dataset, tmp_path: Path, monkeypatch) -> None:
    split, path = chain.split(), tmp_path / "run.pt"
    config = TrainConfig(epochs=3, patience=0, progress=False, checkpoint=str(path))
    real_save, calls = torch.save, {"n": 0}

    def dying_save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # epoch 2's checkpoint: half a file, then the process "dies"
            Path(f).write_bytes(b"half")
            raise KeyboardInterrupt
        real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        train(build("bigram", chain), split, config)
    monkeypatch.setattr(torch, "save", real_save)
    assert torch.load(path, weights_only=True)["epoch"] == 1  # epoch 1's checkpoint, whole
    assert not list(tmp_path.glob("*.tmp*"))
    assert train(build("bigram", chain), split, config).resumed_after == [1]


def test_run_files_do_not_record_where_the_checkpoint_was(chain: Dataset, tmp_path: Path) -> None:
    res = run_experiment(chain, Bigram, train_config=TrainConfig(epochs=1, progress=False,
                                                                 checkpoint=str(tmp_path / "run.pt")))
    assert "checkpoint" not in res.config["train"] and res.train["resumed_after"] == []
    ckpt.remove(tmp_path / "run.pt")
    ckpt.remove(None)
    assert not (tmp_path / "run.pt").exists()
