"""Types shared by environments, backends, the knowledge store and policies.

The MDP shell (an env) turns actions into :class:`TrialConfig` objects and asks a
:class:`Backend` to evaluate them on a :class:`Task`; the backend knows nothing about
spaces, the env knows nothing about how a trial is trained.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, NoReturn, Protocol, runtime_checkable

Status = Literal["ok", "failed", "timeout"]
STATUSES: tuple[str, ...] = ("ok", "failed", "timeout")


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
        """Stable identity across processes (for tables, caches, the knowledge store).

        Computed once per object (a sha256 of the JSON form; the configuration is immutable) and
        kept as an instance attribute outside the fields, so equality, hashing and ``repr`` ignore it.
        """
        d = self.__dict__
        k = d.get("_key")
        if k is None:
            k = hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
            object.__setattr__(self, "_key", k)
        return k


class FrozenDict(dict):  # type: ignore[type-arg]
    """A read-only ``dict``: the metric and cost mappings of a :class:`TrialResult`.

    A ``dict`` subclass (not ``MappingProxyType``) so results still JSON-serialise, pickle,
    deep-copy and pass ``isinstance(x, dict)``; every mutating method raises ``TypeError``.
    Hashable, so a ``TrialResult`` is too.
    """

    __slots__ = ()

    def _immutable(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("TrialResult metrics and costs are immutable; build a new result with "
                        "dataclasses.replace(result, valid={...})")

    __setitem__ = __delitem__ = __ior__ = _immutable  # type: ignore[assignment]
    update = pop = popitem = clear = setdefault = _immutable  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self) -> tuple[Any, ...]:
        # The default dict pickling refills the new object item by item (``__setitem__``).
        return (type(self), (dict(self),))

    def __copy__(self) -> "FrozenDict":
        return self

    def __repr__(self) -> str:
        return dict.__repr__(self)


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

    Results are immutable (the mappings become :class:`FrozenDict` copies), so a table or a
    cache can hand the same object to every caller. Construction does not check the values:
    :func:`validate_result` does, where results enter an env.
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

    def __post_init__(self) -> None:
        for name in ("valid", "test", "cost"):
            value = getattr(self, name)
            if type(value) is not FrozenDict and isinstance(value, Mapping):
                object.__setattr__(self, name, FrozenDict(value))  # a copy: the caller's dict stays theirs

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


MAX_RESULT_VALUE = 1e15
"""Largest metric or cost :func:`validate_result` accepts: metrics are scores of a few units at
most and 1e15 seconds is 30 million years, so anything larger is garbage (and would overflow
a reward to infinity)."""


def validate_result(result: Any, task: "Task | str", config: TrialConfig, fidelity: float, seed: int, *,
                    source: str = "unknown", metric: str | None = None) -> TrialResult:
    """The one gate every backend result passes before an env (or a recorder) uses it.

    A result is valid when it is a :class:`TrialResult` for ``task`` with a known status, a
    ``TrialConfig``, a fidelity in ``(0, 1]``, an integer seed, string ``reason`` and
    ``source``, and ``valid`` / ``test`` / ``cost`` mappings from string names to real
    numbers that are finite, ``>= 0`` (metrics are scores, costs are resources) and at most
    :data:`MAX_RESULT_VALUE`; an ``ok`` result must also report ``metric`` (default: the
    task's metric) in ``valid``.

    Args:
        result: whatever ``backend.evaluate(task, config, fidelity, seed)`` returned.
        task, config, fidelity, seed: what was asked (the failed result is about them).
        source: the backend kind, for the failed result.
        metric: the validation metric an ``ok`` result must have (``None``: ``task.metric``
            when ``task`` is a :class:`Task`, else no such check).

    Returns:
        ``result`` itself when valid (numpy and int numbers converted to ``float`` in a new
        result), else a ``failed`` result for ``(task, config, fidelity, seed)`` whose reason
        starts with ``"invalid backend result: "`` and names the first problem; it keeps the
        result's cost when that cost is valid (the compute was spent). Never raises.
    """
    name = task if isinstance(task, str) else task.name
    if metric is None and not isinstance(task, str):
        metric = task.metric
    # Results are immutable, so one that passed for this task and metric still passes: a table
    # hands out the same objects again and again, and this keeps its steps at dictionary speed.
    if type(result) is TrialResult and result.__dict__.get(_CHECKED) == (name, metric):
        return result
    problem = _result_problem(result, name, metric)
    if problem is None:
        result = _as_floats(result)
        object.__setattr__(result, _CHECKED, (name, metric))  # not a field: eq, repr, asdict ignore it
        return result
    cost: Mapping[str, float] = {}
    backend_said = ""
    if isinstance(result, TrialResult):
        if _mapping_problem("cost", result.cost) is None:
            cost = {k: float(v) for k, v in result.cost.items()}
        if result.status != "ok" and isinstance(result.reason, str) and result.reason:
            backend_said = f"; the backend said {result.status}: {result.reason}"
    reason = f"invalid backend result: {problem}{backend_said}"
    return TrialResult(config, name, fidelity, seed, "failed", cost=cost, reason=reason[:2000], source=source)


_CHECKED = "_validated_for"
"""Instance attribute (not a dataclass field) marking a result :func:`validate_result` accepted: ``(task, metric)``."""


def _result_problem(r: Any, task: str, metric: str | None) -> str | None:
    """The first thing wrong with a backend result, or ``None``."""
    if not isinstance(r, TrialResult):
        return "the backend returned None" if r is None else f"the backend returned a {type(r).__name__}, not a TrialResult"
    if r.status not in STATUSES:
        return f"status {r.status!r} is not one of {', '.join(STATUSES)}"
    if r.task != task:
        return f"it is for task {r.task!r}, not {task!r}"
    if not isinstance(r.config, TrialConfig):
        return f"config is a {type(r.config).__name__}, not a TrialConfig"
    f = r.fidelity
    if not _is_number(f) or not 0.0 < f <= 1.0:
        return f"fidelity {f!r} is not in (0, 1]"
    if not isinstance(r.seed, numbers.Integral) or isinstance(r.seed, bool):
        return f"seed {r.seed!r} is not an integer"
    for attr in ("reason", "source"):
        if not isinstance(getattr(r, attr), str):
            return f"{attr} is a {type(getattr(r, attr)).__name__}, not a str"
    for split in ("valid", "test", "cost"):
        problem = _mapping_problem(split, getattr(r, split))
        if problem is not None:
            return problem
    if r.status == "ok" and metric is not None and metric not in r.valid:
        return f"status ok but valid has no {metric!r} (it has {sorted(r.valid)})"
    return None


def _is_number(v: Any) -> bool:
    """A real number that is not a bool (``numbers.Real`` covers numpy scalars)."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and type(v).__name__ != "bool_"


def _mapping_problem(split: str, values: Any) -> str | None:
    if not isinstance(values, Mapping):
        return f"{split} is a {type(values).__name__}, not a mapping"
    for k, v in values.items():
        if type(v) is float:  # the common case first: one comparison chain per value
            if 0.0 <= v <= MAX_RESULT_VALUE and isinstance(k, str):
                continue
        elif not _is_number(v):
            return f"{split}[{k!r}] is a {type(v).__name__} ({str(v)[:40]!r}), not a number"
        if not isinstance(k, str):
            return f"{split} has a non-string key {k!r}"
        x = float(v)
        if not math.isfinite(x):
            return f"{split}[{k!r}] is {x} (not finite)"
        if x < 0:
            return f"{split}[{k!r}] is {x:g} (negative; metrics and costs are >= 0)"
        if x > MAX_RESULT_VALUE:
            return f"{split}[{k!r}] is {x:g} (implausibly large, > {MAX_RESULT_VALUE:g})"
    return None


def _as_floats(r: TrialResult) -> TrialResult:
    """``r``, or a copy whose numbers are all Python floats (numpy scalars are not JSON)."""
    changes = {split: {k: float(v) for k, v in getattr(r, split).items()}
               for split in ("valid", "test", "cost")
               if any(type(v) is not float for v in getattr(r, split).values())}
    return dataclasses.replace(r, **changes) if changes else r


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
