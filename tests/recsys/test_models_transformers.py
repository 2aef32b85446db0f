"""SASRec and BERT4Rec: they learn sequential structure, respect causality and padding, and are seeded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agenticrs.recsys.data.dataset import Dataset
from agenticrs.recsys.models import build_config, get_model, pad_histories
from agenticrs.recsys.models.bert4rec import BERT4Rec
from agenticrs.recsys.models.sasrec import SASRec, next_item_matrices, sample_negatives
from agenticrs.recsys.models.transformer import encode_by_length
from agenticrs.recsys.training.trainer import TrainConfig, run_experiment

torch.set_num_threads(1)

N_ITEMS = 80


def chain_sequences(n_users: int = 400, noise: float = 0.15, seed: int = 0) -> list[list[int]]:
    """Sequences that mostly step ``i -> i % N_ITEMS + 1``; ``noise`` of the steps are random items."""
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(n_users):
        seq = [int(rng.integers(1, N_ITEMS + 1))]
        for _ in range(int(rng.integers(8, 20)) - 1):
            seq.append(int(rng.integers(1, N_ITEMS + 1)) if rng.random() < noise else seq[-1] % N_ITEMS + 1)
        seqs.append(seq)
    return seqs


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return Dataset.from_sequences(chain_sequences(), N_ITEMS, name="chain")


@pytest.fixture(scope="module")
def pop_ndcg(dataset: Dataset) -> float:
    ndcg = run_experiment(dataset, "pop", {}, TrainConfig(progress=False)).valid["ndcg@10"]
    assert ndcg < 0.2  # the structure is sequential: popularity alone cannot solve it
    return ndcg


def build(name: str, n_items: int = N_ITEMS, **overrides) -> torch.nn.Module:
    cls = get_model(name)
    return cls(n_items, 10, build_config(cls, overrides))


# ---------------------------------------------------------------------- learning
@pytest.mark.parametrize(
    "name, model_config, epochs, lr",
    [
        ("sasrec", {"loss": "bce"}, 6, 3e-3),
        ("sasrec", {"loss": "ce"}, 4, 3e-3),
        ("sasrec", {"loss": "sampled_softmax", "n_negatives": 16}, 4, 3e-3),
        ("sasrec", {"loss": "bce", "block": "s3rec"}, 6, 3e-3),
        ("bert4rec", {"mask_prob": 0.4}, 12, 5e-3),
    ],
)
def test_learns_next_item_structure(dataset, pop_ndcg, name, model_config, epochs, lr):
    result = run_experiment(
        dataset, name, model_config, TrainConfig(epochs=epochs, lr=lr, batch_size=64, progress=False, seed=1)
    )
    assert result.valid["ndcg@10"] >= 2 * pop_ndcg, (result.valid, pop_ndcg)
    assert result.test["ndcg@10"] >= 2 * pop_ndcg, (result.test, pop_ndcg)


def test_same_seed_same_result(dataset):
    cfg = TrainConfig(epochs=2, batch_size=64, progress=False, seed=3)
    runs = [run_experiment(dataset, name, {}, cfg) for name in ("sasrec", "bert4rec") for _ in range(2)]
    assert runs[0].test == runs[1].test and runs[2].test == runs[3].test
    other = run_experiment(dataset, "sasrec", {}, TrainConfig(epochs=2, batch_size=64, progress=False, seed=4))
    assert other.test != runs[0].test


# ---------------------------------------------------------------------- attention structure
@pytest.mark.parametrize("block", ["sasrec", "s3rec"])
def test_sasrec_is_causal(block):
    model = build("sasrec", layers=2, heads=2, dropout=0.0, block=block).eval()
    seq = torch.tensor([[0, 0, 5, 9, 13, 2, 40, 7]])
    changed = seq.clone()
    changed[0, -2] = 77
    with torch.no_grad():
        a, b = model.encode(seq), model.encode(changed)
    torch.testing.assert_close(a[:, :-2], b[:, :-2])  # earlier positions cannot see the future
    assert not torch.allclose(a[:, -2:], b[:, -2:])  # the changed position and later ones do


def test_bert4rec_is_bidirectional():
    model = build("bert4rec", dropout=0.0).eval()
    seq = torch.tensor([[0, 0, 5, 9, 13, 2, 40, 7]])
    changed = seq.clone()
    changed[0, -1] = 77
    with torch.no_grad():
        a, b = model.encode(seq), model.encode(changed)
    assert not torch.allclose(a[:, 2:-1], b[:, 2:-1])


@pytest.mark.parametrize("name, overrides", [("sasrec", {}), ("sasrec", {"block": "s3rec"}), ("bert4rec", {})])
def test_padding_does_not_change_scores(name, overrides):
    torch.manual_seed(0)
    model = build(name, max_len=12, **overrides).eval()
    histories = [np.array([3, 17, 4]), np.array([8, 1, 66, 23, 9, 12, 70]), np.arange(1, 31)]
    with torch.no_grad():
        ref = model.score(torch.arange(3), pad_histories(histories, 12))
        for width in (7, 12, 20):  # narrower (still >= the short rows), exact and wider than max_len
            padded = pad_histories([h[-min(width, 12):] for h in histories], width)
            rows = 3 if width >= 12 else 2  # the long row is cut differently below max_len
            torch.testing.assert_close(model.score(torch.arange(3), padded)[:rows], ref[:rows])
        # One row alone (no longer padded to the batch's longest row) scores the same.
        alone = model.score(torch.arange(1), pad_histories(histories[:1], 3))
    torch.testing.assert_close(alone[0], ref[0])
    assert ref.shape == (3, N_ITEMS + 1)
    assert not torch.allclose(ref[0], ref[1])  # scores do depend on the history


def test_encode_by_length_matches_one_padded_pass():
    torch.manual_seed(0)
    model = build("sasrec", max_len=20).eval()
    lengths = np.random.default_rng(0).integers(1, 21, size=70)
    seqs = pad_histories([np.arange(1, n + 1) for n in lengths], 20)
    with torch.no_grad():
        full = model.encode(seqs)
        chunked = encode_by_length(model.encode, seqs, chunks=5, min_rows=8)
    real = seqs != 0
    torch.testing.assert_close(chunked[real], full[real], rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------- batches
def test_next_item_matrices_shift_and_truncate():
    inputs, targets, lengths = next_item_matrices([np.array([1, 2, 3, 4, 5, 6]), np.array([7]), np.array([8, 9])], 3)
    assert inputs.tolist() == [[3, 4, 5], [0, 0, 8]]  # most recent max_len + 1 items, left-padded
    assert targets.tolist() == [[4, 5, 6], [0, 0, 9]]
    assert lengths.tolist() == [3, 1]  # the single-item sequence gives no pair


def test_negatives_avoid_positives():
    rng = np.random.default_rng(0)
    pos = rng.integers(1, 4, size=(50, 10))
    neg = sample_negatives(pos, 3, 4, rng)
    assert neg.shape == (50, 10, 4)
    assert (neg != pos[..., None]).all() and neg.min() >= 1 and neg.max() <= 3


def test_sasrec_batches_cover_every_user_once(dataset):
    model = build("sasrec", loss="bce", n_negatives=2)
    split = dataset.split()
    model.fit(split)
    batches = list(model.batches(split.train, 64, np.random.default_rng(0)))
    assert sum(len(b.inputs) for b in batches) == dataset.n_users
    for b in batches:
        assert b.negatives.shape == (*b.targets.shape, 2)
        assert ((b.inputs != 0) == (b.targets != 0)).all()
        assert (b.inputs != 0)[:, 0].any()  # trimmed to the batch's longest sequence


def test_sampled_softmax_is_cross_entropy_over_positive_and_negatives(dataset):
    """The loss equals a hand-written softmax over [positive, negatives], and its batches carry negatives."""
    torch.manual_seed(0)
    model = build("sasrec", loss="sampled_softmax", n_negatives=3)
    split = dataset.split()
    model.fit(split)
    batch = next(model.batches(split.train, 16, np.random.default_rng(0)))
    assert batch.negatives.shape == (*batch.targets.shape, 3)
    valid = batch.targets != 0
    cands = torch.cat([batch.targets[valid].unsqueeze(1), batch.negatives[valid]], dim=1)  # [N, 4]
    model.eval()  # no dropout, so both passes see the same network
    hidden = encode_by_length(model.encode, batch.inputs)[valid]
    logits = (hidden.unsqueeze(1) * model.item_emb(cands)).sum(-1)
    expected = (torch.logsumexp(logits, dim=1) - logits[:, 0]).mean()
    assert torch.allclose(model.loss(batch), expected, atol=1e-6)


def test_bert4rec_masks(dataset):
    model = build("bert4rec", mask_prob=0.3, last_item_prob=0.5)
    split = dataset.split()
    model.fit(split)
    for b in model.batches(split.train, 64, np.random.default_rng(0)):
        masked = b.inputs == model.mask_id
        assert (masked == (b.labels != 0)).all()
        assert masked.any(dim=1).all()  # every row has something to predict
    share = masked.sum() / (b.inputs != 0).sum()
    assert 0.1 < share < 0.6


def test_bert4rec_scores_items_only_not_the_mask_token():
    model = build("bert4rec").eval()
    with torch.no_grad():
        scores = model.score(torch.arange(4), pad_histories([np.array([1, 2])] * 4, 50))
    assert scores.shape == (4, N_ITEMS + 1)


@pytest.mark.parametrize(
    "name, overrides, field",
    [("sasrec", {"loss": "bpr"}, "loss"), ("sasrec", {"block": "gpt"}, "block"),
     ("sasrec", {"embedding_dim": 30, "heads": 4}, "embedding_dim"),
     ("bert4rec", {"mask_prob": 0.0}, "mask_prob"), ("bert4rec", {"max_len": 1}, "max_len")],
)
def test_bad_config_names_the_field(name, overrides, field):
    with pytest.raises(ValueError, match=field):
        build(name, **overrides)
