"""Types shared by environments, backends, the knowledge store and policies.

The MDP shell (an env) turns actions into :class:`TrialConfig` objects and asks a
:class:`Backend` to evaluate them on a :class:`Task`; the backend knows nothing about
spaces, the env knows nothing about how a trial is trained.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Protocol, runtime_checkable

Status = Literal["ok", "failed", "timeout"]


def _freeze(params: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(params.items()))


@dataclass(frozen=True)
class TrialConfig:
    """A hashable recommender configuration: the thing an action chooses.

    Attributes:
        model: registered model name (``agenticrs.recsys.models.get_model``).
        params: sorted ``(field, value)`` pairs: model Config fields and TrainConfig fields
            (``lr``, ``epochs``...) that differ from defaults. Values are JSON scalars.
    """

    model: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def make(cls, model: str, **params: Any) -> "TrialConfig":
        return cls(model, _freeze(params))

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "params": self.param_dict}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrialConfig":
        return cls(str(d["model"]), _freeze(dict(d.get("params", {}))))

    def key(self) -> str:
        """Stable identity across processes (for tables, caches, the knowledge store)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TrialResult:
    """The outcome of evaluating one configuration on one task at one fidelity and seed.

    Attributes:
        status: ``ok``, ``failed`` (crash, divergence, bad config) or ``timeout``.
        valid / test: metric name -> value (``ndcg@10``, ``recall@10``...); empty if not ok.
        cost: what a *live* run costs whatever the backend: ``seconds``, ``params``,
            ``inference_ms_per_user``, ``peak_memory_mb``.
        reason: why a trial failed (empty when ok).
        source: ``live``, ``table`` or ``surrogate``.
    """

    config: TrialConfig
    task: str
    fidelity: float
    seed: int
    status: Status
    valid: Mapping[str, float] = field(default_factory=dict)
    test: Mapping[str, float] = field(default_factory=dict)
    cost: Mapping[str, float] = field(default_factory=dict)
    reason: str = ""
    source: str = "live"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(), "task": self.task, "fidelity": self.fidelity, "seed": self.seed,
            "status": self.status, "valid": dict(self.valid), "test": dict(self.test), "cost": dict(self.cost),
            "reason": self.reason, "source": self.source,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrialResult":
        return cls(
            TrialConfig.from_dict(d["config"]), d["task"], float(d["fidelity"]), int(d["seed"]), d["status"],
            dict(d.get("valid", {})), dict(d.get("test", {})), dict(d.get("cost", {})), d.get("reason", ""),
            d.get("source", "live"),
        )


@dataclass(frozen=True)
class Task:
    """A dataset x metric x budget problem an evolution episode is solved on.

    Attributes:
        name: unique within its suite, e.g. ``syn-skewed``.
        data: a dataset URI (``synthetic:...``, ``beauty``...), see ``load_dataset``.
        metric: the validation metric the inner reward improves (``ndcg@10``).
        max_trials: trials per episode.
        max_seconds: simulated compute budget per episode (live-run seconds); ``None`` = none.
    """

    name: str
    data: str
    metric: str = "ndcg@10"
    max_trials: int = 20
    max_seconds: float | None = None


@dataclass(frozen=True)
class TaskSuite:
    """Named train and test tasks, so a policy is trained on some datasets and judged on unseen ones."""

    name: str
    train: tuple[Task, ...]
    test: tuple[Task, ...]

    @property
    def tasks(self) -> tuple[Task, ...]:
        return self.train + self.test

    def task(self, name: str) -> Task:
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(f"suite {self.name!r} has no task {name!r}; tasks: {[t.name for t in self.tasks]}")


@runtime_checkable
class Backend(Protocol):
    """Evaluates configurations: ``live`` trains, ``table`` looks up, ``surrogate`` predicts."""

    kind: str

    def evaluate(self, task: Task, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
        """Evaluate ``config`` on ``task`` at ``fidelity`` (fraction of the full training budget)."""
        ...
