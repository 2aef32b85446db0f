"""The one language-model interface: ``complete(prompt, schema) -> text``.

Every backend (the HTTP client for OpenAI-compatible endpoints, the offline SmolLM2 model, the
deterministic stand-in used by tests) subclasses :class:`LanguageModel` and implements only
:meth:`LanguageModel._generate`. The public :meth:`LanguageModel.generate` does the bookkeeping
once, for all of them (a template method): the response cache, the token budget, usage counters.

``schema`` is a JSON Schema (a dict): a backend that can constrain decoding to it must (the
offline model does, token by token; an endpoint gets it as ``response_format``); the stand-in
samples an instance of it. Callers still parse and validate what comes back.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Mapping

from agenticrs.policies.llm.cache import ResponseCache


class LLMError(RuntimeError):
    """A language-model call failed (unreachable endpoint, an HTTP error, a malformed reply)."""


class TokenBudgetExceeded(LLMError):
    """The model's token budget is spent: no further call is made."""


@dataclass(frozen=True)
class Completion:
    """One model reply and what it cost.

    Attributes:
        text: the generated text (the reply only, not the prompt).
        model: the model's name.
        prompt_tokens / completion_tokens: token counts (the backend's own, or estimated).
        seconds: wall-clock time of the call (0 for a cache hit).
        cached: served from the response cache, without calling the model.
    """

    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "model": self.model, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "seconds": self.seconds, "cached": self.cached}


@dataclass
class Usage:
    """Running totals of one model object (what the token budget is checked against)."""

    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "cache_hits": self.cache_hits, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "tokens": self.tokens, "seconds": self.seconds}


def estimate_tokens(text: str) -> int:
    """A tokenizer-free token estimate (about 4 characters a token, as OpenAI documents for English)."""
    return max(1, (len(text) + 3) // 4) if text else 0


@dataclass
class GenerationParams:
    """Sampling settings of one call (part of the cache key)."""

    temperature: float = 0.7
    max_tokens: int = 512
    seed: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "max_tokens": self.max_tokens, "seed": self.seed,
                **dict(self.extra)}


class LanguageModel(ABC):
    """A text-completion model behind one small interface.

    Args:
        cache: a :class:`ResponseCache` (or its folder) replaying identical calls from disk.
            Only *reproducible* calls are cached: ``temperature == 0`` or an explicit ``seed``;
            a seedless sampled call must stay random.
        token_budget: prompt + completion tokens this object may spend (``None``: unlimited);
            a call made when the budget is spent raises :class:`TokenBudgetExceeded`.
    """

    name: str = "model"

    def __init__(self, cache: ResponseCache | str | None = None, token_budget: int | None = None):
        if token_budget is not None and token_budget < 1:
            raise ValueError(f"token_budget must be >= 1 or None, got {token_budget}")
        self.cache = ResponseCache(cache) if isinstance(cache, str) else cache
        self.token_budget = token_budget
        self.usage = Usage()

    # ------------------------------------------------------------------ public API
    def complete(self, prompt: str, schema: Mapping[str, Any] | None = None, **params: Any) -> str:
        """The model's reply to ``prompt`` (constrained to ``schema`` where the backend can)."""
        return self.generate(prompt, schema, **params).text

    def generate(self, prompt: str, schema: Mapping[str, Any] | None = None, *, temperature: float = 0.7,
                 max_tokens: int = 512, seed: int | None = None) -> Completion:
        """:meth:`complete` with the cost: cache lookup, budget check, the call, usage totals."""
        if not isinstance(prompt, str) or not prompt:
            raise ValueError("generate: prompt must be a non-empty string")
        if max_tokens < 1:
            raise ValueError(f"generate: max_tokens must be >= 1, got {max_tokens}")
        params = GenerationParams(float(temperature), int(max_tokens), seed)
        cacheable = self.cache is not None and (temperature == 0 or seed is not None)
        key = self.cache.key(self.name, prompt, {**params.to_dict(), "schema": schema}) if cacheable else ""
        if cacheable:
            hit = self.cache.get(key)
            if hit is not None:
                self.usage.cache_hits += 1
                return Completion(**{**hit, "cached": True, "seconds": 0.0})
        if self.token_budget is not None and self.usage.tokens >= self.token_budget:
            raise TokenBudgetExceeded(f"{self.name}: token budget of {self.token_budget} spent "
                                      f"({self.usage.tokens} tokens in {self.usage.calls} calls)")
        start = time.perf_counter()
        out = self._generate(prompt, schema, params)
        out = Completion(out.text, out.model or self.name, out.prompt_tokens or estimate_tokens(prompt),
                         out.completion_tokens or estimate_tokens(out.text), time.perf_counter() - start)
        self.usage.calls += 1
        self.usage.prompt_tokens += out.prompt_tokens
        self.usage.completion_tokens += out.completion_tokens
        self.usage.seconds += out.seconds
        if cacheable:
            self.cache.put(key, out.to_dict())
        return out

    def describe(self) -> dict[str, Any]:
        """What to record beside results: the backend, the model and its settings (no secrets)."""
        return {"backend": type(self).__name__, "model": self.name}

    # ------------------------------------------------------------------ backend hook
    @abstractmethod
    def _generate(self, prompt: str, schema: Mapping[str, Any] | None, params: GenerationParams) -> Completion:
        """Call the model once. Token counts of 0 are estimated by :meth:`generate`."""


__all__ = ["Completion", "GenerationParams", "LLMError", "LanguageModel", "TokenBudgetExceeded", "Usage",
           "estimate_tokens"]
