"""Resumable training: the trainer's whole state after each epoch, in one file written atomically.

``TrainConfig.checkpoint = PATH`` makes ``train`` save, after every epoch, everything the next
epoch depends on: the model and optimiser state, the best state kept for early stopping, the
history, the early-stopping counters, the seconds used so far and every random stream (the
batch generator's, torch's, NumPy's legacy one and Python's). Run the same command again after an
interruption and ``train`` continues from the last finished epoch; on CPU at a fixed thread count
the resumed run is the uninterrupted one, bit for bit (``tests/recsys/test_checkpoint.py``).

A checkpoint only resumes the run that wrote it: its *fingerprint* (model name, sizes, model
config and every training setting except those in ``RESUMABLE_FIELDS``) must match, otherwise
``CheckpointError`` names the first setting that differs. The file is written to a temporary
name and renamed, so an interruption while saving leaves the previous epoch's checkpoint intact,
never half a file. When training ends the checkpoint is kept, marked finished: running again
returns the finished result without training, so an interruption between training and the
caller's own bookkeeping (test evaluation, writing a run file) loses nothing. The caller deletes it
(``remove``) once its result is safe.

Only plain types and tensors are stored, so ``torch.load(weights_only=True)`` reads it back.
"""

from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT_VERSION = 1
"""Bump when the stored keys change: an older checkpoint is then refused by name, not misread."""

RESUMABLE_FIELDS = frozenset({"checkpoint", "max_seconds", "progress", "logdir", "device"})
"""``TrainConfig`` fields a resumed run may change: where the checkpoint lives, the wall-clock
budget (counted over every session), display, logging and the device. Every other field changes
what the epochs compute, so it must match."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that another run wrote."""


def fingerprint(model: Any, config: Any) -> dict[str, Any]:
    """What identifies a run of a ``Recommender``: ``{"model", "n_items", "n_users", "model_config",
    "train"}``."""
    train = {k: v for k, v in dataclasses.asdict(config).items() if k not in RESUMABLE_FIELDS}
    return {"model": model.name, "n_items": int(model.n_items), "n_users": int(model.n_users),
            "model_config": _plain(dataclasses.asdict(model.config)), "train": _plain(train)}


def _plain(value: Any) -> Any:
    """Tuples as lists, so a fingerprint compares equal after a save/load round trip."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def random_state(rng: np.random.Generator) -> dict[str, Any]:
    """Every random stream training draws from, as plain types and tensors."""
    legacy = np.random.get_state()
    state: dict[str, Any] = {
        "generator": rng.bit_generator.state,
        "torch": torch.get_rng_state(),
        "numpy": [legacy[0], torch.from_numpy(np.asarray(legacy[1], dtype=np.int64)), *legacy[2:]],
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_random_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    rng.bit_generator.state = state["generator"]
    torch.set_rng_state(state["torch"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(path: str | Path, state: dict[str, Any], fp: dict[str, Any]) -> None:
    """Write ``state`` with its fingerprint to ``path`` atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        torch.save({"version": FORMAT_VERSION, "fingerprint": fp, **state}, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    for stale in path.parent.glob(f"{path.name}.tmp*"):  # left by a process killed while saving
        stale.unlink(missing_ok=True)


def load(path: str | Path, fp: dict[str, Any]) -> dict[str, Any] | None:
    """The state saved at ``path`` for the run ``fp``; ``None`` when there is no checkpoint.

    Raises:
        CheckpointError: the file cannot be read, has another format version, or belongs to a
            run with a different fingerprint (the message names the first difference).
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear error
        # Only the error's kind (and an OS error's text): torch's unpickling message advises loading
        # untrusted files with weights_only=False, which is not what a truncated checkpoint needs.
        detail = f"{type(exc).__name__}: {exc}" if isinstance(exc, OSError) else type(exc).__name__
        raise CheckpointError(f"checkpoint {path} cannot be read ({detail}: not a whole checkpoint "
                              "written by agenticrs); delete it to train from scratch") from exc
    if not isinstance(state, dict) or state.get("version") != FORMAT_VERSION:
        found = state.get("version") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"checkpoint {path} has format version {found!r}, this agenticrs writes "
                              f"{FORMAT_VERSION}; delete it to train from scratch")
    difference = _first_difference(state["fingerprint"], fp)
    if difference:
        raise CheckpointError(f"checkpoint {path} was written by a different run ({difference}); "
                              "delete it, or set TrainConfig.checkpoint to another path")
    return state


def _first_difference(saved: Any, now: Any, where: str = "") -> str | None:
    if isinstance(saved, dict) and isinstance(now, dict):
        for key in sorted(set(saved) | set(now)):
            if key not in saved or key not in now:
                return f"{where}{key}: only in the {'checkpoint' if key in saved else 'current run'}"
            found = _first_difference(saved[key], now[key], f"{where}{key}.")
            if found:
                return found
        return None
    return None if saved == now else f"{where.rstrip('.')}: checkpoint {saved!r}, current run {now!r}"


def remove(path: str | Path | None) -> None:
    """Delete a checkpoint once the caller's result is safe (no error when there is none)."""
    if path:
        Path(path).unlink(missing_ok=True)
