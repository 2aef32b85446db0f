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

    Args:
        table: a :class:`~agenticrs.envs.backends.table.Table` or its path; ``None``: the
            env's backend table (table and surrogate backends), else the shipped AutoTrain
            table of the env's suite.
        tasks: the tasks the order is learned from; ``None``: the suite's train tasks (with
            an env) or every task of the table. The searched task is always left out.
        metric: the validation metric (default: the task's).

    Configurations of the space that the table lacks come last, in a seeded random order.
    """

    name = "best-default-order"

    def __init__(self, table: Any = None, tasks: Sequence[str] | None = None, metric: str | None = None):
        super().__init__(metric)
        self.table = table
        self.tasks = list(tasks) if tasks is not None else None
        self.exclude: str | None = None
        self._orders: dict[tuple[str, ...], list[TrialConfig]] = {}

    # ------------------------------------------------------------------ where the order comes from
    def _resolve_table(self) -> Any:
        from agenticrs.envs.backends.table import Table, load_table

        if self.table is None:
            raise ValueError("best-default-order needs a table of train-task results (table=PATH, or an env with "
                             "a table backend or a shipped table for its suite)")
        if not isinstance(self.table, Table):
            self.table = load_table(self.table)
        return self.table

    def from_env(self, env: Any) -> None:
        """Take the table and train tasks from ``env`` where the constructor did not give them."""
        from agenticrs.envs.backends.table import table_path

        u = env.unwrapped
        suite = getattr(u, "suite", None)
        if self.table is None:
            table = getattr(getattr(u, "backend", None), "table", None)
            if callable(getattr(table, "results", None)):
                self.table = table
            elif suite is not None and table_path(getattr(u, "env_name", "autotrain"), suite.name).exists():
                self.table = str(table_path(getattr(u, "env_name", "autotrain"), suite.name))
        if self.tasks is None and suite is not None:
            self.tasks = [t.name for t in suite.train]
        task = getattr(u, "task", None)
        self.exclude = task.name if task is not None else None

    def applies_to(self, space: Any) -> str | None:
        return None if self.table is not None else "no table of train-task results to learn an order from"

    def order(self) -> list[TrialConfig]:
        """The configurations, best on average first (the searched task left out)."""
        table = self._resolve_table()
        tasks = tuple(t for t in (self.tasks if self.tasks is not None else table.tasks) if t != self.exclude)
        if tasks not in self._orders:
            self._orders[tasks] = [c for c, _ in default_order(table, tasks, self.metric)]
        return self._orders[tasks]

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
