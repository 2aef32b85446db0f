"""Training: one trainer for every recommender, and ``run_experiment`` end to end."""

from agenticrs.recsys.training.checkpoint import CheckpointError
from agenticrs.recsys.training.trainer import (
    DivergenceError,
    ExperimentResult,
    TrainConfig,
    TrainResult,
    build_train_config,
    cpu_bf16_native,
    resolve_device,
    run_experiment,
    seed_everything,
    split_overrides,
    train,
)

__all__ = [
    "CheckpointError",
    "DivergenceError",
    "ExperimentResult",
    "TrainConfig",
    "TrainResult",
    "build_train_config",
    "cpu_bf16_native",
    "resolve_device",
    "run_experiment",
    "seed_everything",
    "split_overrides",
    "train",
]
