"""Language-model clients: the OpenAI-compatible HTTP client against a local fake server (never the
network), the response cache, the token budget, the deterministic stand-in, prompt templates and
the generate -> parse -> validate -> repair writer."""

from __future__ import annotations

import dataclasses
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pytest

from agenticrs.envs.knowledge import KnowledgeStore
from agenticrs.policies.llm import (
    LLMError,
    OpenAICompatibleModel,
    StandInModel,
    TokenBudgetExceeded,
    load_prompt,
    make_model,
)
from agenticrs.policies.llm.prompts import prompt_versions
from agenticrs.policies.llm.schema import merge_partial, program_schema
from agenticrs.policies.llm.writer import CallRecorder, ProgramWriter, compact, extract_json
from agenticrs.recsys.design import LIBRARY, Filter, find_errors, program_hash

Reply = Callable[[dict[str, Any]], tuple[int, Any]]


class FakeEndpoint:
    """An OpenAI-compatible ``/v1/chat/completions`` on 127.0.0.1 (a free port) in a thread.

    ``reply(body) -> (status, content)``: content is the assistant message (status 200) or the
    error body. Every request body and its headers are kept in ``requests``.
    """

    def __init__(self, reply: Reply):
        self.reply = reply
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 -- http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                status, content = outer.reply(body)
                if status == 200:
                    payload = {"model": body["model"], "choices": [{"message": {"role": "assistant", "content": content}}],
                               "usage": {"prompt_tokens": 11, "completion_tokens": 7}}
                else:
                    payload = {"error": {"message": content}}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> "FakeEndpoint":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_http_client_sends_chat_request_with_schema_and_key():
    with FakeEndpoint(lambda body: (200, '{"blocks": [{"kind": "gru"}]}')) as srv:
        model = OpenAICompatibleModel(srv.url, "tiny", api_key="sekret", backoff_s=0)
        out = model.generate("propose", {"type": "object"}, temperature=0.5, max_tokens=50, seed=3)
    assert out.text == '{"blocks": [{"kind": "gru"}]}'
    assert (out.prompt_tokens, out.completion_tokens) == (11, 7)
    req = srv.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sekret"
    body = req["body"]
    assert body["messages"][-1] == {"role": "user", "content": "propose"}
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.5, 50, 3)
    assert body["response_format"]["json_schema"]["schema"] == {"type": "object"}
    assert model.usage.calls == 1 and model.usage.tokens == 18
    assert "sekret" not in json.dumps(model.describe())


def test_http_client_reads_settings_from_environment(monkeypatch):
    with FakeEndpoint(lambda body: (200, "ok")) as srv:
        monkeypatch.setenv("AGENTICRS_LLM_BASE_URL", srv.url)
        monkeypatch.setenv("AGENTICRS_LLM_MODEL", "env-model")
        monkeypatch.setenv("AGENTICRS_LLM_API_KEY", "k2")
        model = make_model("http")
        assert model.complete("hi") == "ok"
    assert srv.requests[0]["body"]["model"] == "env-model" and srv.requests[0]["auth"] == "Bearer k2"


def test_http_client_without_endpoint_is_one_line_error(monkeypatch):
    monkeypatch.delenv("AGENTICRS_LLM_BASE_URL", raising=False)
    with pytest.raises(LLMError, match="AGENTICRS_LLM_BASE_URL"):
        OpenAICompatibleModel(model="m")


def test_http_client_retries_transient_errors_with_backoff():
    statuses = iter([503, 429, 200])
    with FakeEndpoint(lambda body: (next(statuses), "done")) as srv:
        waits: list[float] = []
        model = OpenAICompatibleModel(srv.url, "m", backoff_s=0.5, max_retries=3, sleep=waits.append)
        assert model.complete("x") == "done"
    assert len(srv.requests) == 3 and waits == [0.5, 1.0]  # exponential backoff between attempts


def test_http_client_gives_up_after_retries_and_fails_fast_on_client_errors():
    with FakeEndpoint(lambda body: (500, "boom")) as srv:
        model = OpenAICompatibleModel(srv.url, "m", max_retries=2, sleep=lambda s: None)
        with pytest.raises(LLMError, match="after 3 attempts.*HTTP 500"):
            model.complete("x")
        assert len(srv.requests) == 3
    with FakeEndpoint(lambda body: (400, "bad model name")) as srv:
        model = OpenAICompatibleModel(srv.url, "m", max_retries=5, sleep=lambda s: None)
        with pytest.raises(LLMError, match="HTTP 400.*bad model name"):
            model.complete("x")
        assert len(srv.requests) == 1


def test_http_client_unreachable_endpoint():
    model = OpenAICompatibleModel("http://127.0.0.1:9/v1", "m", max_retries=1, timeout_s=2, sleep=lambda s: None)
    with pytest.raises(LLMError, match="failed after 2 attempts"):
        model.complete("x")


def test_response_cache_replays_seeded_calls_only(tmp_path):
    with FakeEndpoint(lambda body: (200, f"reply {body.get('seed')}")) as srv:
        model = OpenAICompatibleModel(srv.url, "m", cache=str(tmp_path / "cache"))
        assert model.complete("p", seed=1) == "reply 1"
        again = model.generate("p", seed=1)
        assert again.cached and again.text == "reply 1"
        assert model.complete("p", seed=2) == "reply 2"  # other params: another key
        model.complete("p")  # seedless sampling: never cached
        model.complete("p")
        # A new client on the same folder replays too (the cache is on disk).
        other = OpenAICompatibleModel(srv.url, "m", cache=str(tmp_path / "cache"))
        assert other.generate("p", seed=1).cached
    assert len(srv.requests) == 4
    assert model.usage.cache_hits == 1


def test_token_budget_stops_calls():
    model = StandInModel(script=["x" * 400], token_budget=100)
    model.complete("first prompt")  # ~100 completion tokens + prompt: the budget is now spent
    with pytest.raises(TokenBudgetExceeded, match="token budget of 100"):
        model.complete("second")
    assert model.usage.calls == 1


def test_standin_is_deterministic_and_follows_the_schema():
    schema = program_schema()
    a = StandInModel().complete("prompt", schema, seed=5)
    b = StandInModel().complete("prompt", schema, seed=5)
    c = StandInModel().complete("prompt", schema, seed=6)
    assert a == b and a != c
    data = json.loads(a)
    assert set(data) <= set(schema["properties"]) and data["blocks"]
    assert StandInModel().complete('example {"dim": 32}') == '{"dim": 32}'  # no schema: echoes the example


def test_prompts_are_versioned_files():
    versions = prompt_versions()
    assert {"propose", "mutate", "repair", "paper"} <= set(versions)
    p = load_prompt("propose")
    assert p.id == f"propose_v{versions['propose'][-1]}" and "history" in p.fields
    with pytest.raises(KeyError, match="no value for"):
        p.render(task="t")
    with pytest.raises(KeyError, match="no prompt 'nope'"):
        load_prompt("nope")


def test_merge_partial_and_compact_round_trip():
    base = LIBRARY["sasrec_ce"]
    fmlp = LIBRARY["fmlp"]
    assert merge_partial(base, json.loads(compact(fmlp, base))) == dataclasses.replace(fmlp, name="")
    child = merge_partial(base, {"loss": {"kind": "bce"}, "blocks": [{"kind": "filter"}]})
    assert child.loss.kind == "bce" and child.train == base.train and child.blocks == (Filter(),)
    assert extract_json('Sure! ```json\n{"a": {"b": 1}}\n``` done') == {"a": {"b": 1}}
    with pytest.raises(ValueError, match="no JSON object"):
        extract_json("no json here")


def test_writer_repairs_an_invalid_reply_and_records_every_call(tmp_path):
    replies = [
        "I think attention is good",                                  # not JSON -> repair
        '{"blocks": [{"kind": "attention", "causal": false}]}',       # bidirectional under next -> repair
        '{"blocks": [{"kind": "attention", "heads": 2}, {"kind": "gated_mlp"}]}',
    ]
    store = KnowledgeStore(tmp_path / "k.sqlite")
    model = StandInModel(script=replies)
    writer = ProgramWriter(model, n_items=500, record=CallRecorder(store, "r1", "llm", "toy"))
    out = writer.write(load_prompt("propose"), {"task": "t", "metric": "ndcg@10", "base": "{}", "history": "-"},
                       LIBRARY["sasrec_ce"], seed=0)
    assert out.program is not None and not find_errors(out.program, n_items=500)
    assert [a.prompt_id for a in out.attempts] == ["propose_v1", "repair_v1", "repair_v1"]
    assert "causal" in model.prompts[2]  # the repair prompt shows the validation error
    rows = store.decisions(run_id="r1")
    assert [r.info["valid"] for r in rows] == [False, False, True]
    assert rows[0].info["response"] == replies[0] and rows[0].info["prompt"].startswith("You design")
    assert rows[2].info["program_hash"] == program_hash(out.program) and rows[2].env == "design/llm"


def test_writer_gives_up_within_its_budget():
    writer = ProgramWriter(StandInModel(script=["nope"]), max_attempts=2)
    out = writer.write(load_prompt("repair"), {"error": "e", "program": "p"}, LIBRARY["sasrec"], seed=0)
    assert out.program is None and len(out.attempts) == 2 and "no JSON object" in out.error


def test_importing_the_llm_packages_loads_no_model_library():
    import subprocess
    import sys

    code = ("import sys, agenticrs.policies.llm, agenticrs.policies.proposers, agenticrs.policies.paper_autotrain; "
            "bad = [m for m in ('transformers', 'lmformatenforcer', 'gguf') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_compact_schema_offers_design_decisions_only():
    full, small = program_schema(), program_schema(compact=True)
    assert len(json.dumps(small)) < 0.7 * len(json.dumps(full))
    attention = next(b for b in small["properties"]["blocks"]["items"]["anyOf"]
                     if b["properties"]["kind"] == {"const": "attention"})
    assert set(attention["properties"]) == {"kind", "heads", "causal"}
    assert set(small["properties"]["loss"]["properties"]) == {"kind", "negatives", "objective"}
    base = LIBRARY["sasrec"]
    child = merge_partial(base, {"blocks": [{"kind": "filter"}], "train": {"lr": 0.003}})
    assert child.inputs == base.inputs and child.train.epochs == base.train.epochs and child.train.lr == 0.003
