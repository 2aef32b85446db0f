"""Normalised regret: how far an incumbent is from the best known configuration of a task.

``regret = (best_known - incumbent_metric) / best_known`` where

* ``best_known`` is the task's best mean-over-seeds validation metric over every entry of
  the table backend (``agenticrs.envs.autotrain.task_scale``: the same scale the env's
  rewards use);
* ``incumbent_metric`` is the mean-over-seeds validation metric of the incumbent's *entry*
  (configuration x fidelity) — the incumbent is chosen on the observed (one-seed) metric,
  but scored on the entry mean, so a lucky seed cannot give a negative regret, and 0 means
  the best configuration was found.

Backends without repeats (live, fakes) score the observed metric; regret is clipped to
``[0, 1]`` (1: no valid trial yet). A task without a reference (no table entry, no
``best_known``: a live run on a user's dataset) has no regret: ``NaN``, shown as ``n/a``,
never a misleading 0.
"""

from __future__ import annotations

import math
from typing import Any

from agenticrs.envs.autotrain import task_scale
from agenticrs.envs.core import Task, TaskSuite, TrialConfig, TrialResult
from agenticrs.envs.suites import get_suite


class Reference:
    """Best known metric per task and mean metric per entry, from a backend's table.

    Args:
        backend: the env's backend (``TableBackend.repeats`` gives every seed of an entry).
        suite: the task suite (for ``task_scale``'s fallback to the shipped table).
    """

    def __init__(self, backend: Any, suite: str | TaskSuite = "synthetic"):
        self.backend = backend
        self.suite = get_suite(suite)
        self._best: dict[tuple[str, str], float | None] = {}
        self._means: dict[tuple[str, TrialConfig, float, str], tuple[float, float]] = {}

    @classmethod
    def of_env(cls, env: Any) -> "Reference":
        u = env.unwrapped
        return cls(u.backend, u.suite)

    def best_known(self, task: Task, metric: str | None = None) -> float | None:
        metric = metric or task.metric
        key = (task.name, metric)
        if key not in self._best:
            if metric == task.metric:
                self._best[key] = task_scale(task, self.backend, self.suite)
            else:  # task_scale knows the task's own metric only
                from dataclasses import replace

                self._best[key] = task_scale(replace(task, metric=metric), self.backend, self.suite)
        return self._best[key]

    def entry_means(self, result: TrialResult, metric: str) -> tuple[float, float]:
        """``(valid, test)`` mean over the entry's ok seeds; the result's own values without repeats."""
        key = (result.task, result.config, result.fidelity, metric)
        hit = self._means.get(key)
        if hit is None:
            repeats_fn = getattr(self.backend, "repeats", None)
            reps: tuple[TrialResult, ...] = ()
            if repeats_fn is not None:
                try:
                    reps = tuple(r for r in repeats_fn(result.task, result.config, result.fidelity) if r.ok)
                except KeyError:
                    reps = ()
            reps = reps or (result,)
            valid = [r.valid[metric] for r in reps if metric in r.valid]
            test = [r.test[metric] for r in reps if metric in r.test]
            hit = (sum(valid) / len(valid) if valid else math.nan, sum(test) / len(test) if test else math.nan)
            self._means[key] = hit
        return hit

    def regret(self, task: Task, incumbent: TrialResult | None, metric: str | None = None) -> float:
        """Normalised regret of ``incumbent`` on ``task`` in ``[0, 1]``.

        1 without an incumbent (or one without the metric); ``NaN`` when the task has no
        reference (no best known metric), whatever the incumbent.
        """
        metric = metric or task.metric
        best = self.best_known(task, metric)
        if not best:
            return math.nan
        if incumbent is None:
            return 1.0
        value = self.entry_means(incumbent, metric)[0]
        if value != value:
            return 1.0
        return min(1.0, max(0.0, (best - value) / best))


def format_regret(value: float, digits: int = 4) -> str:
    """A regret for a table: ``n/a`` when there is no reference (``NaN``)."""
    return "n/a" if value != value else f"{value:.{digits}f}"
