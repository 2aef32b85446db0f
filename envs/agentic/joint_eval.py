"""Evaluate one joint configuration without RL: what search baselines call.

    from agenticrs.envs.agentic import JointConfig, evaluate
    ev = evaluate("syn-sparse", JointConfig.make(composer={"ranker": False}), seed=0)
    ev.outer, ev.result.valid["ndcg@10"], ev.result.p99_ms

The outer objective is the env's (:func:`~agenticrs.envs.agentic.rewards.simulate_outer`):
one simulated A/B period of the pipeline against ``incumbent`` (default: the all-default
pipeline, the env's starting incumbent) plus the SLA term. ``expected=True`` gives the
noise-free version (the expected relative click lift, no A/B draw), which search baselines
may prefer as their objective. :func:`exhaustive_best` scores every canonical joint
configuration that way (32,256 per task, about 2 s of CPU on the cached backend): the best
known joint configuration for normalised regret.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import numpy as np

from agenticrs.envs.agentic.assemble import PipelineResult
from agenticrs.envs.agentic.backend import make_agentic_backend
from agenticrs.envs.agentic.rewards import OuterOutcome, outer_terms, simulate_outer
from agenticrs.envs.agentic.spaces import AGENTS, JointConfig, agent_spaces
from agenticrs.envs.core import Task
from agenticrs.envs.suites import get_suite

_BACKENDS: dict[str, Any] = {}


@dataclass(frozen=True)
class JointEvaluation:
    """A joint configuration's pipeline result and outer objective.

    Attributes:
        result: the pipeline (validation / test metrics, p99, memory, train seconds).
        outer: the outer objective ``ab + sla`` (the quantity the env's outer reward pays).
        outcome: its terms and the A/B's lift and CI.
        incumbent: the pipeline it was compared against.
    """

    joint: JointConfig
    result: PipelineResult
    outer: float
    outcome: OuterOutcome
    incumbent: PipelineResult


def evaluate(task: str | Task, joint: JointConfig | Mapping[str, Mapping[str, Any]], seed: int = 0, *,
             backend: Any = "cached", suite: str = "synthetic", incumbent: JointConfig | None = None,
             expected: bool = False, ab_share: float = 0.5, ab_requests: int = 20000, latency_sla_ms: float = 30.0,
             memory_budget_mb: float = 0.6, sla_weight: float = 1.0) -> JointEvaluation:
    """Evaluate ``joint`` on ``task`` (a name of ``suite`` or a Task) with the env's outer objective.

    ``seed`` picks the cached backend's training seed and draws the A/B period. ``backend``
    is ``"cached"`` (one shared instance per process), ``"live"`` or a backend object.
    """
    if isinstance(task, str):
        task = get_suite(suite).task(task)
    if not isinstance(joint, JointConfig):
        joint = JointConfig.from_dict(joint)
    if isinstance(backend, str) and backend == "cached":
        backend = _BACKENDS.setdefault("cached", make_agentic_backend("cached"))
    else:
        backend = make_agentic_backend(backend)
    result = backend.evaluate(task, joint, seed)
    base = backend.evaluate(task, incumbent or JointConfig.default(), seed)
    if expected:
        from agenticrs.recsys.serving.ab import expected_ctr

        ref = max(expected_ctr(base.test_positions), 1e-6)
        lift = (expected_ctr(result.test_positions) - expected_ctr(base.test_positions)) / ref if result.ok else -1.0
        terms = outer_terms(lift, result.p99_ms, result.memory_mb, latency_sla_ms, memory_budget_mb, sla_weight)
        outcome = OuterOutcome(terms if result.ok else {"ab": -1.0, "sla": 0.0}, lift, lift, lift, 0.0)
    else:
        outcome = simulate_outer(result, base, seed, ab_share=ab_share, ab_requests=ab_requests,
                                 latency_sla_ms=latency_sla_ms, memory_budget_mb=memory_budget_mb,
                                 sla_weight=sla_weight)
    return JointEvaluation(joint, result, outcome.value, outcome, base)


def joint_configs() -> Iterator[JointConfig]:
    """Every canonical joint configuration (4 x 4 x 18 x 112 = 32,256), in a fixed order."""
    spaces = agent_spaces()
    parts = [[tuple(sorted(spaces[a].values(p).items())) for p in range(spaces[a].n_pairs)] for a in AGENTS]
    for combo in itertools.product(*parts):
        yield JointConfig(*combo)


@dataclass(frozen=True)
class ExhaustiveResult:
    """Every joint configuration's expected outer objective on one task (see :func:`exhaustive_best`)."""

    configs: tuple[JointConfig, ...]
    outer: np.ndarray
    """``[n_configs]`` expected outer objective against the default pipeline."""

    @property
    def best(self) -> JointConfig:
        return self.configs[int(np.argmax(self.outer))]

    @property
    def best_outer(self) -> float:
        return float(np.max(self.outer))

    def regret(self, outer: float, reference: float | None = None) -> float:
        """Normalised regret ``(best - outer) / (best - reference)``; reference default: the default pipeline (0)."""
        ref = 0.0 if reference is None else float(reference)
        return (self.best_outer - float(outer)) / max(self.best_outer - ref, 1e-12)


def exhaustive_best(task: str | Task, seed: int = 0, *, backend: Any = "cached", suite: str = "synthetic",
                    **outer_kwargs: Any) -> ExhaustiveResult:
    """Score every canonical joint configuration of ``task`` with :func:`evaluate` (``expected=True``).

    ``outer_kwargs`` (``latency_sla_ms``, ``memory_budget_mb``, ``sla_weight``) must match the env's.
    """
    configs = tuple(joint_configs())
    outer = np.asarray([evaluate(task, j, seed, backend=backend, suite=suite, expected=True, **outer_kwargs).outer
                        for j in configs])
    return ExhaustiveResult(configs, outer)

