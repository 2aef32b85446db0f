"""Proposers of recommender *programs* (the design language), behind one ask/tell interface.

================  =====================================================================
``random``        programs sampled from the grammar
``evolution``     regularised evolution: mutation operators and block-list crossover
``llm``           a language model proposes from the task and the (program, score) history
``llm-mutation``  EvoPrompting-style: the model edits parents chosen by tournament
================  =====================================================================

Budgets, deduplication by canonical hash (the KnowledgeStore's programs included) and the
fixed training scheme sit once in :class:`~agenticrs.policies.proposers.base.ProgramProposer`;
:func:`~agenticrs.policies.proposers.pipeline.run_pipeline` runs generate -> screen -> select ->
full fidelity; :class:`~agenticrs.policies.proposers.policy.ProposerPolicy` runs any of them as an
evolution policy on ``agenticrs/OpenDesign-v0``. ``make_proposer("llm", model="smollm2")`` builds one by name.
"""

from __future__ import annotations

from typing import Any, Callable

from agenticrs.policies.proposers.base import DesignTask, ProgramProposer, Told
from agenticrs.policies.proposers.evolution import EvolutionProposer
from agenticrs.policies.proposers.llm import LLMMutationProposer, LLMProposer
from agenticrs.policies.proposers.pipeline import (
    BackendEvaluator,
    FunctionEvaluator,
    PipelineConfig,
    SearchTrace,
    run_pipeline,
)
from agenticrs.policies.proposers.policy import ProposerPolicy
from agenticrs.policies.proposers.random import RandomProposer

_PROPOSERS: dict[str, Callable[..., ProgramProposer]] = {
    "random": RandomProposer,
    "evolution": EvolutionProposer,
    "llm": LLMProposer,
    "llm-mutation": LLMMutationProposer,
}


def proposer_names() -> list[str]:
    return list(_PROPOSERS)


def register_proposer(name: str, factory: Callable[..., ProgramProposer], *, overwrite: bool = False) -> None:
    """Make ``factory`` available as ``make_proposer(name)``."""
    if name in _PROPOSERS and not overwrite:
        raise ValueError(f"proposer {name!r} is already registered; pass overwrite=True")
    _PROPOSERS[name] = factory


def make_proposer(name: str, **kwargs: Any) -> ProgramProposer:
    """A proposer by name; ``kwargs`` go to its constructor (``model=`` for the LLM ones)."""
    if name not in _PROPOSERS:
        raise ValueError(f"unknown proposer {name!r}; proposers: {', '.join(_PROPOSERS)}")
    return _PROPOSERS[name](**kwargs)


__all__ = ["BackendEvaluator", "DesignTask", "EvolutionProposer", "FunctionEvaluator", "LLMMutationProposer",
           "LLMProposer", "PipelineConfig", "ProgramProposer", "ProposerPolicy", "RandomProposer", "SearchTrace", "Told",
           "make_proposer", "proposer_names", "register_proposer", "run_pipeline"]
