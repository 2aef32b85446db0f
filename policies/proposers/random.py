"""``random``: programs sampled from the grammar (:func:`~agenticrs.recsys.design.sample_program`)."""

from __future__ import annotations

from agenticrs.policies.proposers.base import ProgramProposer
from agenticrs.recsys.design import Program, sample_program


class RandomProposer(ProgramProposer):
    """Independent draws from the design grammar (always valid; duplicates are re-drawn by the base)."""

    name = "random"

    def _propose(self) -> tuple[Program, str]:
        return sample_program(self.rng, self.task.limits, self.task.n_items), "random"
