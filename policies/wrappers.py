"""``EvolutionMetrics``: adds the benchmark's episode metrics to ``info`` for training loggers.

Both framework adapters wrap the env with it and log, at every episode end, ``env/best_ndcg``
(best validation metric found), ``env/regret`` (normalised regret of the incumbent, see
:mod:`agenticrs.policies.regret`) and ``env/trial_cost`` (mean live seconds per trial).

The metrics are computed once per episode (at its last step), not per step: the trainers read
them only there, and the regret look-up would otherwise be a sizeable part of a table-backed
step. ``slim_info=True`` (RLlib) also drops the rest of ``info``: RLlib's vector env copies and
converts every step's info dict into the episode, and the trainer reads none of it.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from agenticrs.policies.regret import Reference

INFO_KEY = "evolution"


class EvolutionMetrics(gym.Wrapper):
    """Puts ``info["evolution"] = {"best", "regret", "trial_cost", "compute", "trials"}`` in an
    episode's last step (terminated or truncated).

    A no-op for envs that have no ``task`` / ``incumbent`` (not evolution envs).

    Args:
        env: the env to wrap.
        slim_info: return only ``{"evolution": ...}`` at the last step and ``{}`` before it.
    """

    def __init__(self, env: gym.Env, slim_info: bool = False):
        super().__init__(env)
        u = env.unwrapped
        self._active = hasattr(u, "incumbent") and hasattr(u, "backend")
        self._reference = Reference.of_env(env) if self._active else None
        self._slim = slim_info
        self._compute = 0.0
        self._trials = 0

    def reset(self, **kwargs: Any):
        self._compute, self._trials = 0.0, 0
        obs, info = self.env.reset(**kwargs)
        return obs, ({} if self._slim else info)

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        metrics = None
        if self._active:
            result = info.get("result")
            self._trials += 1
            self._compute += float(result.cost.get("seconds", 0.0)) if result is not None else 0.0
            if terminated or truncated:
                metrics = self.episode_metrics()
        if self._slim:
            info = {}
        if metrics is not None:
            info[INFO_KEY] = metrics
        return obs, reward, terminated, truncated, info

    def episode_metrics(self) -> dict[str, float]:
        """The metrics of the episode so far (best metric, regret and cost of the incumbent)."""
        u = self.env.unwrapped
        task, inc = u.task, u.incumbent
        best = float(inc.valid.get(task.metric, 0.0)) if inc is not None else 0.0
        return {
            "best": best, "regret": self._reference.regret(task, inc),  # type: ignore[union-attr]
            "trial_cost": self._compute / max(self._trials, 1), "compute": self._compute, "trials": self._trials,
        }
