"""Best-default-order: the static ranking of configurations learned from the train tasks' tables.

The simplest meta-learned baseline (HPO-B and the transfer-HPO literature call it the
"best default" or "average rank" ordering): rank every configuration by its mean normalised
regret over the *train* tasks of a table, then try them in that order on a new task,
whatever the results. A meta-learned evolution policy is only interesting where it beats
this.

:func:`default_order` is the ranking (also used by ``benchmarks/default_gap.py`` to
measure how far the single best-on-average configuration is from each task's best);
:class:`BestDefaultOrder` is the searcher. The task being searched is always left out of
the ranking, so an episode on a train task never peeks at its own results.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np

from agenticrs.envs.core import TrialConfig
from agenticrs.policies.base import Searcher


def entry_means(table: Any, tasks: Iterable[str], metric: str, fidelity: float = 1.0
                ) -> dict[str, dict[TrialConfig, float]]:
    """``{task: {config: mean over ok seeds of the validation metric}}`` at one fidelity.

    Closed-form configurations (stored at fidelity 1.0) count at any fidelity asked.
    """
    wanted = set(tasks)
    sums: dict[str, dict[TrialConfig, list[float]]] = {t: {} for t in wanted}
    for r in table.results():
        if r.task in wanted and r.ok and metric in r.valid and abs(r.fidelity - fidelity) < 1e-9:
            v = float(r.valid[metric])
            if math.isfinite(v):
                sums[r.task].setdefault(r.config, []).append(v)
    return {t: {c: sum(v) / len(v) for c, v in by.items()} for t, by in sums.items()}


def normalised_regrets(means: dict[str, dict[TrialConfig, float]]) -> dict[str, dict[TrialConfig, float]]:
    """Per task, ``(best - value) / best`` of every configuration (a task whose best is 0 is dropped)."""
    out: dict[str, dict[TrialConfig, float]] = {}
    for task, by in means.items():
        best = max(by.values(), default=0.0)
        if best > 0:
            out[task] = {c: (best - v) / best for c, v in by.items()}
    return out


def default_order(table: Any, tasks: Sequence[str], metric: str = "ndcg@10", fidelity: float = 1.0
                  ) -> list[tuple[TrialConfig, float]]:
    """Configurations ranked by mean normalised regret over ``tasks`` (best first).

    A configuration missing on a task counts as regret 1 there (it was never shown to work).
    Ties are broken by the configuration key, so the order is the same on every machine.

    Returns:
        ``[(config, mean regret)]`` sorted ascending.

    Raises:
        ValueError: none of ``tasks`` has a usable result in the table.
    """
    regrets = normalised_regrets(entry_means(table, tasks, metric, fidelity))
    if not regrets:
        raise ValueError(f"the table has no ok {metric} results at fidelity {fidelity:g} for tasks {list(tasks)}")
    configs = {c for by in regrets.values() for c in by}
    mean = {c: float(np.mean([by.get(c, 1.0) for by in regrets.values()])) for c in configs}
    return sorted(mean.items(), key=lambda kv: (kv[1], kv[0].key()))


class BestDefaultOrder(Searcher):
    """Try configurations in the order of their mean normalised regret on the train tasks.

    Where the order comes from, first found: ``table`` / ``tasks`` given here; the env of the
    episode (:meth:`begin`: its backend's table, else its suite's shipped AutoTrain table, and
    the suite's train tasks); the shipped AutoTrain table of ``suite`` and its train tasks
    (the ask/tell API without an env, e.g. ``agenticrs autotune`` on a user's dataset).

    Args:
        table: a :class:`~agenticrs.envs.backends.table.Table` or its path.
        tasks: the tasks the order is learned from (default: the train tasks, see above).
            The task being searched is always left out.
        suite: the suite whose shipped table is the last resort (``None``: none).
        metric: the validation metric (default: the task's).

    Configurations of the space that the table lacks come last, in a seeded random order.
    """

    name = "best-default-order"

    def __init__(self, table: Any = None, tasks: Sequence[str] | None = None, suite: str | None = "synthetic",
                 metric: str | None = None):
        super().__init__(metric)
        self.table = table
        self.tasks = list(tasks) if tasks is not None else None
        self.suite = suite
        self.exclude: str | None = None
        self._env_source: tuple[Any, list[str] | None] | None = None
        self._tables: dict[str, Any] = {}
        self._orders: dict[tuple[int, tuple[str, ...]], list[TrialConfig]] = {}

    # ------------------------------------------------------------------ where the order comes from
    @staticmethod
    def _shipped(env_name: str, suite: Any) -> tuple[str, list[str]] | None:
        from agenticrs.envs.suites import get_suite, suite_table_path

        suite = get_suite(suite)
        # suite_table_path, not the suite's own file: `amazon-rev` reads `amazon`'s table and
        # `synthetic+amazon` a cached merge of two shipped tables.
        path = suite_table_path(env_name, suite.name)
        return (str(path), [t.name for t in suite.train]) if path.exists() else None

    def source(self) -> tuple[Any, list[str] | None] | None:
        """``(table or path, train tasks or None)`` the order is learned from; ``None`` if there is none."""
        if self.table is not None:
            return self.table, self.tasks
        if self._env_source is not None:
            table, tasks = self._env_source
            return table, self.tasks if self.tasks is not None else tasks
        if self.suite is not None:
            shipped = self._shipped("autotrain", self.suite)
            if shipped is not None:
                return shipped[0], self.tasks if self.tasks is not None else shipped[1]
        return None

    def from_env(self, env: Any) -> None:
        """Learn from ``env``'s table and its suite's train tasks (unless given); leave its task out."""
        u = env.unwrapped
        suite = getattr(u, "suite", None)
        table = getattr(getattr(u, "backend", None), "table", None)
        tasks = [t.name for t in suite.train] if suite is not None else None
        if callable(getattr(table, "results", None)):
            self._env_source = (table, tasks)
        elif suite is not None:
            shipped = self._shipped(getattr(u, "env_name", "autotrain"), suite)
            self._env_source = shipped if shipped is not None else self._env_source
        task = getattr(u, "task", None)
        self.exclude = task.name if task is not None else None

    def applies_to(self, space: Any) -> str | None:
        return None if self.source() is not None else "no table of train-task results to learn an order from"

    def order(self) -> list[TrialConfig]:
        """The configurations, best on average first (the searched task left out)."""
        from agenticrs.envs.backends.table import load_table

        src = self.source()
        if src is None:
            raise ValueError("best-default-order needs a table of train-task results (table=PATH, an env with "
                             "a table backend, or a suite with a shipped table)")
        table, tasks = src
        if not callable(getattr(table, "results", None)):  # a path: loaded once per searcher
            if str(table) not in self._tables:
                self._tables[str(table)] = load_table(table)
            table = self._tables[str(table)]
        names = tuple(t for t in (tasks if tasks is not None else table.tasks) if t != self.exclude)
        key = (id(table), names)
        if key not in self._orders:
            self._orders[key] = [c for c, _ in default_order(table, names, self.metric)]
        return self._orders[key]

    # ------------------------------------------------------------------ Searcher hooks
    def begin(self, env: Any, seed: int) -> None:
        self.from_env(env)
        super().begin(env, seed)

    def _setup(self) -> None:
        assert self.space is not None
        full = self.space.fidelities[0]
        ranked: list[int] = []
        for config in self.order():
            try:
                ranked.append(self.pair_of(config, full))
            except ValueError:  # a configuration of the table outside this space
                continue
        known = set(ranked)
        rest = [p for p in self.candidates(0) if p not in known]
        self._order = list(dict.fromkeys(ranked)) + [rest[i] for i in self.rng.permutation(len(rest))]
        self._cursor = 0

    def _ask(self) -> np.ndarray:
        while self._cursor < len(self._order) - 1 and self._taken(self._order[self._cursor]):
            self._cursor += 1
        pid = self._order[min(self._cursor, len(self._order) - 1)]
        self._cursor += 1
        return self.action_of(pid)
