"""Random search: uniform over the full-fidelity configurations, never the same one twice."""

from __future__ import annotations

import numpy as np

from agenticrs.policies.base import Searcher


class RandomSearch(Searcher):
    """Uniform random search without replacement.

    A seeded permutation of the pool is walked in order; the shared ask/tell layer
    (:meth:`Searcher.ask`) skips pairs already seen or pending, so the walk never repeats
    one until the whole space has been proposed.

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
        self._cursor = 0

    def _ask(self) -> np.ndarray:
        # Skip what another proposer path (a substitute, a resumed run) already took.
        while self._cursor < len(self._order) and self._taken(self._order[self._cursor]):
            self._cursor += 1
        if self._cursor < len(self._order):
            self._cursor += 1
            return self.action_of(self._order[self._cursor - 1])
        # The pool is exhausted: hand any of it back; the layer substitutes an unseen pair if one is left.
        return self.action_of(self._order[int(self.rng.integers(len(self._order)))])
