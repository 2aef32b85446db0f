"""Cost figures of a trained model: parameters, training time, inference latency, memory."""

from __future__ import annotations

import resource
import sys
from dataclasses import asdict, dataclass

import torch

from agenticrs.recsys.models.base import Recommender


@dataclass(frozen=True)
class Cost:
    """What a trained model costs.

    Attributes:
        params: trainable and buffer element count (the model's size).
        train_seconds: wall time of training (fit + epochs + validation).
        inference_ms_per_user: full-ranking scoring latency per user, from the test evaluation.
        peak_memory_mb: peak memory during training: CUDA peak allocation on a GPU, else the
            process's peak resident set size (which includes the Python runtime and data).
        epochs: epochs actually run.
    """

    params: int
    train_seconds: float
    inference_ms_per_user: float
    peak_memory_mb: float
    epochs: int

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def count_parameters(model: Recommender) -> int:
    """Parameters plus buffers: closed-form models (ItemKNN) keep their state in buffers."""
    return int(sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers()))


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is KiB on Linux and bytes on macOS.
    return rss / (2**20 if sys.platform == "darwin" else 2**10)
