"""Run one evolution episode with any :class:`~agenticrs.policies.base.Policy` and trace it.

The trace holds, per trial, what the benchmark plots: the incumbent's normalised regret
(:mod:`agenticrs.policies.regret`) and the simulated compute spent (the live seconds the
trials would have cost).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from agenticrs.policies.base import Policy
from agenticrs.policies.regret import Reference


@dataclass
class TrialRecord:
    """One step of a traced episode (JSON-able)."""

    trial: int
    model: str
    params: dict[str, Any]
    fidelity: float
    status: str
    valid: float
    """Observed validation metric of this trial (NaN if it failed)."""
    seconds: float
    """Live seconds the trial costs."""
    compute: float
    """Cumulative live seconds including this trial."""
    regret: float
    """Normalised regret of the incumbent after this trial."""


@dataclass
class EpisodeTrace:
    """A whole episode: policy, task, seed, trials, and the final incumbent's metrics."""

    policy: str
    task: str
    seed: int
    metric: str
    best_known: float | None
    trials: list[TrialRecord] = field(default_factory=list)
    incumbent: dict[str, Any] | None = None
    """``{model, params, fidelity, valid, test, valid_mean, test_mean}`` of the final incumbent."""

    @property
    def regrets(self) -> list[float]:
        return [t.regret for t in self.trials]

    @property
    def final_regret(self) -> float:
        return self.trials[-1].regret if self.trials else 1.0

    @property
    def compute(self) -> float:
        return self.trials[-1].compute if self.trials else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_episode(env: gym.Env, policy: Policy, seed: int, task: str | None = None,
                reference: Reference | None = None) -> EpisodeTrace:
    """Reset ``env`` on ``task`` with ``seed``, let ``policy`` act until the budget ends, trace it."""
    u = env.unwrapped
    reference = reference or Reference.of_env(env)
    obs, info = env.reset(seed=seed, options={"task": task} if task else None)
    policy.begin(env, seed)
    t = u.task
    metric = t.metric
    trace = EpisodeTrace(policy.name, t.name, seed, metric, reference.best_known(t))
    compute = 0.0
    done = False
    while not done:
        action = np.asarray(policy.act(obs))
        obs, reward, terminated, truncated, info = env.step(action)
        done = terminated or truncated
        policy.observe(action, obs, float(reward), info)
        r = info["result"]
        seconds = float(r.cost.get("seconds", 0.0))
        compute += seconds
        trace.trials.append(TrialRecord(
            trial=len(trace.trials) + 1, model=r.config.model, params=r.config.param_dict, fidelity=r.fidelity,
            status=r.status, valid=float(r.valid.get(metric, float("nan"))) if r.ok else float("nan"),
            seconds=seconds, compute=compute, regret=reference.regret(t, u.incumbent, metric),
        ))
    inc = u.incumbent
    if inc is not None:
        vm, tm = reference.entry_means(inc, metric)
        trace.incumbent = {"model": inc.config.model, "params": inc.config.param_dict, "fidelity": inc.fidelity,
                           "valid": inc.valid.get(metric), "test": inc.test.get(metric),
                           "valid_mean": vm, "test_mean": tm}
    return trace
