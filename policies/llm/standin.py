"""A tiny deterministic stand-in for a language model: tests and dry runs without weights.

Same prompt, schema and seed -> same reply, in any process. With a ``schema`` it writes a
random *instance of the schema* (each optional property with probability ``p_field``, enums,
ranges, ``anyOf`` branches, arrays), drawn from a generator seeded by the call; that follows the
JSON grammar but not the language's cross-field rules, so some replies fail validation, as a
real model's do, and the proposer's repair path runs. Without a schema it echoes the last JSON
object of the prompt (a "copy the example" model). ``script`` replaces all that with fixed
replies, in order (then cycling): for tests of parsing, repair and retries.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any, Mapping, Sequence

import numpy as np

from agenticrs.policies.llm.base import Completion, GenerationParams, LanguageModel
from agenticrs.policies.llm.cache import ResponseCache


class StandInModel(LanguageModel):
    """Deterministic replies (see the module docstring).

    Args:
        script: fixed replies returned in order, cycling (``None``: schema sampling / echo).
        p_field: probability that an optional object property is written.
        cache, token_budget: see :class:`~agenticrs.policies.llm.base.LanguageModel`.
    """

    name = "standin"

    def __init__(self, script: Sequence[str] | None = None, p_field: float = 0.35,
                 cache: ResponseCache | str | None = None, token_budget: int | None = None):
        super().__init__(cache, token_budget)
        if script is not None and not script:
            raise ValueError("StandInModel: script must hold at least one reply")
        self.script = list(script) if script is not None else None
        self.p_field = float(p_field)
        self.prompts: list[str] = []
        """Every prompt received, in order (tests read what the proposer asked)."""

    def _generate(self, prompt: str, schema: Mapping[str, Any] | None, params: GenerationParams) -> Completion:
        self.prompts.append(prompt)
        if self.script is not None:
            return Completion(self.script[(len(self.prompts) - 1) % len(self.script)], self.name)
        digest = hashlib.sha256(json.dumps([prompt, params.seed, params.temperature]).encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        if schema is not None:
            return Completion(json.dumps(self._instance(schema, rng, depth=0)), self.name)
        objects = re.findall(r"\{.*\}", prompt)
        return Completion(objects[-1] if objects else "{}", self.name)

    # ------------------------------------------------------------------ schema sampling
    def _instance(self, s: Mapping[str, Any], rng: np.random.Generator, depth: int) -> Any:
        if "const" in s:
            return s["const"]
        if "enum" in s:
            return s["enum"][int(rng.integers(len(s["enum"])))]
        if "anyOf" in s or "oneOf" in s:
            options = s.get("anyOf") or s["oneOf"]
            return self._instance(options[int(rng.integers(len(options)))], rng, depth + 1)
        kind = s.get("type")
        if kind == "object":
            required = set(s.get("required", ()))
            return {k: self._instance(v, rng, depth + 1) for k, v in s.get("properties", {}).items()
                    if k in required or rng.random() < self.p_field}
        if kind == "array":
            lo = int(s.get("minItems", 0))
            hi = int(s.get("maxItems", lo + 3))
            n = int(rng.integers(lo, min(hi, lo + 4) + 1))
            return [self._instance(s.get("items", {}), rng, depth + 1) for _ in range(n)]
        if kind == "boolean":
            return bool(rng.random() < 0.5)
        if kind == "integer":
            lo, hi = int(s.get("minimum", 0)), int(s.get("maximum", 100))
            # Log-uniform: ranges such as [1, 4096] should not mostly give huge values.
            return int(round(math.exp(rng.uniform(math.log(max(lo, 1)), math.log(max(hi, 1)))))) if lo >= 1 \
                else int(rng.integers(lo, hi + 1))
        if kind == "number":
            lo, hi = float(s.get("minimum", 0.0)), float(s.get("maximum", 1.0))
            if lo > 0:
                return float(f"{math.exp(rng.uniform(math.log(lo), math.log(hi))):.3g}")
            return float(f"{rng.uniform(lo, hi):.3g}")
        if kind == "string":
            return "x"
        return None


__all__ = ["StandInModel"]
