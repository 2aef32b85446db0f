"""Language-model proposers: ``llm`` (few-shot from the history) and ``llm-mutation``
(EvoPrompting-style edits of tournament-chosen parents).

Both read the (program, score) history -- the KnowledgeStore's programs for the task plus what
this search was told -- and show the model the best, the worst and the most recent programs.
A reply goes through :class:`~agenticrs.policies.llm.writer.ProgramWriter` (parse, validate,
repair or retry within ``max_attempts`` calls); a valid reply that was already evaluated is
refused and asked again. When no attempt gives a new valid program the base class substitutes
a random one (``stats()["substitutions"]``), so the trial budget is always spent on new programs.
Every call and every result is recorded in the store (``decisions``, ``env="design/llm"``).
"""

from __future__ import annotations

from typing import Any


from agenticrs.policies.llm import LanguageModel, LLMError, load_prompt, make_model
from agenticrs.policies.llm.writer import Attempt, CallRecorder, ProgramWriter, compact
from agenticrs.policies.proposers.base import ProgramProposer, Told
from agenticrs.recsys.design import Program


def _fmt(value: float) -> str:
    return f"{value:.4f}" if value > float("-inf") else "failed"


class LLMProposer(ProgramProposer):
    """``llm``: a language model proposes new programs from the task and the history.

    Args:
        model: a :class:`~agenticrs.policies.llm.LanguageModel` or a name for
            :func:`~agenticrs.policies.llm.make_model` (``standin``, ``smollm2``, ``http``).
        n_best / n_worst / n_recent: history programs shown (distinct, in that order).
        max_attempts: model calls per proposal (first try + repairs / retries).
        temperature / max_tokens / constrained: sampling settings (constrained: JSON Schema decoding).
        model_kwargs: constructor arguments when ``model`` is a name.
    """

    name = "llm"
    prompt_name = "propose"

    def __init__(self, model: LanguageModel | str = "standin", *, n_best: int = 3, n_worst: int = 1,
                 n_recent: int = 2, max_attempts: int = 3, temperature: float = 0.8, max_tokens: int = 384,
                 constrained: bool = True, max_resample: int = 2, **model_kwargs: Any):
        super().__init__(max_resample)
        self.model = make_model(model, **model_kwargs) if isinstance(model, str) else model
        self.n_best, self.n_worst, self.n_recent = n_best, n_worst, n_recent
        self.max_attempts, self.temperature, self.max_tokens = max_attempts, temperature, max_tokens
        self.constrained = constrained
        self.prompt = load_prompt(self.prompt_name)

    def _setup(self) -> None:
        self.recorder = CallRecorder(self.store, self.run_id, self.name, self.task.name)
        self.writer = ProgramWriter(self.model, self.task.limits, self.task.n_items, max_attempts=self.max_attempts,
                                    temperature=self.temperature, max_tokens=self.max_tokens,
                                    constrained=self.constrained, record=self._record)
        self.valid_hashes: list[str] = []
        self.llm_errors: list[str] = []
        self._calls = 0

    def _record(self, attempt: Attempt) -> None:
        info = attempt.to_info()
        if info["program_hash"]:
            self.valid_hashes.append(info["program_hash"])
        self.recorder(attempt)

    # ------------------------------------------------------------------ prompt parts
    def history_lines(self, exclude: set[str] = frozenset()) -> str:  # type: ignore[assignment]
        """Best, worst and most recent distinct programs, one ``score: json`` line each."""
        pool = [t for t in self.history if t.hash not in exclude]
        if not pool:
            return "(none yet)"
        ranked = sorted({t.hash: t for t in pool}.values(), key=lambda t: t.value, reverse=True)
        chosen: dict[str, Told] = {t.hash: t for t in ranked[:self.n_best]}
        for t in ranked[::-1][:self.n_worst]:
            chosen.setdefault(t.hash, t)
        for t in reversed(pool):
            if len(chosen) >= self.n_best + self.n_worst + self.n_recent:
                break
            chosen.setdefault(t.hash, t)
        return "\n".join(f"{_fmt(t.value)}: {compact(t.program, self.task.base)}" for t in chosen.values())

    def _reject(self, program: Program) -> str | None:
        return "already evaluated or pending" if self.taken(self.task.finalise(program)) else None

    def _write(self, values: dict[str, Any], base: Program) -> Program | None:
        self._calls += 1
        seed = int(self.rng.integers(2**31)) ^ self._calls
        try:
            result = self.writer.write(self.prompt, values, base, seed, reject=self._reject)
        except LLMError as e:  # an endpoint down or the token budget spent: the base substitutes
            self.llm_errors.append(str(e))
            self.recorder.note({"event": "llm_error", "error": str(e)})
            return None
        return result.program

    def _propose(self) -> tuple[Program, str] | None:
        t = self.task
        values = {"task": t.description, "metric": t.metric, "base": compact(t.base, Program()),
                  "history": self.history_lines()}
        program = self._write(values, t.base)
        return (program, "llm") if program is not None else None

    def _tell(self, told: Told) -> None:
        r = told.result
        self.recorder.result(told.program, {"value": told.value, "fidelity": told.fidelity,
                                            "status": r.status if r else "ok",
                                            "valid": dict(r.valid) if r else {}, "test": dict(r.test) if r else {},
                                            "cost": dict(r.cost) if r else {}})

    def stats(self) -> dict[str, Any]:
        """Base counts plus the model's: calls, valid-reply rate, distinct share of valid replies, usage."""
        calls, valid = self.writer.calls, len(self.valid_hashes)
        return {**super().stats(), "model": self.model.describe(), "llm_calls": calls, "valid_replies": valid,
                "valid_rate": valid / calls if calls else float("nan"),
                "distinct_share": len(set(self.valid_hashes)) / valid if valid else float("nan"),
                "llm_errors": len(self.llm_errors), "usage": self.model.usage.to_dict()}


class LLMMutationProposer(LLMProposer):
    """``llm-mutation`` (EvoPrompting-style): the model edits a parent chosen by tournament.

    Until the first result arrives the parent is the task's base program.

    Args:
        sample: tournament size.
        (the rest: :class:`LLMProposer`)
    """

    name = "llm-mutation"
    prompt_name = "mutate"

    def __init__(self, model: LanguageModel | str = "standin", *, sample: int = 3, **kwargs: Any):
        super().__init__(model, **kwargs)
        if sample < 1:
            raise ValueError(f"llm-mutation: sample must be >= 1, got {sample}")
        self.sample = sample

    def _parent(self) -> Told | None:
        pool = self.best(k=len(self.history))
        if not pool:
            return None
        picks = self.rng.choice(len(pool), size=min(self.sample, len(pool)), replace=False)
        return max((pool[int(i)] for i in picks), key=lambda t: t.value)

    def _propose(self) -> tuple[Program, str] | None:
        t = self.task
        parent = self._parent()
        program = parent.program if parent is not None else t.finalise(t.base)
        score = _fmt(parent.value) if parent is not None else "not evaluated yet"
        values = {"task": t.description, "metric": t.metric, "parent": compact(program, Program()),
                  "parent_score": score,
                  "history": self.history_lines(exclude={parent.hash} if parent is not None else set())}
        child = self._write(values, program)
        return (child, "llm-mutation") if child is not None else None


__all__ = ["LLMMutationProposer", "LLMProposer"]
