"""The generative benchmark's bookkeeping: every row and seed runs once, the table reports the
constraint check and the serving/staleness measurements, and finished runs are not rerun."""

from __future__ import annotations

import json

import pytest

from agenticrs.benchmarks.common import data_slug
from agenticrs.benchmarks.generative_beauty import ROWS, main
from agenticrs.benchmarks.recsys_beauty import main as recsys_main

DATA = "synthetic:users=80,items=60,max_length=20,seed=0,text_signal=0.9,topics=4,seq_strength=0.8"
DATA_SLUG = data_slug(DATA)
TINY = ["--set", "embedding_dim=16", "--set", "ff_dim=32", "--set", "heads=2", "--set", "encoder_layers=1",
        "--set", "decoder_layers=1", "--set", "id_levels=2", "--set", "codebook_size=8", "--set", "id_epochs=20",
        "--set", "text_encoder=tfidf:dim=8", "--set", "n_instructions=2", "--set", "cache=false"]

TINY_TIGER = TINY[: TINY.index("n_instructions=2") - 1]  # the TIGER-only settings


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("generative")
    assert recsys_main(["--data", DATA, "--seeds", "0", "--models", "pop", "--out", str(out)]) == 0  # a baseline
    args = ["--data", DATA, "--seeds", "0,1", "--epochs", "1", "--out", str(out), "--name", "g",
            "--serving-requests", "5", "--staleness-users", "20", "--train", "precision=bf16", *TINY]
    assert main(args) == 0
    return out, args


def test_every_row_and_seed_has_a_run_file(bench):
    out, _ = bench
    names = sorted(p.name for p in (out / "g_runs").iterdir())
    assert len(names) == len(ROWS) * 2
    assert all(f"-{row.slug}-seed{s}.json" in " ".join(names) for row in ROWS for s in (0, 1))


def test_table_has_every_row_the_constraint_check_and_serving(bench):
    out, _ = bench
    payload = json.loads((out / "g.json").read_text())
    rows = payload["results"][DATA]
    assert sorted(rows) == sorted(row.label for row in ROWS)
    assert all(rows[row.label]["seeds"] == [0, 1] for row in ROWS)
    assert "constraint_valid" not in rows["TIGER"]  # no knowledge, nothing to constrain
    con = rows["LWGR"]["constraint_valid"]
    assert con["bound"] > 0 and isinstance(con["holds_all"], bool)
    lwgr = rows["LWGR"]
    assert lwgr["serving"]["requests"] == 5 and lwgr["serving"]["cached_ms_median"] > 0
    assert set(lwgr["staleness"]) == {"0", "1", "2", "4"}
    md = (out / "g.md").read_text()
    assert "**Reduced run**" in md and "LWGR vs TIGER, NDCG@10" in md
    assert "+ fixed-instruction knowledge vs TIGER, NDCG@10" in md and "of 2 seeds)" in md  # paired seed count
    assert rows["TIGER"]["best_epochs"] == [1, 1] and "| 1,1 / 1 |" in md
    assert "| Pop (baseline) | 1 |" in md  # the recsys-core rows of the same dataset, beside the generative ones
    assert "Online serving (batch of one, full LWGR, seed 0)" in md and lwgr["serving_seed"] == 0
    # The validation score each row kept, beside its test score: what settings are chosen on.
    runs = [json.loads((out / "g_runs" / f"{DATA_SLUG}-lwgr-seed{s}.json").read_text()) for s in (0, 1)]
    assert lwgr["valid_ndcg@10"]["mean"] == pytest.approx(sum(r["valid"]["ndcg@10"] for r in runs) / 2)
    assert f"| {lwgr['valid_ndcg@10']['mean']:.4f} ± {lwgr['valid_ndcg@10']['std']:.4f} |" in md
    # Each run keeps its learning curve: one entry per epoch run, validated on the watched users.
    curve = runs[0]["train"]["curve"]
    assert [c["epoch"] for c in curve] == [1] and curve[0]["loss"] > 0 and 0 <= curve[0]["valid_watched"] <= 1


def test_training_overrides_reach_every_run(bench):
    out, _ = bench
    for path in (out / "g_runs").iterdir():
        assert json.loads(path.read_text())["config"]["train"]["precision"] == "bf16", path.name
    assert "training overrides=['precision=bf16']" in (out / "g.md").read_text()


def test_seeds_run_with_different_settings_are_not_averaged(bench, tmp_path):
    out, args = bench
    runs = tmp_path / "g_runs"
    runs.mkdir()
    for path in (out / "g_runs").iterdir():  # a copy, so the other tests' files stay as they were
        r = json.loads(path.read_text())
        if r["seed"] == 1 and path.name.endswith("-tiger-seed1.json"):
            r["config"]["train"]["lr"] = 0.5
        (runs / path.name).write_text(json.dumps(r))
    with pytest.raises(SystemExit, match=r"TIGER: seed 0 and seed 1 were run with different settings \['train.lr'\]"):
        main([*args[: args.index("--out")], "--out", str(tmp_path), *args[args.index("--out") + 2 :]])


def test_unknown_training_setting_is_named():
    with pytest.raises(SystemExit, match=r"unknown training setting\(s\) \['precsion'\]"):
        main(["--data", DATA, "--rows", "tiger", "--train", "precsion=bf16"])
    with pytest.raises(SystemExit, match="'precision' must be 'fp32' or 'bf16'"):
        main(["--data", DATA, "--rows", "tiger", "--train", "precision=fp8"])


def test_finished_runs_are_not_rerun(bench):
    out, args = bench
    runs = sorted((out / "g_runs").iterdir())
    before = {p.name: p.stat().st_mtime_ns for p in runs}
    assert main(args) == 0
    assert {p.name: p.stat().st_mtime_ns for p in runs} == before


def test_unknown_row_is_named():
    with pytest.raises(SystemExit, match="unknown row"):
        main(["--data", DATA, "--rows", "tiger,nope"])


def test_set_key_no_row_has_is_named():
    with pytest.raises(SystemExit, match=r"unknown config field\(s\) \['n_instruction'\]"):
        main(["--data", DATA, "--rows", "tiger,lwgr", "--set", "n_instruction=2"])


def test_workers_run_each_missing_run_in_its_own_process_then_write_the_table(tmp_path):
    args = ["--data", DATA, "--seeds", "0,1", "--rows", "tiger", "--epochs", "1", "--out", str(tmp_path),
            "--name", "w", "--workers", "2", "--threads", "1", *TINY_TIGER]
    assert main(args) == 0
    runs = tmp_path / "w_runs"
    assert sorted(p.name for p in runs.glob("*.json")) == [f"{DATA_SLUG}-tiger-seed0.json", f"{DATA_SLUG}-tiger-seed1.json"]
    assert len(list(runs.glob("*.log"))) == 2  # each child kept its output
    rows = json.loads((tmp_path / "w.json").read_text())["results"][DATA]
    assert rows["TIGER"]["seeds"] == [0, 1]
    # A table over more seeds keeps its runs beside the first table's (--runs) and leaves that table alone.
    table = (tmp_path / "w.json").read_text()
    more = [*args, "--seeds", "0,1,2", "--name", "w3", "--runs", "w"]
    assert main(more) == 0
    assert (tmp_path / "w.json").read_text() == table and not (tmp_path / "w3_runs").exists()
    assert len(list(runs.glob("*.json"))) == 3  # only seed 2 was trained, by a child writing into w_runs
    assert json.loads((tmp_path / "w3.json").read_text())["results"][DATA]["TIGER"]["seeds"] == [0, 1, 2]


def test_a_failed_worker_run_is_named_and_no_table_is_written(tmp_path):
    args = ["--data", DATA, "--seeds", "0", "--rows", "tiger", "--epochs", "1", "--out", str(tmp_path),
            "--name", "f", "--workers", "2", "--threads", "1", *TINY_TIGER, "--set", "heads=3"]  # 16 dims, 3 heads
    with pytest.raises(SystemExit, match=r"(?s)runs failed.*TIGER / seed 0 \(exit 1, see .*\.log\)"):
        main(args)
    assert not (tmp_path / "f.md").exists() and not list((tmp_path / "f_runs").glob("*.json"))
    assert "divisible by heads" in next((tmp_path / "f_runs").glob("*.log")).read_text()


def test_a_setting_added_after_a_run_counts_as_its_default(bench, tmp_path):
    out, args = bench
    runs = tmp_path / "g_runs"
    runs.mkdir()
    for path in (out / "g_runs").iterdir():  # seed 0's LWGR predates the (hypothetical) new fields
        r = json.loads(path.read_text())
        if r["seed"] == 0 and path.name.endswith("-lwgr-seed0.json"):
            del r["config"]["model"]["knowledge_encoder"], r["config"]["train"]["precision"]
        (runs / path.name).write_text(json.dumps(r))
    with pytest.raises(SystemExit, match=r"LWGR: seed 0 and seed 1 were run with different settings \['train.precision'\]"):
        main([*args[: args.index("--out")], "--out", str(tmp_path), *args[args.index("--out") + 2 :]])


def test_report_only_trains_nothing_and_names_the_missing_runs(bench, tmp_path):
    out, args = bench
    runs = tmp_path / "g_runs"
    runs.mkdir()
    for path in (out / "g_runs").iterdir():  # every run but fixed-instruction seed 1 and all of soft-nocon
        if not (path.name.endswith("-fixed-seed1.json") or "-soft-nocon-" in path.name):
            (runs / path.name).write_text(path.read_text())
    before = sorted(p.name for p in runs.iterdir())
    report = [*args[: args.index("--out")], "--out", str(tmp_path), *args[args.index("--out") + 2 :], "--report-only"]
    assert main(report) == 0
    assert sorted(p.name for p in runs.iterdir()) == before  # nothing was trained
    payload = json.loads((tmp_path / "g.json").read_text())
    rows = payload["results"][DATA]
    assert rows["+ fixed-instruction knowledge"]["seeds"] == [0] and rows["LWGR"]["seeds"] == [0, 1]
    assert "+ soft instructions, no constraint" not in rows
    assert len(payload["missing_runs"]) == 3
    md = (tmp_path / "g.md").read_text()
    assert "**Not run**" in md and "+ fixed-instruction knowledge / seed 1" in md
    assert "| + fixed-instruction knowledge | 1 |" in md
    with pytest.raises(SystemExit, match="--report-only trains nothing"):
        main([*report, "--force"])


def test_a_row_with_fewer_seeds_is_compared_with_tiger_on_its_own_seeds():
    from agenticrs.benchmarks.generative_beauty import versus_tiger

    rows = {"TIGER": {"ndcg@10_by_seed": {"0": 0.02, "1": 0.04, "2": 0.03}},
            "A": {"ndcg@10_by_seed": {"0": 0.03}},  # one seed: against TIGER's seed 0 (0.02), not its mean
            "B": {"ndcg@10_by_seed": {"5": 0.03}}}
    out = versus_tiger(rows)
    assert out["A"] == "+50.00% (ahead on 1 of 1 seeds)"
    assert out["B"] == "no seed in common"


def test_reference_reads_tiger_from_another_table_and_never_trains_it(bench, tmp_path):
    out, args = bench
    (tmp_path / "g_runs").mkdir()
    (tmp_path / "e_runs").mkdir()
    for path in (out / "g_runs").iterdir():  # TIGER in the reference table, LWGR in the exploration's own
        if "-tiger-" in path.name:
            (tmp_path / "g_runs" / path.name).write_text(path.read_text())
        if "-lwgr-seed" in path.name:
            (tmp_path / "e_runs" / path.name).write_text(path.read_text())
    own = [*args[: args.index("--out")], "--out", str(tmp_path), *args[args.index("--out") + 2 :]]
    own[own.index("--name") + 1] = "e"
    assert main([*own, "--rows", "tiger,lwgr", "--reference", "g"]) == 0
    rows = json.loads((tmp_path / "e.json").read_text())["results"][DATA]
    assert rows["TIGER"]["seeds"] == [0, 1] and rows["LWGR"]["seeds"] == [0, 1]
    assert "LWGR vs TIGER, NDCG@10" in (tmp_path / "e.md").read_text()
    assert not any("-tiger-" in p.name for p in (tmp_path / "e_runs").iterdir())
    # A reference run that does not exist is named, not trained, even with --force.
    tiger_only = ["--data", DATA, "--seeds", "0,1,2", "--epochs", "1", "--out", str(tmp_path), "--name", "e",
                  "--train", "precision=bf16", *TINY_TIGER, "--rows", "tiger", "--reference", "g", "--force"]
    assert main(tiger_only) == 0
    payload = json.loads((tmp_path / "e.json").read_text())
    assert payload["missing_runs"] == [f"{DATA} / TIGER / seed 2"]
    assert sorted(p.name for p in (tmp_path / "g_runs").iterdir()) == sorted(
        p.name for p in (out / "g_runs").iterdir() if "-tiger-" in p.name)


@pytest.mark.parametrize("next_machine", ["same", "another"])
def test_an_interrupted_run_resumes_from_its_checkpoint_and_then_deletes_it(next_machine, tmp_path, monkeypatch,
                                                                              capsys, ctrl_c_after_epoch_one):
    """On the same machine the run resumes from the cache; on another (an empty cache) from the
    checkpoint that ``park`` put beside the run file. Either way it equals the uninterrupted run."""
    import shutil

    from agenticrs.benchmarks.common import checkpoint_path, parked_path
    from agenticrs.benchmarks.park import main as park_main

    monkeypatch.setenv("AGENTICRS_CACHE", str(tmp_path / "cache"))
    args = ["--data", DATA, "--seeds", "0", "--rows", "tiger", "--epochs", "3", "--out", str(tmp_path),
            "--train", "patience=0", *TINY_TIGER]
    with pytest.raises(KeyboardInterrupt):
        main([*args, "--name", "cut"])
    run_file = tmp_path / "cut_runs" / f"{DATA_SLUG}-tiger-seed0.json"
    assert checkpoint_path(run_file).exists() and not run_file.exists()
    assert str(tmp_path / "cache") in str(checkpoint_path(run_file))  # outside the repository
    if next_machine == "another":
        assert park_main(["cut", "--out", str(tmp_path)]) == 0
        shutil.rmtree(tmp_path / "cache")
    ctrl_c_after_epoch_one()  # restore: the user's rerun
    assert main([*args, "--name", "whole"]) == 0
    capsys.readouterr()
    assert main([*args, "--name", "cut"]) == 0
    assert "(resuming " in capsys.readouterr().out
    cut, whole = (json.loads((tmp_path / f"{n}_runs" / run_file.name).read_text()) for n in ("cut", "whole"))
    assert cut["train"]["resumed_after"] == [1] and whole["train"]["resumed_after"] == []
    assert [c["loss"] for c in cut["train"]["curve"]] == [c["loss"] for c in whole["train"]["curve"]]
    assert cut["test"] == whole["test"]
    # Deleted once the run file was written.
    assert not checkpoint_path(run_file).exists() and not parked_path(run_file).exists()
