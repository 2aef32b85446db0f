"""Ask/tell proposers of *programs* (the design language's open-ended space).

The same contract as the search baselines (:class:`~agenticrs.policies.base.Searcher`, Optuna's
samplers): ``ask() -> program``, ``tell(program, result)``; a proposer knows nothing about how a
result is produced (in-process training, the OpenDesign env, a table). What every proposer
needs sits here, once:

* **budget**: ``ask`` raises :class:`~agenticrs.policies.base.BudgetExhausted` past
  ``budget.max_trials`` proposals;
* **deduplication by canonical hash**: ``ask`` never returns a program already evaluated (told,
  or found in the KnowledgeStore for this task) or asked and not yet told; it asks the subclass
  again (``max_resample`` times), then substitutes a random unseen program from the grammar
  (counted in ``substitutions``);
* **a fixed training scheme**: ``task.fixed`` (e.g. ``{"epochs": 3}``) overrides those ``train``
  fields of every proposal, so proposers compare at equal training budgets;
* **statistics**: proposals by source, duplicates refused, substitutions.

Subclasses implement :meth:`ProgramProposer._propose` (and optionally ``_setup``/``_tell``).
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import numpy as np

from agenticrs.envs.core import TrialResult
from agenticrs.policies.base import Budget, BudgetExhausted, result_value
from agenticrs.recsys.design import DEFAULT_LIMITS, LIBRARY, Limits, Program, canonical_json, program_hash
from agenticrs.recsys.design import sample_program, validate


@dataclass(frozen=True)
class DesignTask:
    """What is being designed for.

    Attributes:
        name: the task's name (the dataset's; the KnowledgeStore's ``task`` column).
        description: free text for language-model prompts (data, goal, budget).
        n_items: catalogue size (enables the parameter-count and negatives checks).
        limits: size budgets every program must fit.
        metric: the validation metric maximised.
        base: the default program (a partial LLM reply is merged over it; evolution starts near it).
        fixed: ``train`` fields forced on every proposal (equal budgets across proposers).
    """

    name: str
    description: str = "next-item recommendation on sequences of item ids"
    n_items: int | None = None
    limits: Limits = DEFAULT_LIMITS
    metric: str = "ndcg@10"
    base: Program = field(default_factory=lambda: LIBRARY["sasrec_ce"])
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def finalise(self, program: Program) -> Program:
        """``program`` with the fixed training fields (and no name: identity is the canonical form)."""
        if self.fixed:
            program = dataclasses.replace(program, train=dataclasses.replace(program.train, **dict(self.fixed)))
        return dataclasses.replace(program, name="")

    def overridden_operators(self) -> frozenset[str]:
        """Names of the mutation operators whose every edit ``fixed`` undoes (``epochs_up`` under a
        fixed ``epochs``): drawn by a search they would only give back the parent. Probed on the
        library's programs: an operator that changes some of them and none after :meth:`finalise`."""
        if not self.fixed:
            return frozenset()
        from agenticrs.recsys.design.grammar import OPERATORS

        probes = [(p, canonical_json(p), canonical_json(self.finalise(p))) for p in LIBRARY.values()]
        out = set()
        for op in OPERATORS:
            children = [(op(p), key, final) for p, key, final in probes]
            changed = [(c, final) for c, key, final in children if canonical_json(c) != key]
            if changed and all(canonical_json(self.finalise(c)) == final for c, final in changed):
                out.add(op.name)
        return frozenset(out)


@dataclass
class Told:
    """One evaluated program as a proposer remembers it."""

    program: Program
    hash: str
    value: float
    fidelity: float
    result: TrialResult | None = None


class ProgramProposer(ABC):
    """Base of every program proposer (see the module docstring).

    Args:
        max_resample: duplicate proposals tolerated per ``ask`` before substituting.
    """

    name: ClassVar[str] = "proposer"

    def __init__(self, max_resample: int = 8):
        self.max_resample = int(max_resample)
        self.task = DesignTask("unset")
        self.budget = Budget(1)
        self.rng = np.random.default_rng(0)
        self.seed = 0
        self.store: Any = None
        self.run_id: str | None = None
        self.history: list[Told] = []
        self.seen: set[str] = set()
        self.pending: dict[str, Program] = {}
        self.sources: Counter[str] = Counter()
        self.duplicates = 0
        self.substitutions = 0
        self._asked = 0
        self._ready = False

    # ------------------------------------------------------------------ ask/tell API
    def reset(self, task: DesignTask, budget: Budget, seed: int, store: Any = None, run_id: str | None = None) -> None:
        """Start a new search. With a ``store``, programs it already holds for ``task.name`` count
        as seen (never proposed again) and are part of the history language models read."""
        self.task, self.budget, self.seed = task, budget, int(seed)
        self.rng = np.random.default_rng(seed)
        self.store, self.run_id = store, run_id
        self.history, self.seen, self.pending = [], set(), {}
        self.sources, self.duplicates, self.substitutions, self._asked = Counter(), 0, 0, 0
        if store is not None:
            from agenticrs.policies.proposers.knowledge import stored_programs

            for told in stored_programs(store, task.name, task.metric):
                self.seen.add(told.hash)
                self.history.append(told)
        self._ready = True
        self._setup()

    def ask(self) -> Program:
        """The next program: valid, finalised, never one already seen or pending."""
        if not self._ready:
            raise RuntimeError(f"{type(self).__name__}: call reset() before ask()")
        if self._asked >= self.budget.max_trials:
            raise BudgetExhausted(f"{self.name}: asked for program {self._asked + 1} of a "
                                  f"{self.budget.max_trials}-program budget")
        choice: tuple[Program, str] | None = None
        for _ in range(self.max_resample + 1):
            proposed = self._propose()
            if proposed is None:
                break
            program, source = self.task.finalise(proposed[0]), proposed[1]
            if not self.taken(program):
                choice = (program, source)
                break
            self.duplicates += 1
        if choice is None:
            choice = (self.random_unseen(), "substitute")
            self.substitutions += 1
        program, source = choice
        h = program_hash(program)
        self.pending[h] = program
        self.sources[source] += 1
        self._asked += 1
        return program

    def tell(self, program: Program, result: TrialResult | float, fidelity: float | None = None) -> None:
        """Record a result (a :class:`TrialResult`, or a plain value for tests and tables)."""
        h = program_hash(program)
        if isinstance(result, TrialResult):
            value, fid = result_value(result, self.task.metric), float(result.fidelity)
        else:
            value, fid = float(result) if result == result else -math.inf, 1.0
        fid = fid if fidelity is None else float(fidelity)
        told = Told(program, h, value, fid, result if isinstance(result, TrialResult) else None)
        self.history.append(told)
        self.seen.add(h)
        self.pending.pop(h, None)
        self._tell(told)

    # ------------------------------------------------------------------ helpers
    def taken(self, program: Program) -> bool:
        h = program_hash(program)
        return h in self.seen or h in self.pending

    def random_unseen(self, max_tries: int = 200) -> Program:
        """A random valid program from the grammar, finalised and unseen."""
        for _ in range(max_tries):
            p = self.task.finalise(sample_program(self.rng, self.task.limits, self.task.n_items))
            if not self.taken(p):
                return p
        raise RuntimeError(f"{self.name}: no unseen program in {max_tries} random draws")

    def is_valid(self, program: Program) -> bool:
        try:
            validate(self.task.finalise(program), self.task.limits, self.task.n_items)
            return True
        except (ValueError, RuntimeError):
            return False

    def best(self, k: int = 1, full_only: bool = True) -> list[Told]:
        """The ``k`` best distinct programs told so far (full fidelity only unless none is)."""
        pool = [t for t in self.history if t.fidelity >= 1.0 - 1e-9] if full_only else list(self.history)
        pool = pool or list(self.history)
        ranked = sorted(pool, key=lambda t: t.value, reverse=True)
        out, hashes = [], set()
        for t in ranked:
            if t.hash not in hashes:
                out.append(t)
                hashes.add(t.hash)
        return out[:k]

    def stats(self) -> dict[str, Any]:
        """Counts for reports: proposals by source, duplicates refused, substitutions."""
        return {"asked": self._asked, "sources": dict(self.sources), "duplicates": self.duplicates,
                "substitutions": self.substitutions}

    @staticmethod
    def key(program: Program) -> str:
        return canonical_json(program)

    # ------------------------------------------------------------------ subclass hooks
    def _setup(self) -> None:
        """Per-search initialisation (``task``, ``budget``, ``rng``, ``history`` are set)."""

    @abstractmethod
    def _propose(self) -> tuple[Program, str] | None:
        """A candidate and its source label (``None``: nothing to offer; the base substitutes)."""

    def _tell(self, told: Told) -> None:
        """Hook after ``history`` is updated."""


__all__ = ["BudgetExhausted", "DesignTask", "ProgramProposer", "Told"]
