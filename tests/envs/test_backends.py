"""Backends: live (failures, timeouts, warm start, fidelity), table (NAS-Bench sampling), surrogate, registry."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import bigram_model
from chain_data import chain_dataset

from agenticrs.envs.backends import (
    LiveBackend,
    MissingEntryError,
    SurrogateBackend,
    Table,
    TableBackend,
    list_backends,
    make_backend,
    register_backend,
)
from agenticrs.envs.backends import registry as backend_registry
from agenticrs.envs.backends.live import fidelity_epochs
from agenticrs.envs.core import Backend, Task, TrialConfig, TrialResult
from agenticrs.envs.knowledge import KnowledgeStore
from agenticrs.recsys.data.dataset import Dataset, Split
from agenticrs.recsys.models.base import register_model

# ---------------------------------------------------------------------- test models
# Registered at import, so a live-backend worker that imports this module (setup_modules) has them.


@register_model("test-bigram", overwrite=True)
class Bigram(bigram_model.Bigram):
    """The shared test bigram, registered for trials that name it."""


@register_model("test-crash", overwrite=True)
class Crash(Bigram):
    def fit(self, split: Split) -> None:
        raise RuntimeError("boom in fit")


@register_model("test-sleep", overwrite=True)
class Sleep(Bigram):
    def fit(self, split: Split) -> None:
        time.sleep(120)


@register_model("test-exit", overwrite=True)
class Exit(Bigram):
    def fit(self, split: Split) -> None:
        os._exit(3)  # the worker process dies without a word


DATA = "mem:chain"
TASK = Task("chain", DATA)
BIGRAM = TrialConfig.make("test-bigram", lr=0.05, patience=0, batch_size=128)


@pytest.fixture(scope="module")
def chain() -> Dataset:
    return chain_dataset(n_users=80, n_items=30, length=8)


def inproc(chain: Dataset, **kw) -> LiveBackend:
    return LiveBackend(isolate=False, datasets={DATA: chain}, full_epochs=4, **kw)


# ---------------------------------------------------------------------- live
def test_live_trains_and_reports_cost(chain: Dataset) -> None:
    r = inproc(chain).evaluate(TASK, BIGRAM, 1.0, seed=0)
    assert r.ok and r.source == "live" and r.task == "chain" and r.config == BIGRAM
    assert r.valid["ndcg@10"] > 0.2 and 0 <= r.test["recall@10"] <= 1
    assert set(r.cost) >= {"seconds", "params", "inference_ms_per_user", "peak_memory_mb"}
    assert r.cost["seconds"] > 0 and r.cost["params"] == 16 * 31 + 31 * 17 and r.cost["peak_memory_mb"] > 0
    assert r.cost["epochs"] == 4  # fidelity 1.0 = full_epochs, patience disabled


def test_live_tiny_sasrec_one_epoch(chain: Dataset) -> None:
    cfg = TrialConfig.make("sasrec", embedding_dim=16, layers=1, max_len=8, epochs=1)
    r = inproc(chain).evaluate(TASK, cfg, 1.0, seed=0)
    assert r.ok, r.reason
    assert r.cost["epochs"] == 1 and math.isfinite(r.valid["ndcg@10"])


def test_fidelity_is_a_fraction_of_the_epoch_budget(chain: Dataset) -> None:
    backend = inproc(chain)
    assert backend.evaluate(TASK, BIGRAM, 0.5, 0).cost["epochs"] == 2  # of full_epochs=4
    explicit = TrialConfig.make("test-bigram", epochs=6, patience=0)
    assert backend.evaluate(TASK, explicit, 1 / 3, 0).cost["epochs"] == 2  # of the config's own epochs
    assert fidelity_epochs(0.01, 20) == 1
    with pytest.raises(ValueError, match=r"fidelity must lie in \(0, 1\]"):
        backend.evaluate(TASK, BIGRAM, 1.5, 0)


def test_same_seed_same_live_result(chain: Dataset) -> None:
    backend = inproc(chain)
    a, b = backend.evaluate(TASK, BIGRAM, 0.5, 3), backend.evaluate(TASK, BIGRAM, 0.5, 3)
    assert a.valid == b.valid and a.test == b.test


@pytest.mark.parametrize(
    "config, reason",
    [
        (TrialConfig.make("test-crash"), r"RuntimeError: boom in fit \(at test_backends.py:\d+\)"),
        (TrialConfig.make("test-bigram", explode=True), r"diverged: .*training loss is nan at epoch 1, batch 1"),
        (TrialConfig.make("test-bigram", nope=1), r"unknown setting\(s\) \['nope'\]"),
        (TrialConfig.make("no-such-model"), r"unknown model 'no-such-model'"),
    ],
)
def test_bad_trials_become_failed_results(chain: Dataset, config: TrialConfig, reason: str) -> None:
    r = inproc(chain).evaluate(TASK, config, 1.0, 0)
    assert r.status == "failed" and not r.valid
    assert __import__("re").search(reason, r.reason), r.reason
    assert r.cost["seconds"] >= 0


def test_warm_start_reuses_identical_trials(chain: Dataset, tmp_path: Path) -> None:
    store = KnowledgeStore(tmp_path / "k.sqlite")
    backend = inproc(chain, store=store, run_id="run1", agent="test")
    first = backend.evaluate(TASK, BIGRAM, 0.5, 0)
    again = backend.evaluate(TASK, BIGRAM, 0.5, 0)
    assert again == first and backend.stats["reused"] == 1 and backend.stats["trained"] == 1
    backend.evaluate(TASK, BIGRAM, 0.5, 1)  # another seed trains
    failed = backend.evaluate(TASK, TrialConfig.make("test-crash"), 1.0, 0)
    assert backend.evaluate(TASK, TrialConfig.make("test-crash"), 1.0, 0) == failed  # negative results too
    assert backend.stats == {"trained": 2, "reused": 2, "failed": 1, "timeout": 0}
    stored = store.trials(run_id="run1")
    assert len(stored) == 3 and {t.agent for t in stored} == {"test"}
    # A fresh backend (another process, another day) on the same store does not retrain either.
    other = inproc(chain, store=pickle.loads(pickle.dumps(store)))
    assert other.evaluate(TASK, BIGRAM, 0.5, 1).valid == stored[1].result.valid and other.stats["reused"] == 1


def test_subprocess_kills_timeouts_and_survives_dead_workers(chain: Dataset) -> None:
    backend = LiveBackend(timeout_s=3.0, datasets={DATA: chain}, full_epochs=4, setup_modules=[__name__])
    try:
        start = time.perf_counter()
        slow = backend.evaluate(TASK, TrialConfig.make("test-sleep"), 1.0, 0)
        assert slow.status == "timeout" and "3s trial timeout" in slow.reason
        assert 3.0 <= slow.cost["seconds"] < 10 and time.perf_counter() - start < 60
        died = backend.evaluate(TASK, TrialConfig.make("test-exit"), 1.0, 0)
        assert died.status == "failed" and "exit code 3" in died.reason
        ok = backend.evaluate(TASK, BIGRAM, 1.0, 0)  # a fresh worker takes over
        assert ok.ok and ok.valid == inproc(chain).evaluate(TASK, BIGRAM, 1.0, 0).valid
        assert backend.stats == {"trained": 1, "reused": 0, "failed": 1, "timeout": 1}
        clone = pickle.loads(pickle.dumps(backend))  # pickles without its worker
        assert clone._worker is None and clone.timeout_s == 3.0
    finally:
        backend.close()


# ---------------------------------------------------------------------- table
CONFIGS = [TrialConfig.make("sasrec", embedding_dim=d, lr=lr) for d in (16, 32, 64) for lr in (0.001, 0.01)]
FIDS = (0.25, 1.0)


def fake_result(task: str, config: TrialConfig, fid: float, seed: int) -> TrialResult:
    """A smooth function of the config, plus task offset and seed noise: something to learn."""
    p = config.param_dict
    base = 0.05 + 0.04 * math.log2(p["embedding_dim"] / 8) - 8 * abs(p["lr"] - 0.004) + 0.1 * fid
    base += {"t1": 0.0, "t2": 0.1}.get(task, 0.05)
    noise = 0.005 * ((seed * 7 + len(task)) % 5 - 2)
    v = round(base + noise, 6)
    return TrialResult(config, task, fid, seed, "ok", {"ndcg@10": v, "recall@10": 2 * v}, {"ndcg@10": v - 0.01},
                       {"seconds": 10 * fid * p["embedding_dim"] / 16, "params": 100.0 * p["embedding_dim"]})


def fake_table(tasks=("t1", "t2"), seeds=(0, 1, 2), configs=CONFIGS, meta: bool = False) -> Table:
    results = [fake_result(t, c, f, s) for t in tasks for c in configs for f in FIDS for s in seeds]
    header = {"env": "test", "suite": "fake"}
    if meta:
        header["tasks"] = {t: {"data": t, "meta": {"users": 100.0 * (i + 1), "skew": 0.1 * i}}
                           for i, t in enumerate(["t1", "t2", "t3"])}
    return Table(results, header)


@pytest.fixture
def table_file(tmp_path: Path) -> Path:
    return fake_table().save(tmp_path / "fake.jsonl.gz")


def test_table_roundtrip_and_entries(table_file: Path) -> None:
    table = Table.load(table_file)
    assert len(table) == 2 * 6 * 2 and table.tasks == ["t1", "t2"] and table.fidelities == [0.25, 1.0]
    repeats = table.lookup("t1", CONFIGS[0], 0.25)
    assert [r.seed for r in repeats] == [0, 1, 2] and all(r.source == "table" for r in repeats)
    assert repeats[1] == dataclasses.replace(fake_result("t1", CONFIGS[0], 0.25, 1), source="table")
    assert table.header["env"] == "test" and table.header["results"] == 72
    # Deterministic bytes: rebuilding the same table gives the same package data.
    again = fake_table().save(table_file.with_name("again.jsonl.gz"))
    assert again.read_bytes() == table_file.read_bytes()


def test_table_backend_samples_repeats_deterministically(table_file: Path) -> None:
    backend = TableBackend(table_file)
    assert isinstance(backend, Backend) and backend.kind == "table"
    draws = [backend.evaluate(TASK_T1, CONFIGS[2], 1.0, seed) for seed in range(300)]
    assert all(d.source == "table" and d.cost["seconds"] > 0 for d in draws)
    assert [backend.evaluate(TASK_T1, CONFIGS[2], 1.0, seed) for seed in range(300)] == draws
    counts = np.bincount([d.seed for d in draws], minlength=3)
    assert counts.min() > 60, counts  # every repeat is drawn, roughly uniformly
    # Different entries draw independently for the same seed.
    picks = {backend.evaluate(TASK_T1, c, f, 5).seed for c in CONFIGS for f in FIDS}
    assert len(picks) > 1
    # Stable across processes (no Python hash randomisation involved).
    code = (f"from agenticrs.envs.backends import TableBackend; from agenticrs.envs.core import TrialConfig; "
            f"b = TableBackend({str(table_file)!r}); c = TrialConfig.from_dict({CONFIGS[2].to_dict()!r}); "
            f"print([b.evaluate('t1', c, 1.0, s).seed for s in range(20)])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "123"}).stdout
    assert json.loads(out) == [d.seed for d in draws[:20]]


TASK_T1 = Task("t1", "synthetic:")


def test_missing_entry_is_a_clear_key_error(table_file: Path) -> None:
    backend = TableBackend(table_file)
    with pytest.raises(KeyError) as err:
        backend.evaluate(TASK_T1, TrialConfig.make("sasrec", embedding_dim=128, lr=0.001), 1.0, 0)
    msg = str(err.value)
    assert isinstance(err.value, MissingEntryError)
    assert "task 't1'" in msg and "'embedding_dim': 128" in msg and "fidelity 1" in msg and "surrogate" in msg
    with pytest.raises(KeyError, match="fidelity 0.5"):
        backend.evaluate(TASK_T1, CONFIGS[0], 0.5, 0)
    with pytest.raises(KeyError, match="task 'nope'"):
        backend.evaluate(Task("nope", "x"), CONFIGS[0], 1.0, 0)


def test_table_backend_pickles_as_path_and_is_fast(table_file: Path) -> None:
    backend = TableBackend(table_file)
    backend.evaluate(TASK_T1, CONFIGS[0], 1.0, 0)
    blob = pickle.dumps(backend)
    assert len(blob) < 500
    clone = pickle.loads(blob)
    assert clone.evaluate(TASK_T1, CONFIGS[0], 1.0, 4) == backend.evaluate(TASK_T1, CONFIGS[0], 1.0, 4)
    start = time.perf_counter()
    for i in range(20_000):
        backend.evaluate(TASK_T1, CONFIGS[i % 6], FIDS[i % 2], i)
    per_call = (time.perf_counter() - start) / 20_000
    assert per_call < 50e-6, f"{per_call * 1e6:.1f} us per lookup"


def test_bad_table_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"format": "agenticrs.table", "version": 1}) + "\n"
                    + json.dumps(fake_result("t1", CONFIGS[0], 1.0, 0).to_dict()) + "\n{oops\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:3: invalid JSON"):
        Table.load(path)
    (tmp_path / "other.jsonl").write_text('{"hello": 1}\n')
    with pytest.raises(ValueError, match="not an agenticrs table"):
        Table.load(tmp_path / "other.jsonl")
    with pytest.raises(FileNotFoundError, match="build-table"):
        TableBackend(tmp_path / "missing.jsonl.gz").evaluate(TASK_T1, CONFIGS[0], 1.0, 0)


# ---------------------------------------------------------------------- surrogate
def test_surrogate_predicts_unseen_configs() -> None:
    held = {CONFIGS[1].key(), CONFIGS[4].key()}
    full = fake_table(configs=CONFIGS + [TrialConfig.make("sasrec", embedding_dim=d, lr=0.004) for d in (16, 48, 64)])
    train = full.filter(lambda r: r.config.key() not in held)
    surrogate = SurrogateBackend(train, max_iter=60)
    # In the table: the table's own result.
    assert surrogate.evaluate(TASK_T1, CONFIGS[0], 1.0, 0).source == "table"
    # Unseen: a noisy, seeded prediction with every metric and cost figure.
    r = surrogate.evaluate(TASK_T1, CONFIGS[1], 1.0, 0)
    assert r.source == "surrogate" and r.ok and set(r.valid) == {"ndcg@10", "recall@10"}
    assert set(r.cost) == {"seconds", "params"} and r.cost["seconds"] > 0
    assert surrogate.evaluate(TASK_T1, CONFIGS[1], 1.0, 0) == r
    assert surrogate.evaluate(TASK_T1, CONFIGS[1], 1.0, 1) != r
    truth = np.mean([x.valid["ndcg@10"] for x in full.lookup("t1", CONFIGS[1], 1.0)])
    assert abs(r.valid["ndcg@10"] - truth) < 0.05
    # Unseen fidelity too.
    assert surrogate.evaluate(TASK_T1, CONFIGS[0], 0.5, 0).source == "surrogate"
    # Rank correlation on held-out results, and on a whole unseen-by-prediction table.
    held_out = [x for x in full.results() if x.config.key() in held]
    assert surrogate.kendall_tau(held_out) >= 0.3
    predict_all = SurrogateBackend(train, use_table=False, max_iter=60)
    assert predict_all.kendall_tau(full.results()) > 0.7
    assert predict_all.evaluate(TASK_T1, CONFIGS[0], 1.0, 0).source == "surrogate"


def test_surrogate_unseen_task_needs_meta_features() -> None:
    with_meta = SurrogateBackend(fake_table(meta=True), max_iter=30, task_meta={"t3": {"users": 300.0, "skew": 0.2}})
    r = with_meta.evaluate(Task("t3", "x"), CONFIGS[0], 1.0, 0)
    assert r.ok and r.source == "surrogate"
    without = SurrogateBackend(fake_table(), max_iter=30)
    with pytest.raises(KeyError, match="unseen task 't3'"):
        without.evaluate(Task("t3", "x"), CONFIGS[0], 1.0, 0)


# ---------------------------------------------------------------------- registry
def test_registry_builds_and_extends(table_file: Path) -> None:
    assert {"live", "table", "surrogate"} <= set(list_backends())
    assert isinstance(make_backend("table", table=table_file), TableBackend)
    assert isinstance(make_backend("LIVE", timeout_s=5), LiveBackend)
    ready = TableBackend(table_file)
    assert make_backend(ready) is ready

    @register_backend("test-constant")
    class Constant:
        kind = "test-constant"

        def __init__(self, value: float = 0.5):
            self.value = value

        def evaluate(self, task: Task, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
            return TrialResult(config, task.name, fidelity, seed, "ok", {"ndcg@10": self.value})

    try:
        assert make_backend("test-constant", value=0.7).evaluate(TASK_T1, CONFIGS[0], 1.0, 0).valid["ndcg@10"] == 0.7
        with pytest.raises(ValueError, match="already registered"):
            register_backend("test-constant")(lambda: None)
        with pytest.raises(KeyError, match="unknown backend kind 'nope'; registered: .*live"):
            make_backend("nope")
    finally:
        backend_registry._BACKENDS.pop("test-constant")


@pytest.mark.slow
def test_ray_trials_time_out_and_fail_cleanly(chain: Dataset) -> None:
    pytest.importorskip("ray")
    backend = LiveBackend(timeout_s=20, datasets={DATA: chain}, full_epochs=4, setup_modules=[__name__], use_ray=True)
    ok = backend.evaluate(TASK, BIGRAM, 1.0, 0)
    assert ok.ok and ok.valid == inproc(chain).evaluate(TASK, BIGRAM, 1.0, 0).valid
    assert "boom in fit" in backend.evaluate(TASK, TrialConfig.make("test-crash"), 1.0, 0).reason
    slow = backend.evaluate(TASK, TrialConfig.make("test-sleep"), 1.0, 0)
    assert slow.status == "timeout" and "Ray task cancelled" in slow.reason


# ---------------------------------------------------------------------- results handed out are immutable
def test_table_results_are_immutable_so_lookups_never_change(table_file: Path) -> None:
    backend = TableBackend(table_file)
    r = backend.evaluate(TASK_T1, CONFIGS[0], 1.0, 0)
    before = r.to_dict()
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.status = "failed"  # type: ignore[misc]
    for mapping in (r.valid, r.test, r.cost):
        with pytest.raises(TypeError, match="immutable"):
            mapping["ndcg@10"] = 99.0  # type: ignore[index]
        with pytest.raises(TypeError, match="immutable"):
            mapping.update({"x": 1.0})  # type: ignore[attr-defined]
        with pytest.raises(TypeError, match="immutable"):
            mapping.pop("ndcg@10", None)  # type: ignore[attr-defined]
        with pytest.raises(TypeError, match="immutable"):
            mapping.clear()  # type: ignore[attr-defined]
    assert backend.evaluate(TASK_T1, CONFIGS[0], 1.0, 0).to_dict() == before
    assert TableBackend(table_file).evaluate(TASK_T1, CONFIGS[0], 1.0, 0).to_dict() == before  # fresh backend


def test_a_table_copies_the_results_it_is_given() -> None:
    mine = fake_result("t1", CONFIGS[0], 1.0, 0)
    valid = {"ndcg@10": 0.3}
    table = Table([dataclasses.replace(mine, valid=valid)])
    valid["ndcg@10"] = -1.0  # the caller's dict stays the caller's
    assert table.lookup("t1", CONFIGS[0], 1.0)[0].valid == {"ndcg@10": 0.3}


def test_surrogate_results_and_predictions_are_immutable() -> None:
    surrogate = SurrogateBackend(fake_table(), max_iter=30)
    r = surrogate.evaluate(TASK_T1, CONFIGS[0], 0.5, 0)  # predicted
    with pytest.raises(TypeError, match="immutable"):
        r.valid["ndcg@10"] = 1.0  # type: ignore[index]
    predicted = surrogate.predict("t1", CONFIGS[0], 0.5)
    predicted["valid/ndcg@10"] = 99.0
    assert surrogate.predict("t1", CONFIGS[0], 0.5)["valid/ndcg@10"] != 99.0
    assert surrogate.evaluate(TASK_T1, CONFIGS[0], 0.5, 0) == r


def test_frozen_results_pickle_copy_hash_and_serialise() -> None:
    import copy

    r = fake_result("t1", CONFIGS[0], 1.0, 0)
    for clone in (pickle.loads(pickle.dumps(r)), copy.deepcopy(r), copy.copy(r)):
        assert clone == r and hash(clone) == hash(r)
        with pytest.raises(TypeError, match="immutable"):
            clone.cost["seconds"] = 0.0  # type: ignore[index]
    assert json.loads(json.dumps(r.valid)) == dict(r.valid) and r.valid == {**r.valid}
    assert dataclasses.asdict(r)["valid"] == dict(r.valid)
    assert len({r, dataclasses.replace(r)}) == 1


def test_editing_an_env_result_does_not_change_later_episodes() -> None:
    import gymnasium as gym
    from autotrain_fakes import table_available

    import agenticrs  # noqa: F401

    if not table_available():
        pytest.skip("no shipped AutoTrain table")
    env = gym.make("agenticrs/AutoTrain-v0", backend="table")
    env.reset(seed=3)
    action = env.action_space.sample()
    _, reward, _, _, info = env.step(action)
    with pytest.raises(TypeError, match="immutable"):
        info["result"].valid["ndcg@10"] = 123.0
    fresh = gym.make("agenticrs/AutoTrain-v0", backend="table")
    fresh.reset(seed=3)
    _, again, _, _, info2 = fresh.step(action)
    assert again == reward and info2["result"] == info["result"]
