"""Programs in the KnowledgeStore: how evaluated programs are written and read back.

A program's trial uses the OpenDesign env's trial config (the ``design`` model with the
canonical program and its training fields), so a program evaluated by the env, a proposer's
pipeline or paper autotrain is the same row, and each finds the others' results.
"""

from __future__ import annotations

import math
from typing import Any

from agenticrs.envs.core import TrialConfig
from agenticrs.policies.base import result_value
from agenticrs.policies.proposers.base import Told
from agenticrs.recsys.design import DesignError, Program, canonical_json, parse, program_hash, train_overrides

DESIGN_MODEL = "design"


def trial_config(program: Program) -> TrialConfig:
    """The TrialConfig of a program (the OpenDesign env's, when that module is installed)."""
    try:
        from agenticrs.envs.opendesign import trial_config as env_trial_config
    except ImportError:
        return TrialConfig.make(DESIGN_MODEL, program=canonical_json(program), **train_overrides(program))
    return env_trial_config(program)


def program_of(config: TrialConfig) -> Program | None:
    """The program of a ``design`` trial config (``None`` for another model or an unreadable one)."""
    if config.model != DESIGN_MODEL:
        return None
    source = config.param_dict.get("program")
    if not isinstance(source, str):
        return None
    try:
        return parse(source)
    except DesignError:
        return None


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
