"""EASE (closed-form item-item autoencoder): the closed form, scoring, and that it learns co-occurrence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agenticrs.recsys.data.dataset import Dataset
from agenticrs.recsys.models import build_config, get_model, list_models, pad_histories
from agenticrs.recsys.models.ease import EASE, ease_weights

torch.set_num_threads(1)


def _clusters(n_users: int = 200, n_items: int = 40, groups: int = 4, seed: int = 0) -> Dataset:
    """Short histories (4-5 items) drawn from one group of items per user: co-occurrence, no order."""
    rng = np.random.default_rng(seed)
    size = n_items // groups
    seqs = [rng.choice(np.arange(1, size + 1) + (u % groups) * size, size=int(rng.integers(4, 6)),
                       replace=False).tolist() for u in range(n_users)]
    return Dataset.from_sequences(seqs, n_items, name="clusters")


def test_ease_weights_solve_the_constrained_least_squares():
    rng = np.random.default_rng(0)
    n, l2 = 8, 3.0
    train = [rng.choice(np.arange(1, n + 1), size=int(rng.integers(1, 5))) for _ in range(30)]
    x = np.zeros((len(train), n))
    for u, s in enumerate(train):
        x[u, s - 1] = 1.0
    b = ease_weights(train, n, l2)[1:, 1:].astype(np.float64)
    assert np.allclose(np.diag(b), 0.0)
    # Stationarity of the Lagrangian: (G + l2 I) B - G = -diag(mu), so off-diagonal entries vanish.
    g = x.T @ x
    resid = (g + l2 * np.eye(n)) @ b - g
    assert np.allclose(resid - np.diag(np.diag(resid)), 0.0, atol=1e-4)


def test_ease_is_registered_scores_and_finds_the_clusters():
    assert "ease" in list_models()
    data = _clusters()
    split = data.split()
    net = get_model("ease")(data.n_items, data.n_users, build_config(EASE, {"l2": 10.0}), data)
    net.fit(split)
    hist = pad_histories(split.valid.histories, 8)
    scores = net.score(torch.from_numpy(split.valid.users), hist)
    assert scores.shape == (len(split.valid.users), data.n_items + 1) and torch.isfinite(scores).all()
    scores[:, 0] = -torch.inf
    scores[hist.nonzero(as_tuple=True)[0], hist[hist > 0]] = -torch.inf  # seen items
    top = scores.topk(10, dim=1).indices
    hits = (top == torch.as_tensor(split.valid.targets).view(-1, 1)).any(dim=1).float().mean().item()
    assert hits > 0.8  # a user's group has 10 items, 4-5 seen: HR@10 near 1; random would be ~0.25


def test_ease_refuses_bad_settings_with_the_field_named():
    with pytest.raises(ValueError, match="l2"):
        EASE(10, 5, build_config(EASE, {"l2": 0.0}))
    with pytest.raises(ValueError, match="max_items"):
        EASE(100, 5, build_config(EASE, {"max_items": 50}))
