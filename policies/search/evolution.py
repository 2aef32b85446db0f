"""Regularised (aging) evolution (Real et al., "Regularized Evolution for Image Classifier
Architecture Search", AAAI 2019): tournament selection, one-dimension mutation, oldest dies."""

from __future__ import annotations

from collections import deque

import numpy as np

from agenticrs.envs.core import TrialResult
from agenticrs.policies.base import Searcher


class RegularizedEvolution(Searcher):
    """Aging evolution over full-fidelity configurations.

    The first ``population`` trials are random; then each trial mutates the best of
    ``sample`` members drawn from the population (the last ``population`` results), so old
    members age out whatever their fitness.

    Args:
        population: population size (capped at the trial budget's half, so a short budget
            still evolves).
        sample: tournament size.
        max_retries: mutations tried before falling back to a random unseen configuration.
    """

    name = "evolution"

    def __init__(self, population: int = 10, sample: int = 3, max_retries: int = 20, metric: str | None = None):
        super().__init__(metric)
        if population < 1 or sample < 1:
            raise ValueError(f"population ({population}) and sample ({sample}) must be >= 1")
        self.population = population
        self.sample = sample
        self.max_retries = max_retries

    def _setup(self) -> None:
        self._pool = self.candidates(0)
        self._size = max(1, min(self.population, self.budget.max_trials // 2))
        self._members: deque[tuple[int, float]] = deque(maxlen=self._size)

    def _ask(self) -> np.ndarray:
        if len(self._members) < self._size:
            return self.action_of(self.random_unseen(self._pool))
        members = list(self._members)
        picks = self.rng.choice(len(members), size=min(self.sample, len(members)), replace=False)
        parent = max((members[i] for i in picks), key=lambda m: m[1])[0]
        for _ in range(self.max_retries):
            child = self._mutate(parent)
            if child not in self.seen:
                return self.action_of(child)
        return self.action_of(self.random_unseen(self._pool))

    def _tell(self, pid: int, value: float, result: TrialResult) -> None:
        self._members.append((pid, value))  # deque(maxlen): appending removes the oldest

    def _mutate(self, pid: int) -> int:
        """Change one applicable choice (family included, fidelity excluded) of ``pid``."""
        assert self.space is not None
        return self.space.mutate(pid, self.rng)
