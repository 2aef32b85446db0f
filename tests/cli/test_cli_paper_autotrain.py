"""``agenticrs paper-autotrain`` end to end on tiny synthetic data with the rule-based translator
(and the LLM translator with the deterministic stand-in), plus the method-file parser."""

from __future__ import annotations

import json

import pytest

from agenticrs.cli.main import main
from agenticrs.envs.knowledge import KnowledgeStore
from agenticrs.policies.paper_autotrain import parse_method, translate_rules
from agenticrs.recsys.design import LIBRARY, Filter, GatedMLP

DATA = "synthetic:users=120,items=150"
FLAGS = ["--data", DATA, "--seeds", "2", "--epochs", "1"]

METHOD = """# Filter mixing

Replace attention by a learned causal filter.

```agenticrs-method
replace attention with filter causal=true   # the idea
set train.lr=0.002
```
"""


def test_rules_end_to_end_writes_report_and_records_everything(tmp_path, capsys):
    method = tmp_path / "m.md"
    method.write_text(METHOD)
    out = tmp_path / "out"
    assert main(["paper-autotrain", str(method), *FLAGS, "--baseline", "sasrec_ce", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "translated" and report["translation"]["translator"] == "rules"
    assert "blocks: [attention" in report["translation"]["changes"][0]
    assert "train.lr: 0.001 -> 0.002" in report["translation"]["changes"]
    assert all(b["kind"] != "attention" for b in report["variant"]["program"]["blocks"])
    cmp = report["comparison"]["test/ndcg@10"]
    assert cmp["pairs"] == 2 and cmp["baseline"]["n"] == 2 and cmp["diff"]["mean"] == pytest.approx(
        cmp["variant"]["mean"] - cmp["baseline"]["mean"])
    assert report["variant"]["program"]["train"]["epochs"] == report["baseline"]["program"]["train"]["epochs"] == 1
    md = (out / "report.md").read_text()
    assert "| test/ndcg@10 |" in md and "block filter" in md
    store = KnowledgeStore(report["knowledge"]["path"])
    trials = store.trials(run_id=report["knowledge"]["run_id"])
    assert len(trials) == 4 and {t.result.config.model for t in trials} == {"design"}
    events = [d.info["event"] for d in store.decisions(run_id=report["knowledge"]["run_id"])]
    assert events.count("translation") == 1 and events.count("result") == 4
    assert "test ndcg@10 baseline" in capsys.readouterr().out


def test_inexpressible_method_gets_a_report_not_a_crash(tmp_path, capsys):
    method = tmp_path / "gnn.md"
    method.write_text("# Graph method\n\n```agenticrs-method\nreplace attention with graph_conv\n"
                      "requires an item-item co-occurrence graph\n```\n")
    out = tmp_path / "out"
    assert main(["paper-autotrain", str(method), *FLAGS, "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "not expressible" and "comparison" not in report
    reasons = [u["reason"] for u in report["translation"]["untranslatable"]]
    assert "'graph_conv' is not in the language" in reasons[0] and "does not have" in reasons[1]
    assert [u["line"] for u in report["translation"]["untranslatable"][:2]] == [4, 5]
    assert "Not trained" in (out / "report.md").read_text()
    assert KnowledgeStore(out / "knowledge.sqlite").trials() == []


def test_llm_translator_with_standin(tmp_path):
    method = tmp_path / "free.md"
    method.write_text("# Free text only\n\nUse gated feed-forward blocks.\n")
    out = tmp_path / "out"
    assert main(["paper-autotrain", str(method), *FLAGS, "--seeds", "1", "--proposer", "llm", "--model", "standin",
                 "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["translation"]["translator"] == "llm:standin"
    store = KnowledgeStore(out / "knowledge.sqlite")
    calls = [d for d in store.decisions() if d.info.get("event") == "llm_call"]
    assert calls and "Use gated feed-forward blocks." in calls[0].info["prompt"]


def test_bad_input_is_one_line(tmp_path, capsys):
    assert main(["paper-autotrain", str(tmp_path / "missing.md"), "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err
    method = tmp_path / "m.md"
    method.write_text(METHOD)
    assert main(["paper-autotrain", str(method), "--baseline", "nope", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "unknown baseline 'nope'" in err and err.count("\n") == 1


def test_rules_translator_statements():
    base = LIBRARY["sasrec_ce"]
    method = parse_method("# x\n```agenticrs-method\nreplace mlp with gated_mlp expansion=1\nset dim=32 loss.kind=bce\n"
                          "set loss.kind=nonsense\nfrobnicate\n```\n")
    t = translate_rules(method, base)
    assert t.partial and all(isinstance(b, GatedMLP) for b in t.program.blocks[1::2])
    assert t.program.dim == 32 and t.program.loss.kind == "bce"  # the bad set line left the good one alone
    assert [u["line"] for u in t.untranslatable] == [None, 6][: len(t.untranslatable)] or \
        {u["text"] for u in t.untranslatable} >= {"frobnicate"}
    blocks = translate_rules(parse_method("```agenticrs-method\nblock filter\nblock mlp expansion=1\n```"), base)
    assert blocks.program.blocks[0] == Filter() and len(blocks.program.blocks) == 2
    none = translate_rules(parse_method("# only prose"), base)
    assert not none.expressible and "no ```agenticrs-method section" in none.untranslatable[0]["reason"]
    with pytest.raises(ValueError, match="not closed"):
        parse_method("```agenticrs-method\nset dim=32\n")
