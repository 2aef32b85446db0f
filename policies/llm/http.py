"""A client for any OpenAI-compatible chat-completions endpoint (vLLM, Ollama, llama.cpp server,
hosted APIs), with the standard library's ``urllib`` only.

Settings come from the arguments, else the environment:

=============================  ==========================================
``AGENTICRS_LLM_BASE_URL``     e.g. ``http://127.0.0.1:8000/v1``
``AGENTICRS_LLM_MODEL``        the model name the server knows
``AGENTICRS_LLM_API_KEY``      sent as ``Authorization: Bearer ...`` (optional)
=============================  ==========================================

A ``schema`` is sent as ``response_format={"type": "json_schema", ...}`` (structured outputs,
which vLLM, llama.cpp and OpenAI honour; a server that ignores it still returns text that the
caller validates). Connection errors, timeouts, HTTP 408/409/429 and 5xx are retried with
exponential backoff (``Retry-After`` honoured); other HTTP errors fail at once with the
server's message.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Mapping

from agenticrs.policies.llm.base import Completion, GenerationParams, LanguageModel, LLMError
from agenticrs.policies.llm.cache import ResponseCache

ENV_BASE_URL = "AGENTICRS_LLM_BASE_URL"
ENV_MODEL = "AGENTICRS_LLM_MODEL"
ENV_API_KEY = "AGENTICRS_LLM_API_KEY"
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class OpenAICompatibleModel(LanguageModel):
    """``POST {base_url}/chat/completions`` with one user message.

    Args:
        base_url: the API root (ending in ``/v1`` for most servers); default ``$AGENTICRS_LLM_BASE_URL``.
        model: model name; default ``$AGENTICRS_LLM_MODEL``.
        api_key: bearer token; default ``$AGENTICRS_LLM_API_KEY`` (none: no header).
        timeout_s: per-request timeout.
        max_retries: retries after the first attempt (transient failures only).
        backoff_s: first retry delay; doubled each retry, capped at ``max_backoff_s``.
        system: an optional system message.
        cache, token_budget: see :class:`LanguageModel`.
        sleep: injectable for tests (default ``time.sleep``).
    """

    def __init__(self, base_url: str | None = None, model: str | None = None, api_key: str | None = None, *,
                 timeout_s: float = 60.0, max_retries: int = 3, backoff_s: float = 1.0, max_backoff_s: float = 30.0,
                 system: str | None = None, cache: ResponseCache | str | None = None,
                 token_budget: int | None = None, sleep: Callable[[float], None] = time.sleep):
        super().__init__(cache, token_budget)
        base_url = base_url or os.environ.get(ENV_BASE_URL)
        model = model or os.environ.get(ENV_MODEL)
        if not base_url:
            raise LLMError(f"no endpoint: pass base_url or set {ENV_BASE_URL} (e.g. http://127.0.0.1:8000/v1)")
        if not model:
            raise LLMError(f"no model name: pass model or set {ENV_MODEL}")
        if not base_url.startswith(("http://", "https://")):
            raise LLMError(f"base_url must start with http:// or https://, got {base_url!r}")
        if timeout_s <= 0 or max_retries < 0 or backoff_s < 0:
            raise ValueError("timeout_s must be > 0, max_retries and backoff_s >= 0")
        self.base_url = base_url.rstrip("/")
        self.name = model
        self.api_key = api_key if api_key is not None else os.environ.get(ENV_API_KEY)
        self.timeout_s, self.max_retries = float(timeout_s), int(max_retries)
        self.backoff_s, self.max_backoff_s = float(backoff_s), float(max_backoff_s)
        self.system = system
        self._sleep = sleep

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "base_url": self.base_url}  # never the key

    def _body(self, prompt: str, schema: Mapping[str, Any] | None, params: GenerationParams) -> dict[str, Any]:
        messages = ([{"role": "system", "content": self.system}] if self.system else [])
        messages.append({"role": "user", "content": prompt})
        body: dict[str, Any] = {"model": self.name, "messages": messages, "temperature": params.temperature,
                                "max_tokens": params.max_tokens}
        if params.seed is not None:
            body["seed"] = params.seed
        if schema is not None:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "program", "schema": dict(schema)}}
        return body

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        """One request with retries; the decoded JSON reply."""
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = f"{self.base_url}/chat/completions"
        last = ""
        for attempt in range(self.max_retries + 1):
            delay = min(self.backoff_s * 2 ** attempt, self.max_backoff_s)
            try:
                req = urllib.request.Request(url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    raw = resp.read()
                try:
                    return json.loads(raw)
                except json.JSONDecodeError:
                    raise LLMError(f"{url}: reply is not JSON: {raw[:120]!r}") from None
            except urllib.error.HTTPError as e:
                detail = e.read()[:200].decode(errors="replace").strip()
                last = f"HTTP {e.code}: {detail or e.reason}"
                if e.code not in RETRY_STATUS:
                    raise LLMError(f"{url}: {last}") from None
                retry_after = e.headers.get("Retry-After") if e.headers else None
                if retry_after and retry_after.replace(".", "", 1).isdigit():
                    delay = min(float(retry_after), self.max_backoff_s)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                last = str(getattr(e, "reason", e)) or type(e).__name__
            if attempt < self.max_retries:
                self._sleep(delay)
        raise LLMError(f"{url}: failed after {self.max_retries + 1} attempts; last error: {last}")

    def _generate(self, prompt: str, schema: Mapping[str, Any] | None, params: GenerationParams) -> Completion:
        reply = self._post(self._body(prompt, schema, params))
        try:
            text = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise LLMError(f"{self.base_url}: reply has no choices[0].message.content: {str(reply)[:160]}") from None
        if not isinstance(text, str):
            raise LLMError(f"{self.base_url}: message content is {type(text).__name__}, not text")
        usage = reply.get("usage") or {}
        return Completion(text, str(reply.get("model") or self.name), int(usage.get("prompt_tokens") or 0),
                          int(usage.get("completion_tokens") or 0))


__all__ = ["ENV_API_KEY", "ENV_BASE_URL", "ENV_MODEL", "OpenAICompatibleModel"]
