"""The one interface every evolution policy implements: trained RL policies and search baselines.

An evolution episode is driven by :func:`agenticrs.policies.episode.run_episode`::

    obs, info = env.reset(seed=s, options={"task": t})
    policy.begin(env, seed=s)
    while not done:
        action = policy.act(obs)
        obs, reward, done, _, info = env.step(action)
        policy.observe(action, obs, reward, info)

so a PPO checkpoint (:class:`~agenticrs.policies.checkpoint.CheckpointPolicy`) and a search
baseline (:class:`Searcher`, ask/tell) are interchangeable in the benchmark runner.

A :class:`Searcher` ignores observations: ``act`` is ``ask()`` and ``observe`` is
``tell(action, info["result"])``. It works on every registered env through a
:class:`~agenticrs.policies.search_space.SearchSpace` view of the env's action space
(AutoTrain's :class:`~agenticrs.envs.spaces.AutoTrainSpace`, the other envs'
:class:`~agenticrs.envs.grid_space.ConditionalSpace`) and always proposes *canonical*
actions (inapplicable choices at index 0, never a repaired one), so every proposal passes
the env's action mask.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from agenticrs.envs.core import TrialConfig, TrialResult
from agenticrs.policies.search_space import SearchSpace, search_space


class Policy(ABC):
    """Proposes one action per trial of an evolution episode.

    Attributes:
        name: short name used in benchmark tables (``ppo``, ``random``...).
        obs_mode: the observation layout the policy needs (``"flat"`` Box or ``"dict"``
            ``{observations, action_mask}``); the runner builds the env accordingly.
    """

    name: ClassVar[str] = "policy"
    obs_mode: str = "flat"

    def begin(self, env: gym.Env, seed: int) -> None:
        """Called once per episode, right after ``env.reset``."""

    @abstractmethod
    def act(self, obs: Any) -> np.ndarray:
        """The next action (``[n_dims]`` int64 for AutoTrain)."""

    def observe(self, action: np.ndarray, obs: Any, reward: float, info: dict[str, Any]) -> None:
        """Called after every ``env.step`` with the step's outcome."""


@dataclass(frozen=True)
class Budget:
    """An episode's budget: ``max_trials`` trials, and optionally ``max_seconds`` of live compute."""

    max_trials: int
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.max_trials < 1:
            raise ValueError(f"Budget.max_trials must be >= 1, got {self.max_trials}")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ValueError(f"Budget.max_seconds must be > 0 or None, got {self.max_seconds}")


def episode_budget(env: gym.Env) -> Budget:
    """The budget of the env's current episode (AutoTrain: the override, else the task's)."""
    u = env.unwrapped
    task = getattr(u, "task", None)
    if task is None:
        raise RuntimeError(f"{type(u).__name__} has no current task; call env.reset() first")
    trials = getattr(u, "max_trials_override", None) or task.max_trials
    seconds = getattr(u, "max_seconds_override", None)
    return Budget(int(trials), seconds if seconds is not None else task.max_seconds)


def env_search_space(env: gym.Env) -> SearchSpace:
    """The :class:`SearchSpace` view of the env's action space, labelled with the env's id."""
    u = env.unwrapped
    label = getattr(u.spec, "id", None) or type(u).__name__
    return search_space(u.action_space, label)


class BudgetExhausted(RuntimeError):
    """``ask()`` was called after the searcher's trial budget was spent."""


def result_value(result: TrialResult, metric: str) -> float:
    """The validation ``metric`` of a result; ``-inf`` for a failed trial (never the incumbent)."""
    if result.status != "ok":
        return -math.inf
    v = result.valid.get(metric, math.nan)
    return float(v) if v == v else -math.inf


class Searcher(Policy):
    """Ask/tell search baseline: ``ask() -> canonical action``, ``tell(action, result)``.

    Subclasses implement :meth:`_setup` (per episode) and :meth:`_ask`; :meth:`tell` records
    every result in ``self.history`` (``[(pair id, value)]``) and calls :meth:`_tell`.
    ``ask`` raises :class:`BudgetExhausted` past ``budget.max_trials`` proposals.

    Args:
        metric: the validation metric maximised (``None``: the task's).
    """

    def __init__(self, metric: str | None = None):
        self.metric_override = metric
        self.space: SearchSpace | None = None
        self.pairs: list[tuple[TrialConfig, float]] = []
        self.budget = Budget(1)
        self.rng = np.random.default_rng(0)
        self.history: list[tuple[int, float]] = []
        self.seen: set[int] = set()
        self._asked = 0
        self.metric = metric or "ndcg@10"

    # ------------------------------------------------------------------ ask/tell API
    def reset(self, space: Any, budget: Budget, seed: int, metric: str = "ndcg@10") -> None:
        """Start a new search on ``space`` under ``budget`` (independent of any env).

        ``space``: an ``AutoTrainSpace``, a ``ConditionalSpace`` or a :class:`SearchSpace` view.
        """
        self.space = search_space(space)
        self.pairs = self.space.pairs
        self.budget = budget
        self.rng = np.random.default_rng(seed)
        self.metric = self.metric_override or metric
        self.history = []
        self.seen = set()
        self._asked = 0
        self._setup()

    def ask(self) -> np.ndarray:
        """The next canonical action ``[n_dims]`` int64."""
        if self.space is None:
            raise RuntimeError(f"{type(self).__name__}: call reset() (or begin()) before ask()")
        if self._asked >= self.budget.max_trials:
            raise BudgetExhausted(f"{self.name}: asked for trial {self._asked + 1} of a {self.budget.max_trials}-trial budget")
        action = np.asarray(self._ask(), dtype=np.int64)
        self._asked += 1
        return action

    def tell(self, action: np.ndarray, result: TrialResult) -> None:
        """Record the result of a proposed action."""
        assert self.space is not None
        pid = self.space.pair_id(np.asarray(action, dtype=np.int64))
        value = result_value(result, self.metric)
        self.history.append((pid, value))
        self.seen.add(pid)
        self._tell(pid, value, result)

    # ------------------------------------------------------------------ Policy API
    def begin(self, env: gym.Env, seed: int) -> None:
        task = env.unwrapped.task
        self.reset(env_search_space(env), episode_budget(env), seed, task.metric if task is not None else "ndcg@10")

    def act(self, obs: Any) -> np.ndarray:
        return self.ask()

    def observe(self, action: np.ndarray, obs: Any, reward: float, info: dict[str, Any]) -> None:
        self.tell(action, info["result"])

    # ------------------------------------------------------------------ subclass hooks
    def _setup(self) -> None:
        """Per-search initialisation (after ``space``, ``budget``, ``rng`` are set)."""

    @abstractmethod
    def _ask(self) -> np.ndarray:
        ...

    def _tell(self, pid: int, value: float, result: TrialResult) -> None:
        """Hook after ``history`` is updated."""

    # ------------------------------------------------------------------ helpers for subclasses
    def candidates(self, fidelity_index: int | None = 0) -> list[int]:
        """Pair ids at one fidelity (index into ``space.fidelities``; ``None``: all pairs).

        Fixed-fidelity configurations (AutoTrain's closed-form families) have only the
        canonical fidelity, so they appear at index 0 only.
        """
        assert self.space is not None
        if fidelity_index is None:
            return list(range(len(self.pairs)))
        f = self.space.fidelities[fidelity_index]
        return [i for i, (_, fid) in enumerate(self.pairs) if fid == f]

    def action_of(self, pid: int) -> np.ndarray:
        """The canonical action of pair ``pid``."""
        assert self.space is not None
        return self.space.action_of(pid)

    def pair_of(self, config: TrialConfig, fidelity: float) -> int:
        assert self.space is not None
        return self.space.pair_of(config, fidelity)

    def random_unseen(self, pool: list[int]) -> int:
        """A uniformly drawn pair id of ``pool`` not evaluated yet (any of ``pool`` once all are)."""
        unseen = [p for p in pool if p not in self.seen]
        choice = unseen or pool
        return int(choice[int(self.rng.integers(len(choice)))])
