"""From a prompt to a valid program: generate, parse, validate, repair or retry, within a budget.

:class:`ProgramWriter` is what every language-model proposer (and paper autotrain) calls. One
:meth:`ProgramWriter.write` makes at most ``max_attempts`` model calls:

1. the task prompt; the reply's first JSON object is merged over a base program
   (:func:`~agenticrs.policies.llm.schema.merge_partial`) and validated;
2. a reply that does not parse or validate gets the ``repair`` prompt (the error and the reply);
3. a valid program the caller rejects (``reject``: e.g. already evaluated) gets the task prompt
   again with a new seed.

Every call is handed to ``record`` (a :class:`CallRecorder` writes it to the KnowledgeStore):
the prompt id and text, the raw reply, the parsed program or the error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from agenticrs.policies.llm.base import Completion, LanguageModel, LLMError
from agenticrs.policies.llm.prompts import PromptTemplate, load_prompt
from agenticrs.policies.llm.schema import merge_partial, program_schema
from agenticrs.recsys.design import BLOCKS, DEFAULT_LIMITS, DesignError, Limits, Program, find_errors
from agenticrs.recsys.design.canonical import canonical_dict, program_hash
from agenticrs.recsys.design.program import SECTIONS, TOP_FIELDS, defaults, section_dict, to_dict


def extract_json(text: str) -> Any:
    """The JSON value that starts at the first ``{`` of ``text`` (models add prose or code fences).

    Raises:
        ValueError: no ``{``, or the JSON from there is incomplete or malformed (a reply cut at
            the token limit; the message says where).
    """
    start = text.find("{")
    if start == -1:
        raise ValueError(f"no JSON object in the reply: {text[:80]!r}")
    try:
        return json.JSONDecoder().raw_decode(text, start)[0]
    except json.JSONDecodeError as e:
        cut = " (cut at the token limit?)" if e.pos >= len(text.rstrip()) else ""
        raise ValueError(f"the reply's JSON is incomplete or malformed: {e.msg} at character {e.pos}{cut}") from None


def partial_dict(program: Program, base: Program | None = None) -> dict[str, Any]:
    """``program`` as the short JSON a model reads and writes: ``blocks`` (each with only the
    fields that differ from its kind's defaults) plus every other field that differs from
    ``base`` (``None``: from the language's defaults)."""
    full = to_dict(program)
    ref = to_dict(base) if base is not None else to_dict(Program())
    out: dict[str, Any] = {k: full[k] for k in TOP_FIELDS if k != "name" and full[k] != ref[k]}
    blocks = []
    for b in program.blocks:
        d, dflt = section_dict(b), defaults(type(b))
        blocks.append({"kind": d.pop("kind"), **{k: v for k, v in d.items() if dflt.get(k) != v}})
    out["blocks"] = blocks
    for name in SECTIONS:
        diff = {k: v for k, v in full[name].items() if ref[name].get(k) != v}
        if diff:
            out[name] = diff
    return out


def compact(program: Program, base: Program | None = None) -> str:
    """:func:`partial_dict` as one line of JSON."""
    return json.dumps(partial_dict(program, base), separators=(",", ":"))


@dataclass
class Attempt:
    """One model call of :meth:`ProgramWriter.write` and what became of its reply."""

    prompt_id: str
    prompt: str
    completion: Completion | None
    program: Program | None = None
    error: str = ""
    rejected: str = ""

    @property
    def ok(self) -> bool:
        return self.program is not None and not self.rejected

    def to_info(self) -> dict[str, Any]:
        """The KnowledgeStore record of this call."""
        c = self.completion
        return {
            "event": "llm_call", "prompt_id": self.prompt_id, "prompt": self.prompt,
            "response": c.text if c else None, "model": c.model if c else None,
            "prompt_tokens": c.prompt_tokens if c else 0, "completion_tokens": c.completion_tokens if c else 0,
            "seconds": c.seconds if c else 0.0, "cached": c.cached if c else False,
            "valid": self.program is not None, "error": self.error, "rejected": self.rejected,
            "program_hash": program_hash(self.program) if self.program is not None else None,
        }


@dataclass
class WriteResult:
    """What :meth:`ProgramWriter.write` got: the accepted program (or ``None``) and every attempt."""

    program: Program | None
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def error(self) -> str:
        """Why no program was accepted (the last attempt's problem)."""
        if self.program is not None or not self.attempts:
            return ""
        last = self.attempts[-1]
        return last.rejected or last.error


Recorder = Callable[[Attempt], None]


class ProgramWriter:
    """Generate -> parse -> validate -> repair / retry (see the module docstring).

    Args:
        model: the language model.
        limits / n_items: what a program must fit (:func:`~agenticrs.recsys.design.find_errors`).
        max_attempts: model calls per :meth:`write`.
        temperature / max_tokens: sampling settings of every call.
        constrained: pass the language's JSON Schema to the model (constrained decoding).
        compact: the compact schema (design decisions only; see
            :data:`~agenticrs.policies.llm.schema.COMPACT_SECTIONS`): shorter replies.
        record: called with every :class:`Attempt`.
    """

    def __init__(self, model: LanguageModel, limits: Limits = DEFAULT_LIMITS, n_items: int | None = None, *,
                 max_attempts: int = 3, temperature: float = 0.8, max_tokens: int = 384, constrained: bool = True,
                 compact: bool = True, record: Recorder | None = None):
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self.model, self.limits, self.n_items = model, limits, n_items
        self.max_attempts, self.temperature, self.max_tokens = int(max_attempts), float(temperature), int(max_tokens)
        self.schema = program_schema(max_blocks=min(limits.max_blocks, 8), compact=compact) if constrained else None
        self.record = record
        self.repair_prompt = load_prompt("repair")
        self.calls = 0
        self.valid_replies = 0

    def parse_reply(self, text: str, base: Program) -> tuple[Program | None, str]:
        """``(program, "")`` for a reply that parses and validates, else ``(None, the first error)``."""
        try:
            program = merge_partial(base, extract_json(text))
        except (ValueError, DesignError) as e:  # DesignError is a ValueError; both are the reply's fault
            return None, str(e)
        try:
            errors = find_errors(program, self.limits, self.n_items)
        except RuntimeError as e:  # the parameter count builds the model; a crash there rejects the program
            return None, f"validation failed: {e}"
        return (None, str(errors[0])) if errors else (program, "")

    def write(self, prompt: PromptTemplate, values: Mapping[str, Any], base: Program, seed: int,
              reject: Callable[[Program], str | None] | None = None) -> WriteResult:
        """One accepted program, or ``None`` after ``max_attempts`` calls (never raises for a bad reply).

        Raises:
            LLMError: the model itself failed (endpoint down, token budget spent).
        """
        out = WriteResult(None)
        text = prompt.render(kinds=", ".join(BLOCKS), **values)
        prompt_id = prompt.id
        for i in range(self.max_attempts):
            completion = self.model.generate(text, self.schema, temperature=self.temperature,
                                             max_tokens=self.max_tokens, seed=seed * 1009 + i)
            self.calls += 1
            program, error = self.parse_reply(completion.text, base)
            attempt = Attempt(prompt_id, text, completion, program, error)
            if program is not None:
                self.valid_replies += 1
                attempt.rejected = (reject(program) or "") if reject else ""
            out.attempts.append(attempt)
            if self.record is not None:
                self.record(attempt)
            if attempt.ok:
                out.program = program
                return out
            if program is None:  # repair: show the model its reply and the error
                text = self.repair_prompt.render(kinds=", ".join(BLOCKS), error=error,
                                                 program=completion.text.strip()[:2000] or "(empty)")
                prompt_id = self.repair_prompt.id
            else:  # valid but rejected (a duplicate): ask again, freshly sampled
                text = prompt.render(kinds=", ".join(BLOCKS), **values)
                prompt_id = prompt.id
        return out


class CallRecorder:
    """Writes every model call, and later each program's result, to the KnowledgeStore as
    ``decisions`` rows (``env="design/llm"``): no schema change, queryable with
    ``store.decisions(env="design/llm", run_id=...)``.

    Args:
        store: a :class:`~agenticrs.envs.knowledge.KnowledgeStore` (or ``None``: record nothing).
        run_id / agent / task: the row's identity.
    """

    ENV = "design/llm"

    def __init__(self, store: Any, run_id: str | None, agent: str, task: str = ""):
        self.store, self.run_id, self.agent, self.task = store, run_id, agent, task
        self.step = 0

    def __call__(self, attempt: Attempt) -> None:
        action = canonical_dict(attempt.program) if attempt.program is not None else None
        self._add(action, attempt.to_info())

    def result(self, program: Program, info: Mapping[str, Any]) -> None:
        """The outcome of evaluating a proposed program (status, metrics, fidelity, cost)."""
        self._add(canonical_dict(program), {"event": "result", "program_hash": program_hash(program), **info})

    def note(self, info: Mapping[str, Any]) -> None:
        """Any other event of the run (a translation report, a skipped stage)."""
        self._add(None, dict(info))

    def _add(self, action: Any, info: Mapping[str, Any]) -> None:
        if self.store is None:
            return
        self.store.add_decision(run_id=self.run_id, step=self.step, action=action, info=info, agent=self.agent,
                                env=self.ENV, task=self.task)
        self.step += 1


__all__ = ["Attempt", "CallRecorder", "LLMError", "ProgramWriter", "WriteResult", "compact", "extract_json",
           "partial_dict"]
