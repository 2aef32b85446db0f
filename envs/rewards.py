"""Reward terms: named objects with ``reset`` / ``update`` (CompilerGym style).

An env owns an :class:`EpisodeState` that it updates after every trial, then asks each term
for its value; the reward is the weighted sum and ``info["reward_terms"]`` holds every
term's unweighted value. Terms are registered by name so env arguments can refer to them
(``reward_weights={"inner": 1.0, "cost": 0.1}``) and users can add their own::

    @register_reward_term("params")
    class ParamPenalty(RewardTerm):
        def update(self, result, state):
            return -result.cost.get("params", 0.0) / 1e6
"""

from __future__ import annotations

import math
from typing import Callable, ClassVar, Mapping, TypeVar

from agenticrs.envs.core import Task, TrialResult


class EpisodeState:
    """What a reward term may read about the episode, updated by the env before ``update``.

    Attributes:
        task: the episode's task.
        metric: the validation / test metric name (``ndcg@10``).
        scale: per-task metric normaliser (best known metric, or a reference), > 0.
        cost_scale: seconds that count as one unit of cost, > 0.
        max_trials / max_seconds: the episode budget (``max_seconds`` may be ``None``).
        trials / seconds: budget used so far, *including* the current trial.
        best / prev_best: best validation metric (0 before any valid trial) after / before the trial.
        incumbent: the result holding ``best`` (``None`` before any valid trial).
        terminal: this trial ends the episode.
    """

    __slots__ = ("task", "metric", "scale", "cost_scale", "max_trials", "max_seconds", "trials", "seconds",
                 "best", "prev_best", "incumbent", "terminal")

    def __init__(self, task: Task, metric: str, scale: float, cost_scale: float, max_trials: int,
                 max_seconds: float | None):
        if not scale > 0 or not cost_scale > 0:
            raise ValueError(f"EpisodeState: scale ({scale}) and cost_scale ({cost_scale}) must be > 0")
        self.task = task
        self.metric = metric
        self.scale = float(scale)
        self.cost_scale = float(cost_scale)
        self.max_trials = max_trials
        self.max_seconds = max_seconds
        self.trials = 0
        self.seconds = 0.0
        self.best = 0.0
        self.prev_best = 0.0
        self.incumbent: TrialResult | None = None
        self.terminal = False


class RewardTerm:
    """Base class: a named scalar computed after every trial.

    Subclasses override :meth:`update` (and :meth:`reset` when they keep per-episode state).
    ``update`` must be cheap: it runs inside ``env.step``.
    """

    name: ClassVar[str] = ""

    def reset(self, task: Task, state: EpisodeState) -> None:
        """Called by ``env.reset`` once the new episode's state exists."""

    def update(self, result: TrialResult, state: EpisodeState) -> float:
        """The term's (unweighted) value for this trial."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


T = TypeVar("T", bound=type[RewardTerm])
_TERMS: dict[str, type[RewardTerm]] = {}


def register_reward_term(name: str | None = None, *, overwrite: bool = False) -> Callable[[T], T]:
    """Class decorator: ``@register_reward_term("inner")`` makes a term usable in ``reward_weights``."""

    def deco(cls: T) -> T:
        key = name or cls.name or cls.__name__
        if not overwrite and key in _TERMS and _TERMS[key] is not cls:
            raise ValueError(f"reward term {key!r} is already registered ({_TERMS[key].__qualname__})")
        cls.name = key
        _TERMS[key] = cls
        return cls

    return deco


def get_reward_term(name: str | type[RewardTerm]) -> type[RewardTerm]:
    """Resolve a registered term name, or pass a RewardTerm subclass through."""
    if isinstance(name, type):
        if not issubclass(name, RewardTerm):
            raise TypeError(f"{name!r} is not a RewardTerm subclass")
        return name
    if name not in _TERMS:
        raise KeyError(f"unknown reward term {name!r}; registered: {', '.join(sorted(_TERMS))}")
    return _TERMS[name]


def list_reward_terms() -> list[str]:
    return sorted(_TERMS)


def make_reward_terms(weights: Mapping[str, float]) -> list[tuple[RewardTerm, float]]:
    """Instantiate the terms named in ``weights`` (name -> weight), checking every weight."""
    out = []
    for name, w in weights.items():
        w = float(w)
        if not math.isfinite(w):
            raise ValueError(f"reward_weights[{name!r}] must be finite, got {w}")
        out.append((get_reward_term(name)(), w))
    return out


# ---------------------------------------------------------------------- built-in terms
@register_reward_term("inner")
class InnerImprovement(RewardTerm):
    """Improvement of the best-so-far validation metric, divided by the task's scale.

    Over an episode the terms sum to ``best_valid / scale`` (in ``[0, ~1]`` when the scale
    is the task's best known metric), so tasks with very different metric levels weigh alike.
    """

    def update(self, result: TrialResult, state: EpisodeState) -> float:
        return (state.best - state.prev_best) / state.scale


@register_reward_term("cost")
class TrialCost(RewardTerm):
    """Minus the seconds a live run of the trial costs, divided by ``state.cost_scale``.

    The env sets ``cost_scale`` to the episode's second budget when it has one (so the
    episode's cost terms sum to at least -1 before the budget ends it), else to its argument.
    """

    def update(self, result: TrialResult, state: EpisodeState) -> float:
        return -result.cost.get("seconds", 0.0) / state.cost_scale


@register_reward_term("failure")
class FailurePenalty(RewardTerm):
    """-1 for a failed or timed-out trial, 0 otherwise."""

    def update(self, result: TrialResult, state: EpisodeState) -> float:
        return 0.0 if result.status == "ok" else -1.0


@register_reward_term("outer")
class OuterObjective(RewardTerm):
    """At the episode's last step: the *test* metric of the final incumbent / scale; else 0.

    The incumbent is chosen on validation only, so this is the global objective the inner
    improvements should stay aligned with (0 when no trial succeeded).
    """

    def update(self, result: TrialResult, state: EpisodeState) -> float:
        if not state.terminal or state.incumbent is None:
            return 0.0
        return state.incumbent.test.get(state.metric, 0.0) / state.scale


DEFAULT_WEIGHTS: Mapping[str, float] = {"inner": 1.0, "cost": 0.1, "failure": 0.1, "outer": 1.0}
