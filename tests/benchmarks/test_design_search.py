"""The design-search benchmark's reading of its results: budgets as prefixes of each search, the
seed-by-seed pairing against random, the reuse of a program trained twice, and the summary."""

from __future__ import annotations

import math

import pytest

from agenticrs.benchmarks import design_search as ds


def rows(values: list[float], seconds: float = 1.0) -> list[dict]:
    """Trace rows of one search whose programs score ``values`` (test = valid + 0.01)."""
    out, best, best_test = [], -math.inf, math.nan
    for i, v in enumerate(values):
        if v > best:
            best, best_test = v, v + 0.01
        out.append({"trial": i + 1, "source": "random" if i < 2 else "mutation", "status": "ok", "valid": v,
                    "test": v + 0.01, "cum_seconds": seconds * (i + 1), "propose_seconds": 0.1 * (i + 1),
                    "best_valid": best, "best_test": best_test})
    return out


def run(task: str, proposer: str, seed: int, values: list[float]) -> dict:
    return {"task": task, "proposer": proposer, "seed": seed, "trials": len(values), "rows": rows(values),
            "stats": {"substitutions": 0, "asked": len(values)}, "best_program_text": "block gru\n"}


def results() -> dict:
    runs = []
    for seed in range(3):
        runs.append(run("syn-seq", "random", seed, [0.1, 0.2, 0.1, 0.15]))
        runs.append(run("syn-seq", "evolution", seed, [0.1, 0.2, 0.25, 0.3 + 0.01 * seed]))
    header = {"date": "2026-12-02T15:00:00+00:00", "command": "python -m agenticrs.benchmarks.design_search",
              "machine": {"cpu": "test cpu", "cores": 2, "memory_gb": 8, "gpu": None, "torch": "x", "torch_threads": 1}}
    return {"settings": {"tasks": ["syn-seq"], "task_uris": {"syn-seq": ds.TASKS["syn-seq"]},
                         "proposers": ["random", "evolution"], "generate": 2, "epochs": 2, "at": [2, 4]},
            "invocations": [{"header": header, "load": [1.0, 1.0, 1.0], "load_end": [2.0], "seconds": 10.0,
                             "args": {"proposers": "random,evolution", "tasks": "syn-seq", "seeds": 3, "trials": 4}}],
            "runs": runs,
            "reference": {"syn-seq": [{"seed": s, "valid": 0.07, "test": 0.08, "seconds": 1.0} for s in range(3)]}}


def test_budgets_are_prefixes_of_each_search():
    r = rows([0.1, 0.3, 0.2])
    assert ds.best_at(r, 1) == (0.1, pytest.approx(0.11)) and ds.best_at(r, 3) == (0.3, pytest.approx(0.31))
    assert all(math.isnan(x) for x in ds.best_at(r, 4))
    assert ds.compute_at(r, 2) == (2.0, pytest.approx(0.2))


def test_pairs_by_seed_against_random():
    res = results()
    at2 = ds.paired(res, "evolution", 2, "valid")
    assert at2["n"] == 3 and at2["mean_diff"] == 0 and at2["ahead"] == at2["behind"] == 0 and math.isnan(at2["p"])
    at4 = ds.paired(res, "evolution", 4, "test")
    assert at4["n"] == 3 and at4["ahead"] == 3 and at4["mean_diff"] == pytest.approx(0.11)
    assert at4["p"] < 0.01  # differences 0.10, 0.11, 0.12
    assert ds.paired(res, "evolution", 4, "valid", tasks=["sci"])["n"] == 0


def test_equal_compute_gives_random_the_programs_that_fit_in_the_proposers_seconds():
    r = rows([0.1, 0.3, 0.2, 0.5])  # program i costs 1.1 s: 1.1, 2.2, 3.3, 4.4 cumulative
    assert ds.budget_at_compute(r, 2.5) == (2, False) and ds.budget_at_compute(r, 0.5) == (1, False)
    assert ds.budget_at_compute(r, 4.3) == (3, False) and ds.budget_at_compute(r, 9.0) == (4, True)
    res = results()
    for x in res["runs"]:
        if x["proposer"] == "evolution":  # 2 programs (3.8 s) cost what random spends on 3
            x["rows"] = rows([y["valid"] for y in x["rows"]], seconds=1.8)
    at2 = ds.paired_compute(res, "evolution", 2, "valid")  # evolution's 0.2 against random's best of 3, 0.2
    assert at2["n"] == 3 and at2["budget"] == 3 and at2["capped"] == 0 and at2["mean_diff"] == 0
    at4 = ds.paired_compute(res, "evolution", 4, "valid")  # random's search ends before evolution's seconds
    assert at4["capped"] == 3 and at4["mean_diff"] == pytest.approx(0.11) and at4["ahead"] == 3


def test_summary_has_the_reference_the_pairing_and_the_best_program():
    text = ds.summarise(results())
    assert "| syn-seq | sasrec_ce (library, reference) | 3 |" in text
    assert "| evolution | all | 4 | 3 | +0.1100 (+55%) | 3/0 |" in text
    assert "| syn-seq | SASRec-CE (library) | - | 2 | 0.0700 | 0.0800 |" in text
    assert "| syn-seq | best discovered program | evolution (mutation, program 4) | 2 | 0.3200 | 0.3300 |" in text
    assert "load average 1.0 at start and 2.0 at end" in text


def test_a_program_trained_twice_in_one_process_is_reused():
    from agenticrs.envs.core import Task, TrialResult
    from agenticrs.recsys.design import LIBRARY

    class Backend:
        calls = 0

        def evaluate(self, task, config, fidelity, seed):
            Backend.calls += 1
            return TrialResult(config, task.name, fidelity, seed, "ok", {"ndcg@10": 0.1}, {"ndcg@10": 0.1},
                               {"seconds": 3.0})

    memo: dict = {}
    first = ds.MemoEvaluator(memo, Backend(), Task("t", "synthetic:"))
    second = ds.MemoEvaluator(memo, Backend(), Task("t", "synthetic:"))
    p = LIBRARY["gru4rec"]
    a, b = first(p, 1.0, 0), second(p, 1.0, 0)
    assert a is b and Backend.calls == 1 and second.reused == 1 and b.cost["seconds"] == 3.0  # charged again
    second(p, 1.0, 1)  # another training seed: trained
    assert Backend.calls == 2


def test_best_program_exported_as_a_method_translates_back_to_itself():
    import dataclasses

    from agenticrs.policies.paper_autotrain import parse_method, translate_rules
    from agenticrs.recsys.design import LIBRARY, canonical_json, parse

    p = parse("program dim=128 max_len=20 init=normal\ninputs position=false time_gap=true fusion=concat\n"
              "block conv kernel=2\nblock mlp\nblock attention heads=2\nreadout bias=true head=mlp\n"
              "loss kind=sampled_softmax negatives=16\ntrain optimizer=adamw lr=0.003 epochs=2 augment_mask=0.1")
    md = ds.method_markdown(p, "Best", "note")
    assert md.startswith("# Best\n\nnote\n\n```agenticrs-method\nblock conv kernel=2\n")
    t = translate_rules(parse_method(md), LIBRARY["sasrec_ce"], n_items=300)
    assert not t.untranslatable
    back = dataclasses.replace(t.program, train=dataclasses.replace(t.program.train, epochs=2))
    assert canonical_json(back) == canonical_json(p)  # epochs: paper-autotrain's equal budget decides


def test_committed_results_may_be_gzipped_and_summarise_beside_themselves(tmp_path):
    from agenticrs.io import read_json, sibling, write_json_atomic

    path = tmp_path / "design_search.json.gz"
    write_json_atomic(path, results())
    assert path.read_bytes()[:2] == b"\x1f\x8b" and read_json(path) == results()
    assert sibling(path, ".md") == tmp_path / "design_search.md" == sibling(tmp_path / "design_search.json", ".md")
    assert ds.main(["--summarise", str(path)]) == 0
    assert "| evolution | all | 4 | 3 | +0.1100 (+55%) | 3/0 |" in (tmp_path / "design_search.md").read_text()
