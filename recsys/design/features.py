"""A fixed-length numeric summary of a program (for observations, surrogates and plots).

``program_features(p)`` is ``[len(FEATURE_NAMES)]`` float32, every entry in ``[0, 1]``
(sizes on log scales, block kinds as shares of the stack), so policies see programs of any
length through one flat vector.
"""

from __future__ import annotations

import math

import numpy as np

from agenticrs.recsys.design.program import BLOCKS, Program

FEATURE_NAMES: tuple[str, ...] = (
    "log_dim", "log_max_len", "n_blocks", *(f"share_{k}" for k in BLOCKS), "share_bidirectional", "share_pre_norm",
    "mean_dropout", "item_id", "text", "attributes", "position", "time_gap", "scale", "input_norm", "final_norm",
    "head", "tied", "bias", "pool_mean", "loss_bce", "loss_ce", "loss_sampled_softmax", "log_negatives", "cloze",
    "adamw", "log_lr", "schedule", "log_epochs", "augment",
)


def _log_unit(value: float, lo: float, hi: float) -> float:
    """``log(value)`` mapped from ``[log lo, log hi]`` to ``[0, 1]`` (clipped)."""
    x = (math.log(value) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return min(1.0, max(0.0, x))


def program_features(p: Program) -> np.ndarray:
    """``[len(FEATURE_NAMES)]`` float32 in ``[0, 1]`` describing ``p`` (see :data:`FEATURE_NAMES`)."""
    n = max(len(p.blocks), 1)
    kinds = [b.kind for b in p.blocks]
    ins, out, loss, t = p.inputs, p.readout, p.loss, p.train
    values = [
        _log_unit(p.dim, 8, 1024), _log_unit(p.max_len, 2, 512), min(len(p.blocks) / 12, 1.0),
        *(kinds.count(k) / n for k in BLOCKS),
        sum(not b.is_causal() for b in p.blocks) / n, sum(b.norm == "pre" for b in p.blocks) / n,
        sum(b.dropout for b in p.blocks) / n,
        ins.item_id, ins.text, ins.attributes, ins.position, ins.time_gap, ins.scale, ins.norm, out.final_norm,
        {"none": 0.0, "linear": 0.5, "mlp": 1.0}[out.head], out.tied, out.bias, out.pool == "mean",
        loss.kind == "bce", loss.kind == "ce", loss.kind == "sampled_softmax",
        _log_unit(loss.negatives, 1, 1024) if loss.kind != "ce" else 0.0, loss.objective == "cloze",
        t.optimizer == "adamw", _log_unit(t.lr, 1e-5, 1e-1), t.schedule != "constant", _log_unit(t.epochs, 1, 500),
        min(1.0, t.augment_mask + t.augment_crop),
    ]
    return np.asarray(values, dtype=np.float32)


__all__ = ["FEATURE_NAMES", "program_features"]
