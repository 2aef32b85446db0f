"""TIGER: trains on synthetic data with text and beats Pop; scores are a valid, constrained ranking."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agenticrs.recsys.data import load_dataset
from agenticrs.recsys.models import build_config, get_model, pad_histories
from agenticrs.recsys.models.tiger import gather_histories, length_buckets, prefix_pairs
from agenticrs.recsys.training.trainer import TrainConfig, run_experiment, seed_everything

DATA = "synthetic:users=400,items=100,seed=0,text_signal=0.9,topics=5,seq_strength=0.8"
SMALL = dict(embedding_dim=32, encoder_layers=1, decoder_layers=1, heads=2, ff_dim=64, id_levels=2,
             codebook_size=8, id_epochs=60, text_encoder="tfidf:dim=16", max_len=10, cache=False)


@pytest.fixture(scope="module")
def data():
    return load_dataset(DATA)


def test_prefix_pairs_and_histories():
    train = [np.array([5, 6, 7]), np.array([1]), np.array([2, 3])]
    flat, offsets, users, position = prefix_pairs(train)
    assert users.tolist() == [0, 0, 2] and position.tolist() == [1, 2, 1]
    hist = gather_histories(flat, offsets, users, position, max_len=3)
    assert hist.tolist() == [[0, 0, 5], [0, 5, 6], [0, 0, 2]]
    assert flat[offsets[users] + position].tolist() == [6, 7, 3]  # the targets


def test_sample_positions_caps_targets_per_user(data):
    cls = get_model("tiger")
    model = cls(data.n_items, data.n_users, build_config(cls, {**SMALL, "sample_positions": 2}), data)
    split = data.split()
    model.fit(split)
    users = np.concatenate([b.users.numpy() for b in model.batches(split.train, 64, np.random.default_rng(0))])
    counts = np.bincount(users, minlength=data.n_users)
    expected = np.minimum([max(len(s) - 1, 0) for s in split.train], 2)
    assert (counts == expected).all()


def test_length_buckets_use_every_target_once_in_batches_of_similar_length():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 21, size=5000)
    order = rng.permutation(5000)
    batches = length_buckets(order, lengths[order], 64, np.random.default_rng(1), chunk_batches=10)
    assert sorted(np.concatenate(batches).tolist()) == list(range(5000))
    assert all(len(b) <= 64 for b in batches)
    # Padding is what bucketing saves: the summed batch maxima fall far below random batching's.
    random_max = sum(lengths[order[i : i + 64]].max() for i in range(0, 5000, 64))
    assert sum(lengths[b].max() for b in batches) < 0.7 * random_max
    # The batches are shuffled: not in ascending length order.
    firsts = [lengths[b].min() for b in batches[:20]]
    assert firsts != sorted(firsts)


def test_bucketed_epoch_covers_every_prefix_with_the_same_histories(data):
    cls = get_model("tiger")
    split = data.split()
    seen = {}
    for bucket in (True, False):
        model = cls(data.n_items, data.n_users, build_config(cls, {**SMALL, "bucket_by_length": bucket}), data)
        model.fit(split)
        rows = [(int(u), tuple(h.tolist()), int(t)) for b in model.batches(split.train, 32, np.random.default_rng(0))
                for u, h, t in zip(b.users, b.histories, b.targets)]
        seen[bucket] = sorted(rows)
    assert seen[True] == seen[False] and len(seen[True]) == sum(max(len(s) - 1, 0) for s in split.train)


@pytest.mark.parametrize("masked", [False, True])
def test_tiger_beats_pop_and_ranks_only_valid_items(data, masked):
    pop = run_experiment(data, "pop", {}, TrainConfig(progress=False)).test["ndcg@10"]
    res = run_experiment(data, "tiger", {**SMALL, "masked_loss": masked},
                         TrainConfig(epochs=5, eval_every=5, lr=3e-3, batch_size=128, progress=False, patience=0,
                                     seed=0))
    assert res.test["ndcg@10"] > pop + 0.05, (res.test, pop)


def test_score_shape_and_history_exclusion(data):
    seed_everything(0)
    cls = get_model("tiger")
    model = cls(data.n_items, data.n_users, build_config(cls, {**SMALL, "beam_size": 7}), data).eval()
    hist = pad_histories([data.sequence(u)[:6] for u in range(5)], 10)
    with torch.no_grad():
        scores = model.score(torch.arange(5), hist)
    assert scores.shape == (5, data.n_items + 1)
    finite = torch.isfinite(scores)
    assert (finite.sum(1) == 7).all() and not finite[:, 0].any()
    for u in range(5):
        assert not finite[u, data.sequence(u)[:6]].any()  # beams never propose history items
    model.config.decode_batch = 2  # chunked decoding gives the same scores
    with torch.no_grad():
        assert torch.allclose(model.score(torch.arange(5), hist), scores)


@pytest.mark.parametrize("masked", [False, True])
def test_beam_decoder_matches_the_reference_decoder(data, masked):
    seed_everything(0)
    cls = get_model("tiger")
    model = cls(data.n_items, data.n_users, build_config(cls, {**SMALL, "masked_loss": masked}), data).eval()
    hist = pad_histories([data.sequence(u)[:5] for u in range(3)], 10)
    with torch.no_grad():
        memory, bias = model.context(torch.arange(3), hist)
        bias[:, 1] = -2.5  # a soft (gate-like) bias must be honoured too
        for t in range(model.depth):
            prefix = torch.randint(0, model.vocab, (3, 4, t))
            fast = model.decode_beams(memory, bias, prefix)
            rows = torch.arange(3).repeat_interleave(4)
            ref = model.decode(memory[rows], bias[rows], prefix.view(12, t))[:, -1].view(3, 4, -1)
            assert torch.allclose(fast, ref, atol=1e-5)
        # The full search: the fast path (eval) and the reference path (train mode, no dropout) agree.
        for m in model.modules():  # no dropout anywhere, so train mode differs only in the code path
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0
            elif isinstance(m, torch.nn.MultiheadAttention):
                m.dropout = 0.0
        fast_items, fast_scores = model.generate(memory, bias, hist)
        ref_items, ref_scores = model.train().generate(memory, bias, hist)
        assert torch.equal(fast_items, ref_items) and torch.allclose(fast_scores, ref_scores, atol=1e-4)


def test_needs_item_text():
    from agenticrs.recsys.data.dataset import Dataset

    cls = get_model("tiger")
    no_text = Dataset.from_sequences([[1, 2, 3]], 3)
    with pytest.raises(ValueError, match="has no item text"):
        cls(3, 1, build_config(cls, SMALL), no_text)
