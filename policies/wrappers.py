"""``EvolutionMetrics``: adds the benchmark's episode metrics to ``info`` for training loggers.

Both framework adapters wrap the env with it and log, at every episode end, ``env/best_ndcg``
(best validation metric found), ``env/regret`` (normalised regret of the incumbent, see
:mod:`agenticrs.policies.regret`) and ``env/trial_cost`` (mean live seconds per trial).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from agenticrs.policies.regret import Reference

INFO_KEY = "evolution"


class EvolutionMetrics(gym.Wrapper):
    """Puts ``info["evolution"] = {"best", "regret", "trial_cost", "compute", "trials"}`` in every step.

    A no-op for envs that have no ``task`` / ``incumbent`` (not evolution envs).
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        u = env.unwrapped
        self._active = hasattr(u, "incumbent") and hasattr(u, "backend")
        self._reference = Reference.of_env(env) if self._active else None
        self._compute = 0.0
        self._trials = 0

    def reset(self, **kwargs: Any):
        self._compute, self._trials = 0.0, 0
        return self.env.reset(**kwargs)

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self._active:
            u = self.env.unwrapped
            result = info.get("result")
            self._trials += 1
            self._compute += float(result.cost.get("seconds", 0.0)) if result is not None else 0.0
            task = u.task
            inc = u.incumbent
            best = float(inc.valid.get(task.metric, 0.0)) if inc is not None else 0.0
            info[INFO_KEY] = {
                "best": best, "regret": self._reference.regret(task, inc),  # type: ignore[union-attr]
                "trial_cost": self._compute / self._trials, "compute": self._compute, "trials": self._trials,
            }
        return obs, reward, terminated, truncated, info
