"""The synthetic generator: determinism, sizes, and the structure models are meant to find."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pytest

from agenticrs.recsys.data import SyntheticConfig, generate_synthetic, load_dataset

SMALL = dict(users=400, items=300, topics=10, brands=20)


def test_same_config_same_dataset_other_seed_other_dataset() -> None:
    a, b = generate_synthetic(**SMALL, seed=7), generate_synthetic(**SMALL, seed=7)
    assert a.fingerprint() == b.fingerprint()
    assert a.item_text == b.item_text
    assert generate_synthetic(**SMALL, seed=8).fingerprint() != a.fingerprint()
    via_uri = load_dataset("synthetic:users=400,items=300,topics=10,brands=20,seed=7")
    assert via_uri.fingerprint() == a.fingerprint()


def test_shape_lengths_and_no_repeats() -> None:
    cfg = SyntheticConfig(**SMALL, mean_length=9, max_length=30)
    ds = generate_synthetic(cfg)
    lengths = ds.lengths
    assert ds.n_users == 400 and ds.n_items == 300
    assert lengths.min() >= 5 and lengths.max() <= 30 and 7.5 < lengths.mean() < 10.5
    assert all(len(set(s.tolist())) == len(s) for s in ds.sequences()), "a user never repeats an item"
    assert ds.items.min() >= 1 and ds.items.max() <= 300
    assert len(ds.item_text) == len(ds.item_attributes) == 301 and ds.item_text[0] == ""
    # Attributes: [category 1..topics, brand topics+1..topics+brands].
    attrs = np.stack(ds.item_attributes[1:])
    assert attrs[:, 0].min() >= 1 and attrs[:, 0].max() <= 10 and attrs[:, 1].min() >= 11 and attrs[:, 1].max() <= 30


def _top_successor_share(ds) -> float:
    """Over items with enough occurrences, the share of their next items that is their top successor."""
    nxt: dict[int, Counter] = {}
    for s in ds.sequences():
        for a, b in zip(s[:-1].tolist(), s[1:].tolist()):
            nxt.setdefault(a, Counter())[b] += 1
    top = total = 0
    for counts in nxt.values():
        n = sum(counts.values())
        if n >= 20:
            top += counts.most_common(1)[0][1]
            total += n
    return top / total


def test_transition_structure_exists_and_follows_seq_strength() -> None:
    strong = generate_synthetic(**SMALL, seq_strength=0.8)
    none = generate_synthetic(**SMALL, seq_strength=0.0)
    # Each item's first successor gets about seq_strength * 4/7 of its next items: far above the
    # ~1/30 of a topic-and-popularity draw, and far above the same data without transitions.
    assert _top_successor_share(strong) > 0.35
    assert _top_successor_share(none) < 0.25
    assert _top_successor_share(strong) > 2 * _top_successor_share(none)


def test_last_item_predicts_the_next_better_than_popularity() -> None:
    ds = generate_synthetic(**SMALL)
    split = ds.split()
    n = ds.n_items + 1
    pop, trans = np.zeros(n), np.zeros((n, n))
    for s in split.train:
        np.add.at(pop, s, 1)
        np.add.at(trans, (s[:-1], s[1:]), 1)

    def hit_rate(score) -> float:
        hits = 0
        for h, t in zip(split.test.histories, split.test.targets):
            sc = score(h).astype(float)
            sc[0] = sc[h] = -np.inf
            hits += int((sc > sc[t]).sum() < 10)
        return hits / len(split.test.targets)

    assert hit_rate(lambda h: trans[h[-1]] * n + pop) > 2 * hit_rate(lambda h: pop.copy())


def test_text_signal_controls_how_much_titles_reveal_the_category() -> None:
    def agreement(text_signal: float) -> float:
        ds = generate_synthetic(**SMALL, text_signal=text_signal)
        category = np.array([a[0] for a in ds.item_attributes[1:]])
        words = [t.split(". ")[-1].rstrip(".") for t in ds.item_text[1:]]
        # Map each shown category word to the attribute it most often goes with.
        by_word: dict[str, Counter] = {}
        for w, c in zip(words, category):
            by_word.setdefault(w, Counter())[c] += 1
        return sum(c.most_common(1)[0][1] for c in by_word.values()) / len(words)

    assert agreement(1.0) == 1.0
    assert agreement(0.0) < 0.5


def test_popularity_skew() -> None:
    flat = generate_synthetic(**SMALL, skew=0.0, seq_strength=0.0).stats()["popularity_gini"]
    skewed = generate_synthetic(**SMALL, skew=1.2, seq_strength=0.0).stats()["popularity_gini"]
    assert skewed > flat + 0.2


def test_options_round_trip_and_field_errors() -> None:
    cfg = SyntheticConfig.from_options(" users = 50 , skew=0.5,seed=3 ")
    assert (cfg.users, cfg.skew, cfg.seed) == (50, 0.5, 3)
    assert SyntheticConfig.from_options(cfg.to_options()) == cfg
    assert SyntheticConfig.from_options("") == SyntheticConfig()
    with pytest.raises(ValueError, match="SyntheticConfig.seq_strength must be in"):
        SyntheticConfig(seq_strength=1.5)
    with pytest.raises(ValueError, match="SyntheticConfig.min_length must be >= 3"):
        SyntheticConfig(min_length=2)


def test_fast_enough() -> None:
    start = time.perf_counter()
    ds = generate_synthetic(users=5000, items=2000)
    assert time.perf_counter() - start < 2.0
    assert ds.n_users == 5000
