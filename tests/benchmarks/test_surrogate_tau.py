"""The surrogate benchmark on a small structured table: every protocol runs and ranks well above chance."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest

from agenticrs.benchmarks.surrogate_tau import main
from agenticrs.envs.backends import Table
from agenticrs.envs.core import TrialResult
from agenticrs.envs.spaces import AutoTrainSpace
from agenticrs.envs.suites import get_suite, task_stats

BASE = {"pop": 0.3, "itemknn": 0.5, "bprmf": 0.4, "gru4rec": 0.7, "sasrec": 0.9, "bert4rec": 0.6}


def structured_table(seeds: int = 2) -> Table:
    """The synthetic suite's tasks x every canonical pair: a smooth function of family, params,
    fidelity and the task's popularity skew (so tasks rank families differently), plus seed noise."""
    results, tasks = [], {}
    for task in get_suite("synthetic").tasks:
        meta = task_stats(task)
        tasks[task.name] = {"data": task.data, "metric": "ndcg@10", "meta": meta}
        skew = meta["popularity_gini"]
        for config, fid in AutoTrainSpace().enumerate():
            p = config.param_dict
            q = BASE[config.model] + (0.5 * skew if config.model in ("pop", "itemknn") else 0.0)
            q *= (0.6 + 0.4 * fid) * (1.0 + 0.1 * (p.get("embedding_dim", 32) == 64) - 0.2 * (p.get("dropout") == 0.5))
            for seed in range(seeds):
                noise = zlib.crc32(f"{task.name}|{config.key()}|{fid}|{seed}".encode()) / 2**32 - 0.5
                v = 0.1 * q * (1.0 + 0.02 * noise)
                results.append(TrialResult(config, task.name, fid, seed, "ok", {"ndcg@10": v}, {"ndcg@10": 0.9 * v},
                                           {"seconds": 1.0 + 10.0 * fid * q}))
    return Table(results, {"env": "autotrain", "suite": "synthetic", "tasks": tasks})


def test_every_protocol_runs_and_beats_chance(tmp_path: Path) -> None:
    table = structured_table().save(tmp_path / "t.jsonl.gz")
    out = main(["--table", str(table), "--folds", "2", "--max-iter", "50", "--out", str(tmp_path / "s.json")])
    rows = {r["protocol"].split(" (")[0].split(" @")[0]: r for r in out["summary"]}
    assert set(rows) == {"unseen configs", "unseen full fidelity", "unseen tasks"}
    for r in out["summary"]:
        assert r["tau"] > 0.5, r
        assert -1.0 <= r["baseline_tau"] <= 1.0
    tasks = out["results"]["unseen_tasks"]
    assert tasks["test_tasks"] == ["syn-mixed", "syn-textual"] and len(tasks["train_tasks"]) == 4
    saved = json.loads((tmp_path / "s.json").read_text())
    assert saved["machine"]["cores"] >= 1 and saved["command"] and saved["table"]["entries"] == len(Table.load(table))
    md = (tmp_path / "s.md").read_text()
    assert "Kendall tau" in md and "| unseen tasks (syn-mixed, syn-textual) |" in md


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no table at"):
        main(["--table", str(tmp_path / "none.jsonl.gz"), "--out", str(tmp_path / "s.json")])
    table = structured_table(seeds=1).save(tmp_path / "t.jsonl.gz")
    with pytest.raises(ValueError, match="--folds must be in"):
        main(["--table", str(table), "--folds", "1", "--out", str(tmp_path / "s.json")])
    assert not (tmp_path / "s.json").exists()


def test_reads_a_running_build_journal_without_touching_it(tmp_path: Path) -> None:
    from agenticrs.benchmarks.surrogate_tau import load_results

    results = list(structured_table(seeds=1).results())[:20]
    journal = tmp_path / "t.jsonl.gz.partial.jsonl"
    lines = [json.dumps({"kind": "session", "t": 0.0})] + [json.dumps({"kind": "result", "t": 1.0,
                                                                       "result": r.to_dict()}) for r in results]
    data = ("\n".join(lines) + "\n" + lines[1][:40]).encode()  # the builder is writing the next line
    journal.write_bytes(data)
    table = load_results(str(journal))
    assert sum(1 for _ in table.results()) == 20 and table.header["partial"] is True
    assert table.task_meta(results[0].task)["users"] > 0  # meta-features from the suite's statistics
    assert journal.read_bytes() == data
