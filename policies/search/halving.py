"""Successive halving (Jamieson & Talwalkar 2016) over the AutoTrain fidelity dimension.

A bracket evaluates ``n`` random configurations at the lowest fidelity, promotes the best
``n / eta`` to the next fidelity, and so on up to full training. Brackets are sized to the
trial budget left (the largest ``n`` whose rungs fit) and repeat while budget remains.
Closed-form families (Pop, ItemKNN) have no fidelity: their first result is already a
full one, so they are promoted without spending another trial.

It needs a fidelity dimension: on a space without one (Compose, AutoFeature, AutoPerf)
:meth:`SuccessiveHalving.reset` raises ``ValueError`` naming the env, rather than silently
running random search under the ``halving`` name.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agenticrs.envs.core import TrialResult
from agenticrs.policies.base import Searcher


def bracket_sizes(budget: int, rungs: int, eta: float) -> list[int]:
    """Configurations per rung of the largest bracket whose trials fit in ``budget``.

    ``bracket_sizes(20, 2, 3) == [15, 5]``; always at least one configuration per rung
    (a budget smaller than ``rungs`` gives ``[budget]``: one rung).
    """
    if budget < 1:
        return []
    if budget < rungs:
        return [budget]
    best = [1] * rungs
    for n in range(1, budget + 1):
        sizes = [max(1, int(n / eta**r)) for r in range(rungs)]
        if sum(sizes) > budget:
            break
        best = sizes
    return best


class SuccessiveHalving(Searcher):
    """Synchronous successive halving, fidelities from low to high.

    Args:
        eta: keep the best ``1 / eta`` of each rung.
    """

    name = "halving"

    def __init__(self, eta: float = 3.0, metric: str | None = None):
        super().__init__(metric)
        if not eta > 1:
            raise ValueError(f"eta must be > 1, got {eta}")
        self.eta = eta

    def applies_to(self, space: Any) -> str | None:
        from agenticrs.policies.search_space import search_space

        sp = search_space(space)
        if not sp.has_fidelity:
            return (f"successive halving needs a fidelity dimension; {sp.label} has a single fidelity "
                    f"{sp.fidelities}: use random, grid, evolution or tpe there")
        return None

    def _setup(self) -> None:
        assert self.space is not None
        sp = self.space
        reason = self.applies_to(sp)
        if reason:
            raise ValueError(reason)
        # Fidelity indices from the lowest to the highest fraction of training.
        self._rung_fid = sorted(range(len(sp.fidelities)), key=lambda i: sp.fidelities[i])
        self._queue: list[int] = []  # pair ids to propose in the current rung
        self._rung_results: list[tuple[int, float]] = []  # (config pair at full fidelity, value)
        self._rung = 0
        self._sizes: list[int] = []
        self._configs_full = self.candidates(0)  # configurations, identified by their full-fidelity pair

    def _at_rung(self, full_pid: int, rung: int) -> int:
        config, _ = self.pairs[full_pid]
        return self.pair_of(config, self.space.fidelities[self._rung_fid[rung]])  # type: ignore[union-attr]

    def _closed_form(self, full_pid: int) -> bool:
        return self.space.fixed_fidelity(full_pid)  # type: ignore[union-attr]

    def _new_bracket(self) -> None:
        left = self.budget.max_trials - self._asked
        self._sizes = bracket_sizes(left, len(self._rung_fid), self.eta)
        unseen = [p for p in self._configs_full if self._at_rung(p, 0) not in self.seen]
        pool = unseen if len(unseen) >= self._sizes[0] else self._configs_full
        picks = self.rng.choice(len(pool), size=min(self._sizes[0], len(pool)), replace=False)
        self._rung = 0
        self._queue = [pool[int(i)] for i in picks]
        self._rung_results = []
        self._carried: list[tuple[int, float]] = []

    def _promote(self) -> None:
        """Move the best of the finished rung to the next fidelity."""
        ranked = sorted(self._rung_results + self._carried, key=lambda m: m[1], reverse=True)
        self._rung += 1
        keep = ranked[: self._sizes[self._rung]] if self._rung < len(self._sizes) else []
        # Closed-form configurations are already fully trained: they stay in the race for free.
        self._carried = [m for m in keep if self._closed_form(m[0])]
        self._queue = [m[0] for m in keep if not self._closed_form(m[0])]
        self._rung_results = []

    def _ask(self) -> np.ndarray:
        while not self._queue:
            if self._sizes and self._rung + 1 < len(self._sizes) and (self._rung_results or self._carried):
                self._promote()
            else:
                self._new_bracket()
        full_pid = self._queue.pop(0)
        rung = self._rung if not self._closed_form(full_pid) else 0
        return self.action_of(self._at_rung(full_pid, rung))

    def _tell(self, pid: int, value: float, result: TrialResult) -> None:
        config, _ = self.pairs[pid]
        self._rung_results.append((self.pair_of(config, self.space.fidelities[0]), value))  # type: ignore[union-attr]

