"""k-core filtering, chronological order and dense re-indexing on hand-made logs."""

from __future__ import annotations

import numpy as np
import pytest

from agenticrs.recsys.data import Interactions, k_core, preprocess


def _log(rows: list[tuple], source: str = "hand") -> Interactions:
    log = Interactions(source)
    for row in rows:
        log.add(*row)
    return log


def test_k_core_cascades_until_stable() -> None:
    # With k=2: D has one event -> gone; then item 5 has one -> gone; then C has one -> gone;
    # then item 3 has one -> gone. Only A and B with items 1 and 2 remain.
    seqs = {"A": [1, 2], "B": [1, 2, 3], "C": [3, 5], "D": [5]}
    log = Interactions()
    for user, items in seqs.items():
        log.add_sequence(user, items)
    users, items, _ = log.arrays()
    keep = k_core(users, items, 2)
    assert keep.tolist() == [True, True, True, True, False, False, False, False]
    ds = preprocess(log, min_count=2)
    assert ds.user_ids.tolist() == ["A", "B"] and ds.item_ids.tolist() == ["", "1", "2"]
    assert [s.tolist() for s in ds.sequences()] == [[1, 2], [1, 2]]


def test_k_core_counts_repeated_events_and_disabled_below_two() -> None:
    users = np.array([0, 0, 0, 1])
    items = np.array([0, 0, 1, 1])
    # user 1 has one event -> dropped; item 1 then has one event (from user 0) -> dropped;
    # user 0 keeps its two events on item 0 (repeats count).
    assert k_core(users, items, 2).tolist() == [True, True, False, False]
    assert k_core(users, items, 1).all() and k_core(users, items, 0).all()


def test_k_core_result_satisfies_the_threshold_on_random_data() -> None:
    rng = np.random.default_rng(0)
    users, items = rng.integers(60, size=800), (rng.pareto(1.0, size=800) * 5).astype(int) % 90
    keep = k_core(users, items, 4)
    u, i = users[keep], items[keep]
    assert 0 < keep.sum() < len(keep)
    assert np.bincount(u)[np.unique(u)].min() >= 4 and np.bincount(i)[np.unique(i)].min() >= 4
    # A fixed point: filtering the result again removes nothing.
    again = k_core(users[keep], items[keep], 4)
    assert again.all()


def test_chronological_order_is_a_stable_sort_by_timestamp() -> None:
    log = _log([("u", "c", 3.0), ("v", "a", 1.0), ("u", "a", 1.0), ("u", "b", 3.0), ("u", "d", 2.0)])
    ds = preprocess(log, min_count=0)
    assert ds.user_ids.tolist() == ["u", "v"] and ds.item_ids.tolist() == ["", "c", "a", "b", "d"]
    # u: a(1) d(2) then c and b both at 3 in file order.
    assert [[ds.item_ids[i] for i in s] for s in ds.sequences()] == [["a", "d", "c", "b"], ["a"]]
    np.testing.assert_array_equal(ds.timestamps, [1, 2, 3, 3, 1])


def test_integer_ids_are_ordered_numerically_and_dense_after_filtering() -> None:
    log = Interactions()
    log.add_sequence(30, [7, 5, 9])
    log.add_sequence(10, [9, 7, 5, 100])
    ds = preprocess(log, min_count=2)
    assert ds.user_ids.tolist() == ["10", "30"] and ds.item_ids.tolist() == ["", "5", "7", "9"]
    assert [s.tolist() for s in ds.sequences()] == [[3, 2, 1], [2, 1, 3]]
    assert ds.n_items == 3 and ds.items.min() == 1


def test_side_information_follows_the_reindexing() -> None:
    log = Interactions()
    log.add_sequence("u", ["z", "y", "gone"])
    log.add_sequence("w", ["y", "z"])
    log.item_text = {"y": "Why", "gone": "Gone", "unused": "x"}
    log.item_attributes = {"z": [4, 5]}
    ds = preprocess(log, min_count=2)
    assert ds.item_ids.tolist() == ["", "z", "y"]
    assert ds.item_text == ["", "", "Why"]
    assert [a.tolist() for a in ds.item_attributes] == [[], [4, 5], []]


def test_mixing_timed_and_untimed_events_is_refused() -> None:
    log = Interactions()
    log.add("u", "i", 1.0)
    with pytest.raises(ValueError, match="every event has a timestamp or none"):
        log.add("u", "j")
