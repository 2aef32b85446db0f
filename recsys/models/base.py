"""The recommender interface shared by every model, and the model registry.

A recommender is a ``torch.nn.Module`` with a typed ``Config`` dataclass. The one trainer
(:mod:`agenticrs.recsys.training`) drives it through three template methods:

* ``fit(split)``: called once before any epoch; closed-form models (Pop, ItemKNN) do all
  their work here and set ``trainable = False``.
* ``batches(train, batch_size, rng)``: yields the model's own training batches for one epoch.
* ``loss(batch)``: a scalar loss on one batch.

Evaluation only needs ``score(users, histories) -> [batch, n_items + 1]``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar, Iterator, Sequence, TypeVar

import numpy as np
import torch
from torch import nn

from agenticrs.recsys.data.dataset import PAD, Dataset, Split


@dataclasses.dataclass
class ModelConfig:
    """Base class of every model's configuration; subclasses add typed fields with defaults."""

    max_len: int = 50
    """Longest history (most recent items) a model reads."""


class Recommender(nn.Module):
    """Base class of all recommenders. Subclasses set ``Config`` and implement ``score``.

    Args:
        n_items: number of items; ids are ``1..n_items``, ``0`` is padding.
        n_users: number of users (user-id models such as BPR-MF need it).
        config: the model's ``Config`` instance.
        dataset: the whole dataset, for models that use side information (text, attributes).
    """

    Config: ClassVar[type[ModelConfig]] = ModelConfig
    name: ClassVar[str] = ""
    trainable: ClassVar[bool] = True
    """False for closed-form models: the trainer calls ``fit`` and skips the epoch loop."""

    def __init__(self, n_items: int, n_users: int, config: ModelConfig, dataset: Dataset | None = None):
        super().__init__()
        self.n_items = n_items
        self.n_users = n_users
        self.config = config

    # -------------------------------------------------------------- training hooks
    def fit(self, split: Split) -> None:
        """One-off preparation before training (closed-form models do all their work here)."""

    def batches(self, train: list[np.ndarray], batch_size: int, rng: np.random.Generator) -> Iterator[Any]:
        """Yield the training batches of one epoch (tensors on CPU; the trainer moves them)."""
        raise NotImplementedError(f"{type(self).__name__} is trainable but does not define batches()")

    def loss(self, batch: Any) -> torch.Tensor:
        """Scalar training loss on one batch."""
        raise NotImplementedError(f"{type(self).__name__} is trainable but does not define loss()")

    # -------------------------------------------------------------- inference
    def score(self, users: torch.Tensor, histories: torch.Tensor) -> torch.Tensor:
        """Scores of every item for each user.

        Args:
            users: ``[batch]`` dense user indices.
            histories: ``[batch, max_len]`` item ids, left-padded with 0, most recent last.

        Returns:
            ``[batch, n_items + 1]`` scores; column 0 (padding) is ignored by the evaluator.
        """
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return b.device
        return torch.device("cpu")


def pad_histories(histories: Sequence[np.ndarray], max_len: int) -> torch.Tensor:
    """Left-pad (and truncate to the most recent ``max_len``) item sequences.

    Returns:
        ``[len(histories), max_len]`` int64 tensor, padding ``0`` on the left.
    """
    out = np.full((len(histories), max_len), PAD, dtype=np.int64)
    for i, h in enumerate(histories):
        h = h[-max_len:]
        if len(h):
            out[i, max_len - len(h) :] = h
    return torch.from_numpy(out)


# ---------------------------------------------------------------------- registry
R = TypeVar("R", bound=type[Recommender])
_MODELS: dict[str, type[Recommender]] = {}


def register_model(name: str | None = None, *, overwrite: bool = False) -> Callable[[R], R]:
    """Class decorator: ``@register_model("sasrec")`` makes the model available by name.

    User models register the same way; ``get_model`` also accepts a class directly, so
    registering is only needed for lookup by name (CLI, env action spaces).
    """

    def deco(cls: R) -> R:
        key = (name or cls.name or cls.__name__).lower()
        if not overwrite and key in _MODELS and _MODELS[key] is not cls:
            raise ValueError(f"model {key!r} is already registered ({_MODELS[key].__module__})")
        cls.name = key
        _MODELS[key] = cls
        return cls

    return deco


def get_model(model: str | type[Recommender]) -> type[Recommender]:
    """Resolve a registered model name (case-insensitive) or pass a Recommender class through."""
    if isinstance(model, type):
        if not issubclass(model, Recommender):
            raise TypeError(f"{model!r} is not a Recommender subclass")
        return model
    _load_builtin_models()
    key = model.lower()
    if key not in _MODELS:
        raise KeyError(f"unknown model {model!r}; registered: {', '.join(sorted(_MODELS))}")
    return _MODELS[key]


def list_models() -> list[str]:
    _load_builtin_models()
    return sorted(_MODELS)


def _load_builtin_models() -> None:
    # Importing the package runs every built-in model's @register_model.
    import agenticrs.recsys.models  # noqa: F401


def build_config(cls: type[Recommender], overrides: dict[str, Any] | None = None) -> ModelConfig:
    """Instantiate ``cls.Config`` with overrides, naming the offending field on error."""
    overrides = dict(overrides or {})
    fields = {f.name: f for f in dataclasses.fields(cls.Config)}
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ValueError(f"{cls.name}: unknown config field(s) {unknown}; valid: {sorted(fields)}")
    return cls.Config(**{k: coerce(fields[k], v, cls.name) for k, v in overrides.items()})


def coerce(field: dataclasses.Field, value: Any, owner: str) -> Any:
    """Convert a (possibly string, from ``--set key=value``) value to the field's declared type."""
    default = field.default if field.default is not dataclasses.MISSING else None
    target = type(default) if default is not None else str
    if isinstance(value, target) and not (target is int and isinstance(value, bool)):
        return value
    try:
        if target is bool:
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if target is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return target(value)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: field {field.name!r} expects {target.__name__}, got {value!r}") from None
