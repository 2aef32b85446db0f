"""``agenticrs autotune``: live trials on a user's dataset, journaled, resumable, one-line errors."""

from __future__ import annotations

import json
import zlib

import pytest

from agenticrs.envs.core import Task, TrialConfig, TrialResult
from agenticrs.envs.knowledge import KnowledgeStore
from agenticrs.policies.autotune import AutotuneError, AutotuneSpec, autotune, family_defaults, run_key

DATA = "synthetic:users=120,items=80,seed=3"


class FakeLive:
    """In-process stand-in for the live backend: a stable metric per configuration, calls logged."""

    kind = "live"

    def __init__(self, calls: list):
        self.calls = calls

    def evaluate(self, task: Task, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
        self.calls.append((config, fidelity))
        v = 0.05 + (zlib.crc32(config.key().encode()) % 1000) / 5000
        if config.model == "sasrec" and config.param_dict.get("loss") == "ce":
            v += 0.1
        return TrialResult(config, task.name, fidelity, seed, "ok", valid={"ndcg@10": v}, test={"ndcg@10": 0.9 * v},
                           cost={"seconds": 0.5, "params": 1000.0}, source="live")


def _spec(tmp_path, **kw) -> AutotuneSpec:
    return AutotuneSpec(**{"data": DATA, "budget": 4, "policy": "random", "out": str(tmp_path / "out"),
                           "save_model": False, **kw})


class Interrupt:
    """A log that raises KeyboardInterrupt (Ctrl-C) right after the ``after``-th trial is journaled."""

    def __init__(self, after: int):
        self.after, self.lines = after, []

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        if line.startswith(f"[{self.after}/"):
            raise KeyboardInterrupt


@pytest.mark.parametrize("policy, workers", [("random", 1), ("tpe", 2), ("best-default-order", 2)])
def test_resumed_run_never_repeats_a_finished_trial(tmp_path, policy, workers):
    calls: list = []
    spec = _spec(tmp_path, policy=policy, workers=workers)
    with pytest.raises(KeyboardInterrupt):
        autotune(spec, log=Interrupt(after=2), backend_factory=lambda store: FakeLive(calls))
    store = KnowledgeStore(tmp_path / "out" / "knowledge.sqlite")
    journaled = [(t.result.config, t.result.fidelity) for t in store.trials(run_id=run_key(spec))]
    assert len(journaled) == 2
    assert {r["status"] for r in store.runs() if r["run_id"] == run_key(spec)} == {"interrupted"}
    first_session = list(calls)
    lines: list[str] = []
    report = autotune(spec, log=lines.append, backend_factory=lambda store: FakeLive(calls))
    resumed_calls = calls[len(first_session):]
    assert not set(resumed_calls) & set(journaled), "a finished trial was trained again"
    assert report["resumed_trials"] == 2 and report["trials"] == 4
    configs = [(r["model"], json.dumps(r["params"], sort_keys=True), r["fidelity"]) for r in report["leaderboard"]]
    assert len(set(configs)) == 4
    assert sum(line.startswith("[") and "from the journal" in line for line in lines) == 2
    assert len(store.trials(run_id=run_key(spec))) == 4  # each trial journaled once
    # A third run of the same command has nothing left to do.
    again = autotune(spec, log=lambda line: None, backend_factory=lambda store: FakeLive(calls))
    assert again["resumed_trials"] == 4 and len(calls) == len(first_session) + len(resumed_calls)


def test_report_leaderboard_and_family_defaults(tmp_path):
    calls: list = []
    spec = _spec(tmp_path, policy="best-default-order", budget=3)
    report = autotune(spec, log=lambda line: None, backend_factory=lambda store: FakeLive(calls))
    board = report["leaderboard"]
    assert [r["valid"] for r in board] == sorted((r["valid"] for r in board), reverse=True)
    assert report["best"] == board[0]
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| rank | model |" in md and "Best:" in md
    assert json.loads((tmp_path / "out" / "report.json").read_text())["run_id"] == run_key(spec)
    # The shipped table's best-on-average configuration is SASRec's; whether its family default was
    # tried or not, the report says how the best compares (or that no default was tried).
    assert ("Against the best family default" in md) == (report["vs_family_defaults"] is not None)
    assert set(family_defaults(__import__("agenticrs.envs.spaces", fromlist=["x"]).AutoTrainSpace())) >= {"pop", "sasrec"}


@pytest.mark.parametrize("kw, match", [
    ({"budget": 0}, "--budget must be >= 1"),
    ({"workers": 0}, "--workers must be >= 1"),
    ({"space": "v7"}, "unknown space"),
])
def test_bad_settings_are_one_line_errors(tmp_path, kw, match):
    with pytest.raises(AutotuneError, match=match):
        _spec(tmp_path, **kw)


def test_unreadable_and_tiny_datasets_are_one_line_errors(tmp_path):
    with pytest.raises(AutotuneError, match="cannot read dataset"):
        autotune(_spec(tmp_path, data=f"csv:{tmp_path}/missing.csv"), log=lambda line: None)
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2\nthree four\n")
    with pytest.raises(AutotuneError, match="cannot read dataset"):
        autotune(_spec(tmp_path, data=f"sasrec:{bad}"), log=lambda line: None)
    with pytest.raises(AutotuneError, match="too small"):
        autotune(_spec(tmp_path, data="synthetic:users=15,items=100,seed=1"), log=lambda line: None)


def test_a_policy_whose_space_does_not_match_is_refused(tmp_path):
    from agenticrs.policies.autotune import shipped_checkpoint

    try:
        shipped_checkpoint()
    except AutotuneError:
        pytest.skip("no shipped policy in this checkout")
    with pytest.raises(AutotuneError, match="does not match"):
        autotune(_spec(tmp_path, policy="shipped", space="v1"), log=lambda line: None)
    with pytest.raises(AutotuneError, match="neither a search baseline"):
        autotune(_spec(tmp_path, policy=str(tmp_path / "nope")), log=lambda line: None)


def test_shipped_policy_runs_and_resumes(tmp_path):
    from agenticrs.policies.autotune import shipped_checkpoint

    try:
        shipped_checkpoint()
    except AutotuneError:
        pytest.skip("no shipped policy in this checkout")
    calls: list = []
    spec = _spec(tmp_path, policy="shipped", budget=3)
    with pytest.raises(KeyboardInterrupt):
        autotune(spec, log=Interrupt(after=1), backend_factory=lambda store: FakeLive(calls))
    assert len(calls) == 1
    report = autotune(spec, log=lambda line: None, backend_factory=lambda store: FakeLive(calls))
    assert report["trials"] == 3 and report["resumed_trials"] == 1 and len(calls) == 3
    assert len(set(calls)) == 3  # PPO's repeats are resampled: three distinct configurations


def test_autotune_compare_protocol(tmp_path):
    """The equal-budget comparison: anytime incumbents, best found, trials to 2%, the target line."""
    from agenticrs.benchmarks.autotune_compare import anytime, compare

    calls: list = []
    r = compare(DATA, tmp_path, policies=("random", "best-default-order"), seeds=2, budget=4, report_at=(2, 4),
                backend_factory=lambda store: FakeLive(calls), log=lambda line: None)
    assert len(calls) == 2 * 2 * 4
    assert set(r["summary"]) == {"random", "best-default-order"} and r["target"] is None
    for s in r["summary"].values():
        assert set(s["test_at"]) == {"2", "4"} and s["seconds_at"]["4"] == pytest.approx(4 * 0.5)
    assert r["best_any"] == max(0.9 * (0.05 + (zlib.crc32(c.key().encode()) % 1000) / 5000
                                       + (0.1 if c.model == "sasrec" and c.param_dict.get("loss") == "ce" else 0))
                                for c, _ in calls)
    assert "| random |" in (tmp_path / "compare.md").read_text()
    ok = lambda v, t: TrialResult(TrialConfig.make("pop"), "t", 1.0, 0, "ok", {"ndcg@10": v}, {"ndcg@10": t}, {"seconds": 1.0})
    valid, test, secs = anytime([ok(0.1, 0.2), ok(0.05, 0.9), ok(0.3, 0.25)], "ndcg@10")
    assert valid == [0.1, 0.1, 0.3] and test == [0.2, 0.2, 0.25] and secs == [1.0, 2.0, 3.0]


def test_autotune_compare_writes_partial_results_seed_major_and_resumes(tmp_path):
    """After each run the summary is rewritten (all policies on seed 0 first); rerunning trains nothing again."""
    from agenticrs.benchmarks.autotune_compare import compare

    calls: list = []
    seen: list[dict] = []

    def log(line: str) -> None:
        seen.append(json.loads((tmp_path / "compare.json").read_text()))

    compare(DATA, tmp_path, policies=("random", "tpe"), seeds=2, budget=3, report_at=(1, 3),
            backend_factory=lambda store: FakeLive(calls), log=log)
    assert [s["seeds_done"] for s in seen] == [{"random": 1}, {"random": 1, "tpe": 1},
                                               {"random": 2, "tpe": 1}, {"random": 2, "tpe": 2}]
    assert "PARTIAL" in __import__("agenticrs.benchmarks.autotune_compare", fromlist=["x"]).markdown(seen[1])
    assert "PARTIAL" not in (tmp_path / "compare.md").read_text()
    n = len(calls)
    again = compare(DATA, tmp_path, policies=("random", "tpe"), seeds=2, budget=3, report_at=(1, 3),
                    backend_factory=lambda store: FakeLive(calls), log=lambda line: None)
    assert len(calls) == n and again["summary"] == seen[-1]["summary"]  # every trial from the journals


def test_autotune_compare_target_counts_a_miss_as_budget_plus_one():
    from agenticrs.benchmarks.autotune_compare import summarise

    def run(test: list[float]) -> tuple[list[float], list[float], list[float]]:
        return test, test, [float(i) for i in range(1, len(test) + 1)]

    best = [0.5, 1.0, 1.0, 1.0]
    slow = [0.5, 0.5, 0.5, 1.0]
    never = [0.5] * 4
    r = summarise({"shipped": [run(best), run(best)], "tpe": [run(slow), run(never)]}, ks=(2, 4))
    t = r["target"]
    assert r["best_any"] == 1.0 and r["summary"]["tpe"]["trials_to_2pct_per_seed"] == [4, None]
    assert t["shipped_needs"] == 2.0 and t["tpe_needs"] == (4 + 5) / 2 and t["met"] and t["verdict"] == "met"
    # The shipped policy missing on one seed cannot meet the target, whatever TPE does.
    r = summarise({"shipped": [run(best), run(never)], "tpe": [run(never), run(never)]}, ks=(4,))
    assert not r["target"]["met"] and r["target"]["verdict"] == "not met"


def test_autotune_compare_shares_trials_across_runs_and_runs_once_policies_on_seed_0(tmp_path):
    """A trial another run already trained (same configuration, fidelity, seed) is replayed, not trained;
    ``once`` policies run on seed 0 only, and the summary is not marked partial for it."""
    import shutil

    from agenticrs.benchmarks.autotune_compare import compare

    calls: list = []
    r = compare(DATA, tmp_path, policies=("best-default-order", "random"), seeds=2, budget=3, report_at=(3,),
                once=("best-default-order",), backend_factory=lambda store: FakeLive(calls), log=lambda line: None)
    assert r["seeds_done"] == {"best-default-order": 1, "random": 2} and len(calls) == 3 * 3
    md = (tmp_path / "compare.md").read_text()
    assert "PARTIAL" not in md and "seed 0 only (`--once`): best-default-order" in md
    # The run's own journal gone, the shared store still has its trials: nothing is trained again.
    shutil.rmtree(tmp_path / "runs" / "random__1")
    again = compare(DATA, tmp_path, policies=("best-default-order", "random"), seeds=2, budget=3, report_at=(3,),
                    once=("best-default-order",), backend_factory=lambda store: FakeLive(calls),
                    log=lambda line: None)
    assert len(calls) == 3 * 3 and again["reused_trials"]["random__1"] == 3
    assert again["summary"] == r["summary"]  # replayed trials give the same curves, seconds included
    # The store belongs to one comparison folder: another folder trains its own trials.
    compare(DATA, tmp_path / "other", policies=("best-default-order",), seeds=1, budget=3, report_at=(3,),
            backend_factory=lambda store: FakeLive(calls), log=lambda line: None)
    assert len(calls) == 3 * 3 + 3  # a different out folder has its own shared store
