"""Judging joint pipelines of ``AgenticRS-v0``: the joint search space, episode traces, regret.

Every method (multi-agent PPO, independent agents, search baselines) leaves a
:class:`JointTrace`: per round the pipeline it evaluated, what it observed, the simulated
compute spent so far and the pipeline it would ship after that round (its *final pipeline*
if the budget ended there). Traces are scored with the **noise-free** outer objective
(:func:`~agenticrs.envs.agentic.joint_eval.evaluate` with ``expected=True``: expected relative
click lift against the all-default pipeline plus the SLA term), whatever noisy A/B outcomes
the method itself saw, and against the **best joint configuration known**: an exhaustive pass
over the joint space's 32,256 canonical pipelines on the cached backend (:func:`best_known`,
a few seconds per task, memoised per process).

Normalised regret of a pipeline ``p`` on a task: ``(O* - O(p)) / (O* - O(default))``: 0 at the
best pipeline, 1 at the default one (it can exceed 1: worse than not evolving at all).
Simulated compute: the live training seconds (``PipelineResult.train_seconds``) of the distinct
pipelines evaluated so far (a re-evaluated pipeline is not charged again).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from agenticrs.envs.agentic.spaces import (
    AGENTS,
    COMPOSER_CHOICES,
    FEATURE_CHOICES,
    MODEL_CHOICES,
    SERVING_CHOICES,
    JointConfig,
    repair_recall,
)
from agenticrs.envs.grid_space import ConditionalSpace

AGENT_CHOICES = {"model": MODEL_CHOICES, "feature": FEATURE_CHOICES, "serving": SERVING_CHOICES,
                 "composer": COMPOSER_CHOICES}
"""Each agent's choices; their names are distinct, so the joint space is their concatenation."""


# ---------------------------------------------------------------------- the joint space
@functools.lru_cache(maxsize=1)
def joint_space() -> ConditionalSpace:
    """The four agents' choices as ONE ``ConditionalSpace`` (nvec ``[2,2, 2,2, 3,3,2, 4,5,2,2,2]``,
    32,256 canonical pipelines): what the search baselines search through their ask/tell layer.
    Built once per process (a few seconds)."""
    choices = tuple(c for a in AGENTS for c in AGENT_CHOICES[a])
    return ConditionalSpace("pipeline", choices, repair=repair_recall)


def joint_of_values(values: Mapping[str, Any]) -> JointConfig:
    """The :class:`JointConfig` of a joint space's active values (``ConditionalSpace.values``)."""
    names = {a: [c.name for c in AGENT_CHOICES[a]] for a in AGENTS}
    return JointConfig(**{a: tuple(sorted((k, values[k]) for k in names[a] if k in values)) for a in AGENTS})


def joint_of_action(action: Any) -> JointConfig:
    """The pipeline a joint-space action stands for (repaired as the env repairs it)."""
    sp = joint_space()
    return joint_of_values(sp.values(sp.lookup(action)[0]))


# ---------------------------------------------------------------------- objective
_TASKS: dict[str, Any] = {}
"""Tasks seen by name (a Task object registers itself here, so the memo below keys on names)."""


def _task_name(task: Any) -> str:
    if isinstance(task, str):
        return task
    _TASKS[task.name] = task
    return task.name


@functools.lru_cache(maxsize=1)
def _outer_defaults() -> dict[str, float]:
    """The env's SLA arguments (``AgenticCore``'s defaults: the outer objective the env pays)."""
    import inspect

    from agenticrs.envs.agentic.core import AgenticCore

    params = inspect.signature(AgenticCore.__init__).parameters
    return {k: float(params[k].default) for k in ("latency_sla_ms", "memory_budget_mb", "sla_weight")}


@functools.lru_cache(maxsize=200_000)
def _expected(task_name: str, joint: JointConfig) -> tuple[float, float]:
    """``(noise-free outer objective, train seconds)``: ``joint_eval.evaluate(expected=True)``'s value
    (a test checks equality) from the backend's memoised results and the results' precomputed CTR,
    without its per-call overhead -- :func:`best_known` calls it 32,256 times per task (5 s, not 15-25 s)."""
    from agenticrs.envs.agentic.backend import make_agentic_backend
    from agenticrs.envs.agentic.joint_eval import _BACKENDS
    from agenticrs.envs.agentic.rewards import outer_terms
    from agenticrs.envs.suites import get_suite

    task = _TASKS.get(task_name) or get_suite("synthetic").task(task_name)
    backend = _BACKENDS.setdefault("cached", make_agentic_backend("cached"))
    r = backend.evaluate(task, joint, 0)
    if not r.ok:
        return -1.0, float(r.train_seconds)
    base = backend.evaluate(task, JointConfig.default(), 0)
    lift = (r.ctr - base.ctr) / max(base.ctr, 1e-6)
    return float(sum(outer_terms(lift, r.p99_ms, r.memory_mb, **_outer_defaults()).values())), float(r.train_seconds)


def expected_outer(task: Any, joint: JointConfig) -> float:
    """The noise-free outer objective of ``joint`` on ``task`` (a name of the synthetic suite or a Task)."""
    return _expected(_task_name(task), joint)[0]


def train_seconds(task: Any, joint: JointConfig) -> float:
    """Simulated live training seconds of ``joint``'s components on ``task``."""
    return _expected(_task_name(task), joint)[1]


@dataclass(frozen=True)
class BestKnown:
    """The best joint configuration known on a task and the reference values of regret."""

    task: str
    joint: JointConfig
    outer: float
    default_outer: float
    how: str = "exhaustive"


@functools.lru_cache(maxsize=None)
def best_known(task: str) -> BestKnown:
    """Exhaustive search of the joint space (the env's
    :func:`~agenticrs.envs.agentic.joint_eval.joint_configs`) on the cached backend, by the
    noise-free outer objective; about 5 s per task, memoised per process."""
    from agenticrs.envs.agentic.joint_eval import joint_configs

    joints = tuple(joint_configs())
    values = np.fromiter((expected_outer(task, j) for j in joints), dtype=float, count=len(joints))
    i = int(np.argmax(values))
    return BestKnown(task, joints[i], float(values[i]), expected_outer(task, JointConfig.default()),
                     f"exhaustive over {len(joints)} pipelines (cached backend, expected outer)")


def regret(task: str, outer: float) -> float:
    """``(O* - O) / (O* - O(default))`` (``nan`` when the default is already the best)."""
    b = best_known(task)
    span = b.outer - b.default_outer
    return (b.outer - outer) / span if span > 1e-12 else math.nan


# ---------------------------------------------------------------------- traces
@dataclass
class JointTrace:
    """One episode of one method on one task.

    Attributes:
        method / task / seed: what ran where (``train_seed``: which training run, for trained policies).
        evaluated: the pipeline evaluated in each round, ``[rounds]``.
        observed: what the method saw of it (the round's noisy outer objective).
        final: the pipeline the method would ship after each round (the best observed so far), ``[rounds]``.
        shipped: RL only: the env's incumbent after each round (A/B-gated shipping).
        compute: cumulative simulated training seconds after each round, ``[rounds]``.
    """

    method: str
    task: str
    seed: int
    train_seed: int | None = None
    evaluated: list[JointConfig] = field(default_factory=list)
    observed: list[float] = field(default_factory=list)
    final: list[JointConfig] = field(default_factory=list)
    compute: list[float] = field(default_factory=list)
    shipped: list[JointConfig] = field(default_factory=list)
    _charged: set = field(default_factory=set, repr=False)

    def add(self, evaluated: JointConfig, observed: float, final: JointConfig) -> None:
        if evaluated not in self._charged:
            self._charged.add(evaluated)
            spent = train_seconds(self.task, evaluated)
        else:
            spent = 0.0
        self.evaluated.append(evaluated)
        self.observed.append(float(observed))
        self.final.append(final)
        self.compute.append((self.compute[-1] if self.compute else 0.0) + spent)

    def scores(self) -> dict[str, list[float]]:
        """``{"outer": [rounds], "regret": [rounds], "compute": [rounds]}`` of the final pipeline per round."""
        outer = [expected_outer(self.task, j) for j in self.final]
        return {"outer": outer, "regret": [regret(self.task, o) for o in outer], "compute": list(self.compute)}

    def to_dict(self) -> dict[str, Any]:
        s = self.scores()
        out = {"method": self.method, "task": self.task, "seed": self.seed, "train_seed": self.train_seed, **s,
               "final_pipeline": self.final[-1].to_dict() if self.final else None, "observed": self.observed}
        if self.shipped:
            out["shipped_outer"] = [expected_outer(self.task, j) for j in self.shipped]
        return out


def ab_seed(seed: int, trial: int) -> int:
    """The A/B draw of trial ``trial`` of episode ``seed`` (shared by every method: common random numbers)."""
    return seed * 100_003 + trial


def observed_outer(task: Any, joint: JointConfig, seed: int, trial: int, **outer_kwargs: Any) -> float:
    """One simulated A/B period of ``joint`` against the default pipeline (+ SLA): what a trial shows."""
    from agenticrs.envs.agentic.joint_eval import evaluate

    return float(evaluate(task, joint, seed=ab_seed(seed, trial), **outer_kwargs).outer)


def run_policy_episode(env: Any, policy: Any, task: str, seed: int, method: str | None = None) -> JointTrace:
    """One episode of a multi-agent ``policy`` (``begin(env, seed)``, ``act({agent: obs}) -> {agent: action}``)
    on ``env`` (an ``AgenticRSEnv``).

    The final pipeline after each round is chosen by the rule the search baselines use: the best
    of the pipelines evaluated so far by one A/B period each against the default pipeline (the
    same draws as theirs, :func:`observed_outer`), so methods differ only in what they evaluate.
    The env's own incumbent (the last pipeline that won its A/B against the previous one) is kept
    in ``trace.shipped``.
    """
    u = getattr(env, "unwrapped", env)
    obs, _ = u.reset(seed=seed, options={"task": task})
    policy.begin(u, seed)
    trace = JointTrace(method or getattr(policy, "name", "policy"), task, seed)
    outer_kwargs = {k: getattr(u.core, k) for k in ("ab_share", "ab_requests", "latency_sla_ms", "memory_budget_mb",
                                                    "sla_weight") if hasattr(u.core, k)}
    best, best_joint = -math.inf, JointConfig.default()
    done = False
    while not done:
        obs, _, terms, truncs, infos = u.step(policy.act(obs))
        joint = u.core.joint
        seen = observed_outer(task, joint, seed, len(trace.evaluated), **outer_kwargs)
        if seen > best:
            best, best_joint = seen, joint
        trace.add(joint, seen, best_joint)
        trace.shipped.append(u.core.incumbent)
        done = bool(terms.get("__all__", u.core.done))
    return trace


def summarise(traces: Sequence[JointTrace]) -> dict[str, dict[str, Any]]:
    """Per method: mean ± s.e. over (task, seed) of the final outer objective and regret, and the
    per-round curves (means) of regret and compute."""
    by: dict[str, list[dict[str, list[float]]]] = {}
    shipped: dict[str, list[float]] = {}
    for t in traces:
        by.setdefault(t.method, []).append(t.scores())
        if t.shipped:
            shipped.setdefault(t.method, []).append(expected_outer(t.task, t.shipped[-1]))
    out = {}
    for m, scores in by.items():
        outer = np.asarray([s["outer"][-1] for s in scores])
        reg = np.asarray([s["regret"][-1] for s in scores])
        n = len(scores)
        curve = np.nanmean(np.asarray([s["regret"] for s in scores], dtype=float), axis=0)
        comp = np.mean(np.asarray([s["compute"] for s in scores], dtype=float), axis=0)
        out[m] = {"n": n, "outer": [float(np.mean(outer)), float(np.std(outer, ddof=1) / np.sqrt(n)) if n > 1 else 0.0],
                  "regret": [float(np.nanmean(reg)), float(np.nanstd(reg, ddof=1) / np.sqrt(n)) if n > 1 else 0.0],
                  "regret_by_round": curve.tolist(), "compute_by_round": comp.tolist()}
        if m in shipped:  # the env's own A/B-gated incumbent at the end (RL methods)
            out[m]["shipped_outer"] = float(np.mean(shipped[m]))
    return out


def _ms(xs: Sequence[float]) -> list[float]:
    a = np.asarray(xs, dtype=float)
    return [float(np.nanmean(a)), float(np.nanstd(a, ddof=1) / np.sqrt(len(a))) if len(a) > 1 else 0.0]


def evaluate_policy(policy: Any, env: Any, tasks: Sequence[str], episodes: int) -> dict[str, dict[str, Any]]:
    """Per task, ``episodes`` seeded episodes of a multi-agent ``policy`` on ``env`` (an ``AgenticRSEnv``
    built with the policy's ``obs_mode``): mean ± s.e. of the final pipeline's noise-free outer
    objective and normalised regret (``nan`` off the cached backend: no exhaustive reference),
    the env's shipped incumbent's outer objective and the simulated compute.
    """
    u = getattr(env, "unwrapped", env)
    cached = type(u.core.backend).__name__ == "CachedBackend"
    report: dict[str, dict[str, Any]] = {}
    for name in tasks:
        traces = [run_policy_episode(u, policy, name, s) for s in range(episodes)]
        scores = [t.scores() for t in traces]
        report[name] = {
            "rounds": len(traces[0].evaluated),
            "outer": _ms([s["outer"][-1] for s in scores]),
            "regret": _ms([s["regret"][-1] if cached else math.nan for s in scores]),
            "shipped_outer": _ms([expected_outer(name, t.shipped[-1]) for t in traces]),
            "compute_seconds": _ms([s["compute"][-1] for s in scores]),
            "final_pipelines": [t.final[-1].to_dict() for t in traces],
        }
    return report
