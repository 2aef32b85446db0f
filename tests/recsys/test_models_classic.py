"""ItemKNN, BPR-MF and GRU4Rec on tiny synthetic data whose structure each model should find."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from agenticrs.recsys.data.dataset import Dataset, EvalSplit, Split
from agenticrs.recsys.models import build_config, get_model, list_models, pad_histories
from agenticrs.recsys.models.bprmf import BPRMF, sample_negatives
from agenticrs.recsys.models.gru4rec import GRU4Rec, linear_cross_entropy
from agenticrs.recsys.models.itemknn import ItemKNN, topk_cosine
from agenticrs.recsys.training.trainer import TrainConfig, run_experiment

torch.set_num_threads(1)

N_USERS, N_ITEMS = 300, 60


def sequential_data(seed: int = 0) -> Dataset:
    """Item i is followed by i + 1 (cyclically) 90% of the time, else by a random item."""
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(N_USERS):
        cur = int(rng.integers(1, N_ITEMS + 1))
        seq = [cur]
        for _ in range(int(rng.integers(8, 16)) - 1):
            cur = cur % N_ITEMS + 1 if rng.random() < 0.9 else int(rng.integers(1, N_ITEMS + 1))
            seq.append(cur)
        seqs.append(seq)
    return Dataset.from_sequences(seqs, N_ITEMS, name="sequential")


def cluster_data(seed: int = 0, groups: int = 6) -> Dataset:
    """Users belong to a group and consume, in random order, mostly that group's items."""
    rng = np.random.default_rng(seed)
    size = N_ITEMS // groups
    seqs = []
    for u in range(N_USERS):
        own = np.arange(1, size + 1) + (u % groups) * size
        seq = rng.choice(own, size=int(rng.integers(7, 10)), replace=False)
        noise = rng.random(len(seq)) < 0.1
        seq[noise] = rng.integers(1, N_ITEMS + 1, size=int(noise.sum()))
        seqs.append(seq.tolist())
    return Dataset.from_sequences(seqs, N_ITEMS, name="clusters")


def ndcg10(data: Dataset, model: str, config: dict | None = None, **train: object) -> float:
    cfg = TrainConfig(progress=False, **train)  # type: ignore[arg-type]
    return run_experiment(data, model, config or {}, cfg).valid["ndcg@10"]


def test_registry() -> None:
    assert {"itemknn", "bprmf", "gru4rec"} <= set(list_models())
    assert get_model("ItemKNN") is ItemKNN and get_model("bprmf") is BPRMF and get_model(GRU4Rec) is GRU4Rec
    assert build_config(GRU4Rec, {"hidden": "32"}).hidden == 32  # CLI strings are coerced


@pytest.mark.parametrize(
    "model, overrides, field",
    [("gru4rec", {"hidden": 0}, "hidden"), ("gru4rec", {"dropout": 1.0}, "dropout"),
     ("itemknn", {"k_neighbors": 0}, "k_neighbors"), ("itemknn", {"shrink": -1.0}, "shrink"),
     ("bprmf", {"embedding_dim": 0}, "embedding_dim")],
)
def test_bad_config_names_the_field(model: str, overrides: dict, field: str) -> None:
    cls = get_model(model)
    with pytest.raises(ValueError, match=field):
        cls(N_ITEMS, N_USERS, build_config(cls, overrides))


@pytest.mark.parametrize("model", ["itemknn", "bprmf", "gru4rec"])
def test_score_shape(model: str) -> None:
    data = cluster_data()
    split = data.split()
    cls = get_model(model)
    net = cls(data.n_items, data.n_users, build_config(cls, {"max_len": 12}), data)
    net.fit(split)
    hist = pad_histories(split.valid.histories[:7], 12)
    scores = net.score(torch.from_numpy(split.valid.users[:7]), hist)
    assert scores.shape == (7, N_ITEMS + 1) and torch.isfinite(scores).all()


# ---------------------------------------------------------------------- ItemKNN
def test_topk_cosine_matches_dense_brute_force() -> None:
    rng = np.random.default_rng(1)
    n, k, shrink = 12, 4, 2.0
    train = [rng.choice(np.arange(1, n + 1), size=int(rng.integers(1, 6))) for _ in range(40)]
    x = np.zeros((len(train), n + 1))
    for u, s in enumerate(train):
        x[u, s] = 1.0  # repeats count once
    co = x.T @ x
    norm = np.sqrt(np.diag(co))
    sim = co / (np.outer(norm, norm) + shrink)
    np.fill_diagonal(sim, 0.0)
    neighbors, weights = topk_cosine(train, n, k, shrink)
    assert neighbors.shape == weights.shape == (n + 1, k)
    for i in range(1, n + 1):
        expected = np.sort(sim[i])[::-1][:k]
        np.testing.assert_allclose(weights[i], expected, rtol=1e-5)
        np.testing.assert_allclose(sim[i, neighbors[i][weights[i] > 0]], weights[i][weights[i] > 0], rtol=1e-5)
    assert not weights[0].any()  # the padding item has no neighbours


def test_itemknn_recency_decay_favours_recent_items() -> None:
    # Items 1-2 co-occur, items 3-4 co-occur; a history [1, 3] ends on 3.
    train = [np.array([1, 2]), np.array([3, 4])] * 5
    empty = EvalSplit(np.zeros(0, dtype=np.int64), [], np.zeros(0, dtype=np.int64))
    for decay, winner in [(0.0, None), (1.0, 4)]:
        net = ItemKNN(4, len(train), build_config(ItemKNN, {"recency_decay": decay, "shrink": 0.0}))
        net.fit(Split(train, empty, empty))
        s = net.score(torch.zeros(1, dtype=torch.long), torch.tensor([[0, 1, 3]]))
        if winner is None:
            assert s[0, 2] == pytest.approx(s[0, 4].item())
        else:
            assert s[0, 4] > s[0, 2]


def test_itemknn_beats_pop_on_co_occurrence_data() -> None:
    data = cluster_data()
    pop, knn = ndcg10(data, "pop"), ndcg10(data, "itemknn", {"k_neighbors": 20})
    assert knn > pop + 0.3, (knn, pop)
    res = run_experiment(data, "itemknn", {"k_neighbors": 20}, TrainConfig(progress=False))
    assert res.cost["params"] == 2 * (N_ITEMS + 1) * 20  # the neighbour buffers are its size


# ---------------------------------------------------------------------- BPR-MF
def test_negative_sampling_avoids_training_items() -> None:
    rng = np.random.default_rng(0)
    n_items = 5
    users = np.repeat(np.arange(3), [2, 5, 3])  # user 1 consumed every item
    items = np.array([1, 2, 1, 2, 3, 4, 5, 3, 4, 5])
    keys = np.unique(users * (n_items + 1) + items)
    neg = sample_negatives(np.repeat(np.arange(3), 300), keys, n_items, rng).reshape(3, 300)
    assert set(neg[0]) == {3, 4, 5} and set(neg[2]) == {1, 2}
    # No valid negative exists for user 1: sampling gives up after its rounds instead of looping.
    assert ((neg[1] >= 1) & (neg[1] <= n_items)).all()


def test_bprmf_beats_pop_on_user_cluster_data() -> None:
    data = cluster_data()
    pop = ndcg10(data, "pop")
    bpr = ndcg10(data, "bprmf", {"embedding_dim": 16}, epochs=10, lr=0.01, batch_size=64)
    assert bpr > pop + 0.3, (bpr, pop)


# ---------------------------------------------------------------------- GRU4Rec
def test_linear_cross_entropy_matches_reference() -> None:
    torch.manual_seed(0)
    h = torch.randn(37, 8, requires_grad=True)
    w = torch.randn(23, 8, requires_grad=True)
    t = torch.randint(0, 23, (37,))
    ref = F.cross_entropy(h @ w.T, t)
    g_ref = torch.autograd.grad(3 * ref, (h, w))
    out = linear_cross_entropy(h, w, t, chunk_elements=23 * 5)  # several uneven chunks
    g_out = torch.autograd.grad(3 * out, (h, w))
    assert out.item() == pytest.approx(ref.item(), rel=1e-5)
    for a, b in zip(g_out, g_ref):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("tie", [True, False])
def test_gru4rec_score_ignores_padding_width(tie: bool) -> None:
    torch.manual_seed(0)
    net = GRU4Rec(N_ITEMS, 2, build_config(GRU4Rec, {"tie_weights": tie, "layers": 2})).eval()
    hists = [np.array([5, 6, 7]), np.array([9]), np.array([1, 2, 3, 4, 5, 6])]
    users = torch.zeros(3, dtype=torch.long)
    short, wide = net.score(users, pad_histories(hists, 6)), net.score(users, pad_histories(hists, 20))
    torch.testing.assert_close(short, wide)
    # The state is the GRU's after the last real item, run without any padding.
    seq = torch.tensor([[5, 6, 7]])
    _, last = net.gru(net.item_emb(seq))
    torch.testing.assert_close(short[0], net._logits(last[-1])[0])


def test_gru4rec_trains_on_every_position() -> None:
    net = GRU4Rec(N_ITEMS, 3, build_config(GRU4Rec, {"max_len": 4}))
    train = [np.array([1, 2, 3, 4, 5, 6, 7]), np.array([8]), np.array([9, 10])]
    (batch,) = net.batches(train, 8, np.random.default_rng(0))
    # The single-item user has no (input, target) pair; long rows keep their last max_len + 1 items.
    rows = sorted(zip(batch.inputs.tolist(), batch.targets.tolist()))
    assert rows == [([3, 4, 5, 6], [4, 5, 6, 7]), ([9, 0, 0, 0], [10, 0, 0, 0])]
    (short,) = net.batches([np.array([9, 10]), np.array([11, 12, 13])], 8, np.random.default_rng(0))
    assert short.inputs.shape == (2, 2)  # columns that are padding in every row are cut
    assert torch.isfinite(net.loss(batch))


def test_gru4rec_beats_pop_on_sequential_data() -> None:
    data = sequential_data()
    pop = ndcg10(data, "pop")
    gru = ndcg10(data, "gru4rec", {"hidden": 32, "embedding_dim": 32, "max_len": 20}, epochs=15, lr=0.01,
                 batch_size=64)
    assert gru > pop + 0.6, (gru, pop)  # 0.9 is the ceiling: 10% of next items are random


@pytest.mark.parametrize("model", ["gru4rec", "bprmf"])
def test_same_seed_same_result(model: str) -> None:
    data = sequential_data()
    cfg = TrainConfig(progress=False, epochs=2, seed=3)
    a = run_experiment(data, model, {"embedding_dim": 8}, cfg)
    b = run_experiment(data, model, {"embedding_dim": 8}, cfg)
    assert a.valid == b.valid and a.test == b.test
    assert a.train["history"][-1]["train/loss"] == b.train["history"][-1]["train/loss"]
    c = run_experiment(data, model, {"embedding_dim": 8}, TrainConfig(progress=False, epochs=2, seed=4))
    assert c.train["history"][-1]["train/loss"] != a.train["history"][-1]["train/loss"]
