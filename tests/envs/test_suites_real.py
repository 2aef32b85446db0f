"""Real-data task suites: the ``subsample:`` cuts, the ``amazon`` suites, their shipped table
(usable without ``../shared/data``) and the default-order gap."""

from __future__ import annotations

import math
import re
from collections import Counter

import gymnasium as gym
import numpy as np
import pytest

import agenticrs  # noqa: F401  (registers the envs)
from agenticrs.envs import suites
from agenticrs.envs.backends.table import Table, table_path
from agenticrs.envs.core import TrialConfig, TrialResult
from agenticrs.envs.suites import get_suite, list_suites, suite_table_path
from agenticrs.recsys.data.errors import DataFormatError
from agenticrs.recsys.data.registry import load_dataset
from agenticrs.recsys.data.subsample import SubsampleSpec, subsample_uri

SOURCE = "synthetic:users=120,items=80,seed=5,mean_length=12"
AMAZON_TABLE = table_path("autotrain", "amazon")


def cut(options: str):
    return load_dataset(f"subsample:{SOURCE}?{options}")


# ---------------------------------------------------------------------- subsample: determinism and semantics
def test_the_same_uri_gives_the_same_dataset_and_parts_are_disjoint():
    a, b = cut("users=40,part=1,seed=3,window=last50pct"), cut("users=40,part=1,seed=3,window=last50pct")
    assert a.fingerprint() == b.fingerprint() and a.user_ids.tolist() == b.user_ids.tolist()
    other = cut("users=40,part=2,seed=3,window=last50pct")
    assert not set(a.user_ids.tolist()) & set(other.user_ids.tolist())
    assert cut("users=40,part=1,seed=4").user_ids.tolist() != cut("users=40,part=1,seed=3").user_ids.tolist()
    assert a.items.min() == 1 and a.items.max() == a.n_items  # dense item ids again


def test_window_keeps_the_first_or_last_share_of_each_history():
    full = load_dataset(SOURCE)
    last, first = cut("window=last50pct"), cut("window=first50pct")
    row = {u: i for i, u in enumerate(full.user_ids.tolist())}
    for ds, tail in ((last, True), (first, False)):
        for u in range(0, ds.n_users, 7):
            orig = full.item_ids[full.sequence(row[ds.user_ids[u]])].tolist()
            k = math.ceil(0.5 * len(orig))
            assert ds.item_ids[ds.sequence(u)].tolist() == (orig[-k:] if tail else orig[:k])


def test_category_density_and_text_coverage_cuts():
    full = load_dataset(SOURCE)
    attribute = int(np.bincount(np.concatenate(full.item_attributes[1:])).argmax())
    by_attr = cut(f"attribute={attribute}")
    assert all(attribute in by_attr.item_attributes[i] for i in range(1, by_attr.n_items + 1))
    dense = cut("items=30,min_history=4")
    assert dense.n_items <= 30 and dense.lengths.min() >= 4
    assert dense.stats()["density"] > full.stats()["density"]
    assert cut("text_keep=0.25").stats()["text_coverage"] == pytest.approx(0.25, abs=0.02)
    words = Counter(w for t in full.item_text[1:] for w in set(re.findall(r"[a-z0-9]+", t.lower())))
    word = words.most_common(1)[0][0]  # the most common word: a "category" shared by several items
    by_word = cut(f"text={word}")
    assert all(word in by_word.item_text[i].lower() for i in range(1, by_word.n_items + 1))


def test_subsample_uri_round_trips_and_is_canonical():
    uri = subsample_uri("beauty", users=800, part=2, window="last50pct")
    assert uri == "subsample:beauty?window=last50pct,users=800,part=2"
    assert SubsampleSpec.parse(uri.split("?", 1)[1]) == SubsampleSpec(users=800, part=2, window="last50pct")


@pytest.mark.parametrize("options, problem", [
    ("", "expected subsample:URI?key=value"),
    ("users=10,,part=1", "is not of the form key=value"),
    ("user=10", "unknown subsample option 'user'; valid: window, attribute"),
    ("users=10,users=20", "given twice"),
    ("users=ten", "users='ten': expected an integer"),
    ("users=1.5", "expected an integer"),
    ("users=0", "users=0: expected an integer >= 1"),
    ("part=1", "part=1 needs users=N"),
    ("window=last150pct", "window='last150pct': expected firstPpct or lastPpct"),
    ("window=recent", "expected firstPpct or lastPpct"),
    ("min_history=2", "expected >= 3"),
    ("text_keep=1.5", "expected a share in [0, 1]"),
    ("text_keep=nan", "text_keep='nan': expected a number"),
    ("text=Two Words", "expected one word"),
    ("users=100,part=1", "users left after the filters, fewer than (part + 1) * users = 200"),
])
def test_bad_uris_give_one_line_errors_naming_the_uri(options, problem):
    with pytest.raises(DataFormatError) as e:
        cut(options)
    assert problem in str(e.value) and "\n" not in str(e.value)
    assert str(e.value).startswith(f"subsample:{SOURCE}?")


def test_a_filter_the_data_cannot_support_is_an_error(tmp_path):
    path = tmp_path / "log.csv"  # no titles, no attributes
    # 8 users x 6 of 7 items: survives the source's default 5-core filter.
    path.write_text("user,item\n" + "".join(f"u{u},i{(u + k) % 7}\n" for u in range(8) for k in range(6)))
    for options, problem in (("attribute=1", "has no item attributes"), ("text=lab", "has no item text"),
                             ("text_keep=0.5", "has no item text")):
        with pytest.raises(DataFormatError, match=problem):
            load_dataset(f"subsample:csv:{path}?{options}")
    with pytest.raises(DataFormatError, match="no user has min_history=3"):
        load_dataset(f"subsample:csv:{path}?items=1")
    with pytest.raises(DataFormatError, match="unknown dataset scheme 'nope'"):
        load_dataset("subsample:nope:x?users=3")


# ---------------------------------------------------------------------- suite definitions
def test_amazon_suites_are_registered_and_well_formed():
    assert {"amazon", "amazon-rev", "synthetic+amazon"} <= set(list_suites())
    amazon, rev, mixed = get_suite("amazon"), get_suite("amazon-rev"), get_suite("synthetic+amazon")
    assert all(t.data.startswith("subsample:beauty?") for t in amazon.train)
    assert all(t.data.startswith("subsample:scientific?") for t in amazon.test)
    assert (rev.train, rev.test) == (amazon.test, amazon.train)
    assert mixed.train == get_suite("synthetic").train + amazon.train
    assert mixed.test == get_suite("synthetic").test + amazon.test
    for t in amazon.tasks:  # every URI is canonical: it parses back to itself
        source, options = t.data[len("subsample:"):].split("?")
        assert subsample_uri(source, **vars(SubsampleSpec.parse(options))) == t.data


@pytest.mark.skipif(not (suites.data_available("beauty") and suites.data_available("scientific")),
                    reason="needs ../shared/data (Amazon Beauty and Scientific)")
def test_amazon_tasks_differ_in_size_density_and_text_coverage():
    stats = [load_dataset(t.data).stats() for t in get_suite("amazon").tasks]
    for key, spread in (("items", 5.0), ("density", 5.0), ("mean_length", 2.0), ("text_coverage", 3.0)):
        values = [s[key] for s in stats]
        assert max(values) / min(values) > spread, (key, values)


# ---------------------------------------------------------------------- the shipped table, without the data
@pytest.fixture
def no_data(tmp_path, monkeypatch):
    """``$AGENTICRS_DATA`` at an empty folder, and no stats remembered from loaded data."""
    monkeypatch.setenv("AGENTICRS_DATA", str(tmp_path))
    monkeypatch.setattr(suites, "_STATS", {})
    with pytest.raises(DataFormatError, match="not found"):
        load_dataset("beauty")


@pytest.mark.skipif(not AMAZON_TABLE.exists(), reason="envs/tables/autotrain__amazon.jsonl.gz not built")
def test_shipped_amazon_table_loads_and_an_episode_runs_without_data(no_data):
    env = gym.make("agenticrs/AutoTrain-v0", suite="amazon", split="test", backend="table")
    table = env.unwrapped.backend.table
    amazon = get_suite("amazon")
    assert sorted(table.tasks) == sorted(t.name for t in amazon.tasks)
    pairs = env.unwrapped.action_space.enumerate()
    assert len(table) == len(pairs) * len(amazon.tasks)  # the whole v0 space on every task
    build = table.header["build"]
    assert build["date"] and build["machine"]["cpu_count"] and build["wall_seconds"] > 0
    assert "scope" in table.header
    obs, info = env.reset(seed=0)
    meta = table.task_meta(info["task"])
    assert meta["items"] > 0 and np.all(np.isfinite(obs))
    for _ in range(3):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert np.isfinite(reward) and info["result"].source == "table"
    env.close()
    rev = gym.make("agenticrs/AutoTrain-v0", suite="amazon-rev", backend="table")
    assert rev.unwrapped.backend.table.path == str(AMAZON_TABLE)  # one file serves both directions
    rev.reset(seed=1)
    rev.close()


@pytest.mark.skipif(not AMAZON_TABLE.exists(), reason="envs/tables/autotrain__amazon.jsonl.gz not built")
def test_the_mixed_suite_reads_a_merged_table(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTICRS_CACHE", str(tmp_path))
    path = suite_table_path("autotrain", "synthetic+amazon")
    assert path.parent == tmp_path / "tables"
    merged = Table.load(path)
    assert sorted(merged.tasks) == sorted(t.name for t in get_suite("synthetic+amazon").tasks)
    assert [s["suite"] for s in merged.header["sources"]] == ["synthetic", "amazon"]
    mtime = path.stat().st_mtime_ns
    assert suite_table_path("autotrain", "synthetic+amazon") == path and path.stat().st_mtime_ns == mtime


# ---------------------------------------------------------------------- default-order gap
def test_default_order_gap_on_a_small_fake_table():
    from agenticrs.benchmarks.default_gap import default_gap, suite_gaps

    a, b, c = (TrialConfig.make(m) for m in ("a", "b", "c"))
    scores = {"t1": {a: 1.0, b: 0.85, c: 0.1}, "t2": {a: 1.0, b: 0.8, c: 0.2},
              "t3": {a: 0.5, b: 1.0, c: 0.3}, "t4": {a: 0.95, b: 1.0, c: 0.0}}
    table = Table([TrialResult(cfg, task, 1.0, seed, "ok", {"ndcg@10": v + 0.01 * (seed - 0.5)})
                   for task, by in scores.items() for cfg, v in by.items() for seed in (0, 1)])
    # Mean regret: a = (0 + 0 + 0.5 + 0.05) / 4 = 0.1375; b = (0.15 + 0.2 + 0 + 0) / 4 = 0.0875: b is the default.
    gap = default_gap(table, ["t1", "t2", "t3", "t4"], ["t1", "t2", "t3", "t4"])
    assert gap["default"] == b.to_dict() and gap["mean_regret_learned"] == pytest.approx(0.0875)
    assert gap["gap"] == pytest.approx({"t1": 0.15, "t2": 0.2, "t3": 0.0, "t4": 0.0})
    assert gap["share_at_target"] == 0.5  # t1 and t2 reach the 0.10 target
    learned = suite_gaps(table, ["t1", "t2"], ["t3", "t4"])["train_to_test"]
    assert learned["default"] == a.to_dict() and learned["gap"] == pytest.approx({"t3": 0.5, "t4": 0.05})
