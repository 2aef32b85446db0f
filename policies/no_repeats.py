"""A trained policy that never spends a trial on a configuration it already tried.

Search baselines get deduplication from the shared ask/tell layer
(:meth:`~agenticrs.policies.base.Searcher.ask`); a trained PPO policy acts on observations
and, near convergence, keeps proposing its favourite configuration: each repeat costs a trial
and teaches nothing. :class:`NoRepeats` applies the same rule to it, so ``agenticrs autotune``
and ``bench evolution`` compare every method under one protocol:

1. the inner policy's action, canonicalised (irrelevant dimensions ignored);
2. while that (configuration, fidelity) pair was tried in this episode, an action sampled
   from the inner policy (a deterministic SB3 / RLlib policy is switched to sampling for
   that call; up to ``resamples`` draws);
3. if it still repeats, a seeded uniform draw among the untried full-fidelity pairs.

On an action space the search baselines do not know (no :class:`SearchSpace` view) or an
action that is not a search candidate, the inner action passes through unchanged.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from agenticrs.policies.base import Policy, env_search_space
from agenticrs.policies.search_space import SearchSpace


class NoRepeats(Policy):
    """Wrap ``inner`` so that no canonical configuration is proposed twice in an episode.

    Args:
        inner: the trained policy (``SB3Policy``, ``RLlibPolicy``... anything with ``act``).
        resamples: draws from the inner policy before a uniform untried pair is taken.

    ``name`` and ``obs_mode`` are the inner policy's; ``tried`` holds the episode's pair ids
    (every observed action counts, including ones replayed from a journal).
    """

    def __init__(self, inner: Policy, resamples: int = 16):
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]
        self.obs_mode = inner.obs_mode
        self.resamples = resamples
        self.view: SearchSpace | None = None
        self.tried: set[int] = set()
        self.rng = np.random.default_rng(0)

    def begin(self, env: gym.Env, seed: int) -> None:
        self.inner.begin(env, seed)
        try:
            self.view = env_search_space(env)
        except TypeError:  # e.g. OpenDesign's programs: nothing canonical to compare, pass through
            self.view = None
        self.tried = set()
        self.rng = np.random.default_rng(seed)

    def _pid(self, action: Any) -> int | None:
        if self.view is None:
            return None
        try:
            return self.view.pair_id(np.asarray(action, dtype=np.int64))
        except (ValueError, TypeError):  # not a search candidate: the env decides what it means
            return None

    def _sample(self, obs: Any) -> np.ndarray:
        """One action drawn from the inner policy's distribution (not its mode)."""
        mode = getattr(self.inner, "deterministic", None)
        if mode is None:
            return np.asarray(self.inner.act(obs), dtype=np.int64)
        self.inner.deterministic = False  # type: ignore[attr-defined]
        try:
            return np.asarray(self.inner.act(obs), dtype=np.int64)
        finally:
            self.inner.deterministic = mode  # type: ignore[attr-defined]

    def act(self, obs: Any) -> np.ndarray:
        action = np.asarray(self.inner.act(obs), dtype=np.int64)
        pid = self._pid(action)
        if pid is None or self.view is None:
            return action
        for _ in range(self.resamples):
            if pid not in self.tried:
                break
            drawn = self._pid(self._sample(obs))
            pid = drawn if drawn is not None else pid  # a draw that is no candidate does not count
        if pid in self.tried:
            full = self.view.fidelities[0]
            unseen = [p for p, (_, f) in enumerate(self.view.pairs) if f == full and p not in self.tried]
            if unseen:
                pid = unseen[int(self.rng.integers(len(unseen)))]
        return self.view.action_of(pid)

    def observe(self, action: np.ndarray, obs: Any, reward: float, info: dict[str, Any]) -> None:
        pid = self._pid(action)
        if pid is not None:
            self.tried.add(pid)
        self.inner.observe(action, obs, reward, info)
