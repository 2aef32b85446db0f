"""The feature-aware SASRec backbone of AutoFeature."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from agenticrs.recsys.data import load_dataset
from agenticrs.recsys.models import build_config, get_model
from agenticrs.recsys.models.sasrec_features import gap_buckets
from agenticrs.recsys.training import TrainConfig, run_experiment


@pytest.fixture(scope="module")
def data():
    d = load_dataset("synthetic:users=150,items=90,seed=2,mean_length=8,text_signal=0.9")
    ts = np.cumsum(np.random.default_rng(0).exponential(3600.0, size=len(d.items)))
    return dataclasses.replace(d, timestamps=ts, _fingerprint=[])


def build(d, **params):
    cls = get_model("sasrec_features")
    return cls(d.n_items, d.n_users, build_config(cls, {"embedding_dim": 16, "layers": 1, **params}), d)


def test_features_switch_parameters(data):
    names = lambda m: {n.split(".")[0] for n, _ in m.named_parameters()}  # noqa: E731
    assert {"item_emb", "pos_emb"} <= names(build(data))
    m = build(data, item_id=False, text=True, attributes=True, fusion="gating", positional=False, time_gap=True)
    assert {"text_proj", "attr_emb", "gate", "gap_emb"} <= names(m) and not {"item_emb", "pos_emb"} & names(m)
    assert "fuse" in names(build(data, text=True, fusion="concat"))
    table = m.item_table()
    assert table.shape == (data.n_items + 1, 16) and torch.all(table[0] == 0)
    with pytest.raises(ValueError, match="at least one"):
        build(data, item_id=False)
    with pytest.raises(ValueError, match="fusion"):
        build(data, fusion="attention")


def test_time_gaps_follow_the_history(data):
    g = gap_buckets(np.array([0.0, 60.0, 60.0 + 3 * 60]), 3)
    assert g.tolist() == [0, 1, 2]  # log2(1 + 1 minute) = 1, log2(1 + 3) = 2
    m = build(data, time_gap=True, max_len=10)
    split = data.split()
    users = torch.from_numpy(split.test.users[:4])
    from agenticrs.recsys.models import pad_histories

    hist = pad_histories(split.test.histories[:4], 10)
    gaps = m._history_gaps(users, hist)
    for r, u in enumerate(users.tolist()):
        seq_gaps = m._gaps[u][: len(split.test.histories[r])]
        n = min(10, len(seq_gaps))
        assert gaps[r, -n:].tolist() == seq_gaps[-n:].tolist()
    assert m.score(users, hist).shape == (4, data.n_items + 1)


def test_text_features_train_and_beat_chance(data):
    r = run_experiment(data, "sasrec_features", {"embedding_dim": 16, "layers": 1, "item_id": False, "text": True},
                       TrainConfig(epochs=2, progress=False, device="cpu"))
    assert r.valid["ndcg@10"] > 10 / data.n_items * 0.5  # well above a random ranking's ~0.06 * 0.5
