"""The agents' shared memory in ``AgenticRS-v0``: a per-task summary backed by the KnowledgeStore.

Per (task, module) it keeps the best known configuration of the module (its canonical action
and local metric) and the number of *negative results* (rounds where the agent changed its
part and its module's metric came out below the best known). Agents read it in their
observations (the coordination layer). With a :class:`~agenticrs.envs.knowledge.KnowledgeStore`
every round is written there too (the joint pipeline as a trial, one decision per agent), and
a reset reads the task's earlier decisions back, so agents start from what earlier runs —
of any process sharing the store — learned.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from agenticrs.envs.agentic.spaces import AGENTS

ENV_ID = "agenticrs/AgenticRS-v0"


@dataclass
class ModuleKnowledge:
    """Best known configuration of one module on one task, and its negative results."""

    best: float = -math.inf
    action: np.ndarray | None = None
    negatives: int = 0
    tried: int = 0


@dataclass
class KnowledgeSummary:
    """``{task: {agent: ModuleKnowledge}}`` (see the module docstring)."""

    tasks: dict[str, dict[str, ModuleKnowledge]] = field(default_factory=dict)

    def task(self, name: str) -> dict[str, ModuleKnowledge]:
        hit = self.tasks.get(name)
        if hit is None:
            hit = self.tasks[name] = {a: ModuleKnowledge() for a in AGENTS}
        return hit

    def record(self, task: str, agent: str, action: np.ndarray, metric: float, changed: bool) -> bool:
        """Record one round of one module; returns whether it was a negative result."""
        k = self.task(task)[agent]
        k.tried += 1
        negative = changed and metric < k.best
        if negative:
            k.negatives += 1
        if metric > k.best:
            k.best, k.action = float(metric), np.asarray(action, dtype=np.int64).copy()
        return negative

    def clear(self) -> None:
        self.tasks.clear()

    def load(self, store: Any, task: str) -> None:
        """Merge the store's decisions of ``task`` (this env id) into the summary (best + negatives)."""
        try:
            decisions = store.decisions(env=ENV_ID, task=task)
        except Exception as e:  # noqa: BLE001 - an unreadable store must not stop an episode
            warnings.warn(f"AgenticRS: could not read {store!r}: {e}", stacklevel=3)
            return
        mine = self.task(task)
        for d in decisions:
            if d.task != task or d.agent not in mine:
                continue
            info = d.info
            k = mine[d.agent]
            k.tried += 1
            k.negatives += int(bool(info.get("negative_result")))
            metric = info.get("module_metric")
            if metric is not None and metric > k.best:
                k.best, k.action = float(metric), np.asarray(d.action, dtype=np.int64)


def record_round(store: Any, run_id: str | None, task: str, round_: int, trial: Any,
                 decisions: Mapping[str, Mapping[str, Any]], actions: Mapping[str, np.ndarray]) -> None:
    """Write one round to the store: the pipeline as a trial, one decision per agent."""
    try:
        store.add_trial(trial, run_id=run_id, agent="agentic", env=ENV_ID)
        for agent, info in decisions.items():
            store.add_decision(run_id=run_id, step=round_, action=np.asarray(actions[agent]).tolist(), agent=agent,
                               env=ENV_ID, task=task, info=dict(info))
    except Exception as e:  # noqa: BLE001 - a full disk must not kill a training run
        warnings.warn(f"AgenticRS: could not record round {round_} in {store!r}: {e}", stacklevel=3)
