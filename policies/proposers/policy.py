"""Any program proposer as an evolution policy on ``agenticrs/OpenDesign-v0`` (text actions).

The env owns the trial budget, the training (live backend, cache, screening) and the
KnowledgeStore; :class:`ProposerPolicy` only turns ``ask()`` into a program text action and the
step's ``info["result"]`` into ``tell``, so ``run_episode`` and ``agenticrs bench`` drive a
random, evolutionary or language-model proposer exactly like a trained RL policy.
"""

from __future__ import annotations

from typing import Any, Mapping

import gymnasium as gym

from agenticrs.policies.base import Policy, episode_budget
from agenticrs.policies.proposers.base import DesignTask, ProgramProposer
from agenticrs.recsys.design import Program, to_text


class ProposerPolicy(Policy):
    """``begin`` resets the proposer for the env's task (its start program as the base, its limits,
    its metric and budget, its KnowledgeStore); ``act`` asks; ``observe`` tells.

    Args:
        proposer: the proposer (``make_proposer("llm", model=...)``...).
        description: the task text a language model reads (default: names the env's task and data).
        fixed: ``train`` fields forced on every proposal (equal training budgets).
    """

    def __init__(self, proposer: ProgramProposer, description: str | None = None,
                 fixed: Mapping[str, Any] | None = None):
        self.proposer, self.description, self.fixed = proposer, description, dict(fixed or {})
        self.name = proposer.name  # type: ignore[misc]  # the benchmark tables' label
        self._last: Program | None = None

    def begin(self, env: gym.Env, seed: int) -> None:
        u = env.unwrapped
        if getattr(u, "action_mode", None) != "text":
            raise ValueError(f"ProposerPolicy needs OpenDesign's action_mode='text', got "
                             f"{getattr(u, 'action_mode', None)!r} on {type(u).__name__}")
        task = u.task
        text = self.description or (f"next-item recommendation on task {task.name} (data {task.data}); "
                                    f"maximise validation {task.metric}")
        dtask = DesignTask(task.name, text, limits=u.limits, metric=task.metric, base=u.start, fixed=self.fixed)
        self.proposer.reset(dtask, episode_budget(env), seed, store=u.store, run_id=u.run_id)

    def act(self, obs: Any) -> str:  # type: ignore[override]  # a Text action
        self._last = self.proposer.ask()
        return to_text(self._last)

    def observe(self, action: Any, obs: Any, reward: float, info: dict[str, Any]) -> None:
        if self._last is not None:
            self.proposer.tell(self._last, info["result"])


__all__ = ["ProposerPolicy"]
