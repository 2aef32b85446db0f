"""Generate -> screen at low fidelity -> select -> full fidelity: a proposer's search loop.

Each round asks the proposer for ``generate`` programs, trains them at ``screen_fidelity`` (a
fraction of each program's epochs), keeps the ``select`` best by validation metric and trains
those at full fidelity; every result is told to the proposer (low-fidelity ones marked by their
fidelity, so an LLM's history and evolution's tournament see them). ``generate == select`` (or
``screen_fidelity == 1``) skips screening. Programs are evaluated by a
:class:`ProgramEvaluator`: a backend (the live backend trains in isolated workers, records each
trial in the KnowledgeStore and reuses what it holds) or any function of (program, fidelity, seed).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Protocol

from agenticrs.envs.core import Backend, Task, TrialResult
from agenticrs.policies.base import Budget, result_value
from agenticrs.policies.proposers.base import DesignTask, ProgramProposer
from agenticrs.policies.proposers.knowledge import trial_config
from agenticrs.recsys.design import Program, program_hash


class ProgramEvaluator(Protocol):
    def __call__(self, program: Program, fidelity: float, seed: int) -> TrialResult: ...


class BackendEvaluator:
    """Programs evaluated by an env backend (``live``: real training) on one task.

    Args:
        backend: e.g. ``LiveBackend(store, isolate=False, datasets={uri: dataset})``.
        task: the :class:`~agenticrs.envs.core.Task` (its ``data`` URI is what the backend loads).
    """

    def __init__(self, backend: Backend, task: Task):
        self.backend, self.task = backend, task

    def __call__(self, program: Program, fidelity: float, seed: int) -> TrialResult:
        return self.backend.evaluate(self.task, trial_config(program), fidelity, seed)


class FunctionEvaluator:
    """Programs scored by ``fn(program) -> float`` (tests, toy objectives): an ``ok`` result whose
    validation and test metric is the score (``NaN``/exception: a failed trial)."""

    def __init__(self, fn: Callable[[Program], float], task: str = "toy", metric: str = "ndcg@10"):
        self.fn, self.task, self.metric = fn, task, metric
        self.calls = 0

    def __call__(self, program: Program, fidelity: float, seed: int) -> TrialResult:
        self.calls += 1
        config = trial_config(program)
        try:
            value = float(self.fn(program)) * (0.5 + 0.5 * fidelity)
        except Exception as e:  # noqa: BLE001 -- a crashing objective is a failed trial, as in training
            return TrialResult(config, self.task, fidelity, seed, "failed", reason=f"{type(e).__name__}: {e}")
        if not math.isfinite(value):
            return TrialResult(config, self.task, fidelity, seed, "failed", reason="non-finite score")
        return TrialResult(config, self.task, fidelity, seed, "ok", {self.metric: value}, {self.metric: value},
                           {"seconds": 0.0})


@dataclass(frozen=True)
class PipelineConfig:
    """How many programs each stage sees.

    Attributes:
        rounds: generate/screen/select rounds.
        generate: programs asked per round.
        select: programs per round trained at full fidelity (the best ``select`` at screening).
        screen_fidelity: screening fidelity (fraction of a program's epochs).
    """

    rounds: int = 1
    generate: int = 8
    select: int = 8
    screen_fidelity: float = 0.25

    def __post_init__(self) -> None:
        if self.rounds < 1 or self.generate < 1 or not 1 <= self.select <= self.generate:
            raise ValueError(f"pipeline: need rounds >= 1, generate >= 1 and 1 <= select <= generate; got "
                             f"rounds={self.rounds}, generate={self.generate}, select={self.select}")
        if not 0 < self.screen_fidelity <= 1:
            raise ValueError(f"pipeline: screen_fidelity must lie in (0, 1], got {self.screen_fidelity}")

    @property
    def screens(self) -> bool:
        return self.select < self.generate and self.screen_fidelity < 1

    @property
    def proposals(self) -> int:
        return self.rounds * self.generate


@dataclass
class TraceRow:
    """One evaluation of a search, in order."""

    trial: int
    round: int
    stage: str  # "screen" | "full"
    program_hash: str
    source: str
    fidelity: float
    status: str
    valid: float
    test: float
    seconds: float
    cum_seconds: float
    """Training seconds of the search so far (this evaluation included)."""
    propose_seconds: float
    """Seconds the proposer spent in ``ask`` so far (a language model's generation time)."""
    best_valid: float
    best_test: float


@dataclass
class SearchTrace:
    """A finished search: every evaluation, the best full-fidelity program and the proposer's stats."""

    proposer: str
    seed: int
    rows: list[TraceRow] = field(default_factory=list)
    best_program: Program | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def best_valid(self) -> float:
        return self.rows[-1].best_valid if self.rows else -math.inf

    @property
    def best_test(self) -> float:
        return self.rows[-1].best_test if self.rows else -math.inf

    def to_dict(self) -> dict[str, Any]:
        from agenticrs.recsys.design import canonical_dict

        return {"proposer": self.proposer, "seed": self.seed, "rows": [asdict(r) for r in self.rows],
                "best_program": canonical_dict(self.best_program) if self.best_program else None,
                "stats": json.loads(json.dumps(self.stats, default=str))}


def run_pipeline(proposer: ProgramProposer, evaluator: ProgramEvaluator, task: DesignTask, config: PipelineConfig,
                 seed: int, *, store: Any = None, run_id: str | None = None,
                 on_row: Callable[[TraceRow], None] | None = None) -> SearchTrace:
    """Run ``config.rounds`` rounds of generate -> screen -> select -> full fidelity.

    Args:
        proposer: reset here with ``Budget(config.proposals)``.
        evaluator: ``(program, fidelity, seed) -> TrialResult``.
        on_row: called after each evaluation (progress lines).
    """
    proposer.reset(task, Budget(config.proposals), seed, store=store, run_id=run_id)
    trace = SearchTrace(proposer.name, seed)
    best_valid, best_test, cum, asking = -math.inf, -math.inf, 0.0, 0.0

    def evaluate(program: Program, source: str, fidelity: float, stage: str, rnd: int) -> TrialResult:
        nonlocal best_valid, best_test, cum
        result = evaluator(program, fidelity, seed)
        proposer.tell(program, result)
        value = result_value(result, task.metric)
        test = float(result.test.get(task.metric, math.nan)) if result.ok else math.nan
        seconds = float(result.cost.get("seconds", 0.0))
        cum += seconds
        if stage == "full" and value > best_valid:
            best_valid, best_test, trace.best_program = value, test, program
        row = TraceRow(len(trace.rows) + 1, rnd, stage, program_hash(program), source, float(fidelity),
                       result.status, value, test, seconds, cum, asking, best_valid, best_test)
        trace.rows.append(row)
        if on_row is not None:
            on_row(row)
        return result

    for rnd in range(config.rounds):
        batch: list[tuple[Program, str]] = []
        for _ in range(config.generate):
            before = dict(proposer.sources)
            start = time.perf_counter()
            program = proposer.ask()
            asking += time.perf_counter() - start
            source = next((s for s, n in proposer.sources.items() if n != before.get(s, 0)), "?")
            batch.append((program, source))
        if config.screens:
            scored = []
            for program, source in batch:
                r = evaluate(program, source, config.screen_fidelity, "screen", rnd)
                scored.append((result_value(r, task.metric), program, source))
            scored.sort(key=lambda x: x[0], reverse=True)
            batch = [(p, s) for v, p, s in scored[:config.select] if v > -math.inf] or []
        for program, source in batch:
            evaluate(program, source, 1.0, "full", rnd)
    trace.stats = {**proposer.stats(), "propose_seconds": asking}
    return trace


__all__ = ["BackendEvaluator", "FunctionEvaluator", "PipelineConfig", "ProgramEvaluator", "SearchTrace", "TraceRow",
           "run_pipeline"]
