"""Semantic ids: unique, decodable, trie-consistent; constrained beam search emits only valid items."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agenticrs.recsys.data import load_dataset
from agenticrs.recsys.semantic import SemanticIdConfig, SemanticIds, SemanticIdTrie, build_semantic_ids
from agenticrs.recsys.semantic.beam import constrained_beam_search
from agenticrs.recsys.text import encode_items


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    data = load_dataset("synthetic:users=100,items=120,seed=2,text_signal=0.9,topics=4")
    return encode_items(data, "tfidf:dim=16", cache=False)


@pytest.mark.parametrize("method", ["rqvae", "rkmeans"])
def test_ids_are_unique_and_decodable(vectors, method):
    ids = build_semantic_ids(vectors, SemanticIdConfig(method=method, levels=2, codebook_size=6, epochs=30),
                             cache=False)
    n = len(vectors) - 1
    assert ids.codes.shape == (n + 1, 3) and (ids.codes[0] == -1).all()
    real = ids.codes[1:]
    assert len(np.unique(real, axis=0)) == n  # the collision token makes every id unique
    assert (real[:, :2] < 6).all() and (real >= 0).all() and (real < ids.vocab).all()
    assert (ids.decode(real) == np.arange(1, n + 1)).all()
    # Items sharing quantised codes are numbered 0..c-1 by the extra token.
    _, counts = np.unique(real[:, :2], axis=0, return_counts=True)
    assert ids.max_collisions == counts.max()
    assert ids.decode(np.array([[0, 0, ids.vocab + 5], [-1, 0, 0]])).tolist() == [0, 0]  # not ids of any item


def test_collision_token_and_trie_by_hand():
    codes = np.array([[-1, -1], [0, 1], [0, 1], [2, 0], [0, 1]])  # items 1, 2, 4 collide
    ids = SemanticIds.from_codes(codes, codebook_size=3)
    assert ids.codes[1:, -1].tolist() == [0, 1, 0, 2]
    assert ids.vocab == 3 and ids.max_collisions == 3
    valid, child = ids.trie.step(0, torch.tensor([0]))
    assert valid.tolist() == [[True, False, True]]
    assert ids.decode(np.array([[0, 1, 2], [2, 0, 0], [2, 0, 1], [1, 1, 0]])).tolist() == [4, 3, 0, 0]
    with pytest.raises(ValueError, match="not unique"):
        SemanticIdTrie(codes, 3)


def test_rqvae_ids_follow_text_similarity(vectors):
    ids = build_semantic_ids(vectors, SemanticIdConfig(levels=2, codebook_size=4, epochs=60), cache=False)
    first = ids.codes[1:, 0]
    sims = vectors[1:] @ vectors[1:].T
    same = first[:, None] == first[None, :]
    np.fill_diagonal(same, False)
    assert sims[same].mean() > sims[~same].mean()  # the first token groups similar texts


def test_constrained_beam_search_only_emits_valid_items():
    rng = np.random.default_rng(0)
    codes = np.full((41, 3), -1)
    codes[1:] = np.unique(rng.integers(0, 5, size=(200, 3)), axis=0)[:40]  # 40 of 125 possible ids
    ids = SemanticIds.from_codes(codes[:, :2], 5)  # (2 levels + collision)
    valid_codes = {tuple(c) for c in ids.codes[1:]}
    gen = torch.Generator().manual_seed(0)
    favourite = torch.randn(6, 3, ids.vocab, generator=gen) * 5  # arbitrary, mostly-invalid preferences

    def step(rows, prefix):
        return favourite[rows, prefix.shape[1]].log_softmax(-1)

    banned = torch.zeros(6, 41, dtype=torch.bool)
    banned[0, 1:30] = True
    items, scores = constrained_beam_search(step, ids.trie, 6, beam=15, banned=banned)
    assert items.shape == (6, 15)
    for b in range(6):
        got = [int(i) for i, s in zip(items[b], scores[b]) if torch.isfinite(s)]
        assert len(got) == len(set(got)) and all(1 <= i <= 40 for i in got)
        assert all(tuple(ids.codes[i]) in valid_codes for i in got)
        assert (scores[b][:-1] >= scores[b][1:]).all()  # best first
    assert all(int(i) >= 30 for i, s in zip(items[0], scores[0]) if torch.isfinite(s))  # banned respected
    # Scores are exact log-probabilities of the emitted ids under the step model.
    i = int(items[1, 0])
    c = ids.codes[i]
    expected = sum(float(favourite[1, d].log_softmax(-1)[c[d]]) for d in range(3))
    assert scores[1, 0].item() == pytest.approx(expected, abs=1e-5)


def test_transition_masks_list_exactly_the_tokens_that_continue_a_valid_id():
    rng = np.random.default_rng(1)
    codes = np.full((31, 2), -1)
    codes[1:] = rng.integers(0, 4, size=(30, 2))  # collisions likely: the collision level is exercised
    ids = SemanticIds.from_codes(codes, 4)
    masks, paths = ids.trie.transition_masks(ids.codes)
    c = ids.codes
    for i in range(1, 31):
        for level in range(ids.depth):
            valid = {int(c[j, level]) for j in range(1, 31) if (c[j, :level] == c[i, :level]).all()}
            assert set(masks[paths[i, level]].nonzero().flatten().tolist()) == valid, (i, level)
    assert (paths[:, 0] == 0).all()  # every id starts at the root


def test_renormalised_beam_search_gives_a_distribution_over_valid_items():
    rng = np.random.default_rng(2)
    codes = np.full((21, 2), -1)
    codes[1:] = np.unique(rng.integers(0, 6, size=(100, 2)), axis=0)[:20]
    ids = SemanticIds.from_codes(codes, 6)
    logits = torch.randn(3, ids.depth, ids.vocab, generator=torch.Generator().manual_seed(0)) * 3

    def step(rows, prefix):
        return logits[rows, prefix.shape[1]]  # raw logits: the search normalises over valid tokens

    items, scores = constrained_beam_search(step, ids.trie, 3, beam=40, renormalise=True)
    finite = torch.isfinite(scores)
    assert (finite.sum(1) == 20).all()  # every item reached, no NaN from dead beams
    assert torch.allclose(scores.exp().nansum(1), torch.ones(3), atol=1e-5)  # sums to one over items
