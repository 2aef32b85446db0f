"""Random search: uniform over the full-fidelity configurations, never the same one twice."""

from __future__ import annotations

import numpy as np

from agenticrs.policies.base import Searcher


class RandomSearch(Searcher):
    """Uniform random search without replacement.

    Args:
        fidelity_index: index into ``space.fidelities`` searched (0: full training;
            ``None``: every (configuration, fidelity) pair).
        metric: the validation metric (default: the task's).
    """

    name = "random"

    def __init__(self, fidelity_index: int | None = 0, metric: str | None = None):
        super().__init__(metric)
        self.fidelity_index = fidelity_index

    def _setup(self) -> None:
        pool = self.candidates(self.fidelity_index)
        self._order = [pool[i] for i in self.rng.permutation(len(pool))]

    def _ask(self) -> np.ndarray:
        # Past the end of the permutation (a budget larger than the space) repeats are drawn.
        i = self._asked
        pid = self._order[i] if i < len(self._order) else self._order[int(self.rng.integers(len(self._order)))]
        return self.action_of(pid)
