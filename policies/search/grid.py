"""Grid search over the full-fidelity configurations, model families interleaved.

A plain nested loop would spend a small budget on the first family's grid; interleaving
the families (round robin) makes any prefix of the grid cover every family. On a
``ConditionalSpace`` env the groups are the values of the first searched choice
(Compose: the first recall agent; see :meth:`SearchSpace.group`).
"""

from __future__ import annotations

import numpy as np

from agenticrs.policies.base import Searcher


class GridSearch(Searcher):
    """Every configuration at one fidelity, families (top-level choices) round robin.

    Args:
        shuffle: permute each family's grid with the episode seed (``False``: enumeration
            order, the same for every seed).
        fidelity_index: index into ``space.fidelities`` (0: full training).
    """

    name = "grid"

    def __init__(self, shuffle: bool = True, fidelity_index: int = 0, metric: str | None = None):
        super().__init__(metric)
        self.shuffle = shuffle
        self.fidelity_index = fidelity_index

    def _setup(self) -> None:
        assert self.space is not None
        by_family: dict[object, list[int]] = {}
        for pid in self.candidates(self.fidelity_index):
            by_family.setdefault(self.space.group(pid), []).append(pid)
        queues = []
        for pids in by_family.values():
            queues.append([pids[i] for i in self.rng.permutation(len(pids))] if self.shuffle else list(pids))
        self._order: list[int] = []
        depth = max(len(q) for q in queues)
        for i in range(depth):
            self._order.extend(q[i] for q in queues if i < len(q))
        self._cursor = 0

    def _ask(self) -> np.ndarray:
        # A cursor, not the trial count: a proposal the dedup layer refuses moves the grid on.
        pid = self._order[self._cursor % len(self._order)]
        self._cursor += 1
        return self.action_of(pid)
