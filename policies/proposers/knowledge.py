"""Programs in the KnowledgeStore: how evaluated programs are written and read back.

A program's trial uses the OpenDesign env's trial config (:func:`~agenticrs.envs.opendesign.trial_config`:
the ``design`` model with the canonical program and its training fields), so a program evaluated
by the env, a proposer's pipeline or paper autotrain is the same row, and each finds the others' results.
"""

from __future__ import annotations

import math
from typing import Any

from agenticrs.envs.opendesign import MODEL as DESIGN_MODEL
from agenticrs.envs.opendesign import program_of, trial_config
from agenticrs.policies.base import result_value
from agenticrs.policies.proposers.base import Told
from agenticrs.recsys.design import program_hash


def stored_programs(store: Any, task: str, metric: str = "ndcg@10") -> list[Told]:
    """Every program evaluated on ``task`` in ``store`` (any status, oldest first)."""
    out = []
    for row in store.trials(task=task):
        program = program_of(row.result.config)
        if program is None:
            continue
        value = result_value(row.result, metric)
        out.append(Told(program, program_hash(program), value if value == value else -math.inf,
                        float(row.result.fidelity), row.result))
    return out


__all__ = ["DESIGN_MODEL", "program_of", "stored_programs", "trial_config"]
