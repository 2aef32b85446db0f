"""Trained components of a pipeline: a per-process cache of fitted recommenders, and item embeddings.

A pipeline is wired from *agents* (recall, ranking, re-ranking) that wrap registered
recommenders. Many pipelines share components (every Compose configuration with a SASRec
recall agent uses the same SASRec), so fitted models are cached per process, keyed by the
dataset's content hash, the model, its parameters and the training settings. The cache
remembers each model's training seconds, so a pipeline can report what a cold run costs.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch

from agenticrs.recsys.data.dataset import Dataset, Split


@dataclass(frozen=True)
class ComponentSpec:
    """A recommender a pipeline agent wraps.

    Attributes:
        model: registered model name (``pop``, ``itemknn``, ``bprmf``, ``sasrec``...).
        params: model ``Config`` overrides as sorted ``(field, value)`` pairs.
        epochs: training epochs (ignored by closed-form models).
    """

    model: str
    params: tuple[tuple[str, Any], ...] = ()
    epochs: int = 10

    @classmethod
    def make(cls, model: str, epochs: int = 10, **params: Any) -> "ComponentSpec":
        return cls(model, tuple(sorted(params.items())), int(epochs))


@dataclass
class FittedComponent:
    """A trained recommender plus what training it cost (seconds, parameters)."""

    model: Any
    train_seconds: float
    params: int


_CACHE: "OrderedDict[tuple[Any, ...], FittedComponent]" = OrderedDict()
CACHE_SIZE = 32
"""Fitted models kept per process (least recently used ones are dropped)."""


def fit_component(dataset: Dataset, split: Split, spec: ComponentSpec, seed: int = 0, device: str = "cpu",
                  train_overrides: Mapping[str, Any] | None = None) -> FittedComponent:
    """Train (or fetch from the per-process cache) the recommender ``spec`` describes.

    Training goes through the one trainer (early stopping on validation NDCG@10), seeded
    with ``seed``; a :class:`~agenticrs.recsys.training.DivergenceError` propagates.
    """
    from agenticrs.recsys.evaluation.cost import count_parameters
    from agenticrs.recsys.models import build_config, get_model
    from agenticrs.recsys.training import TrainConfig, seed_everything, train

    overrides = dict(train_overrides or {})
    key = (dataset.fingerprint(), spec, int(seed), device, tuple(sorted(overrides.items())))
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    cls = get_model(spec.model)
    cfg = build_config(cls, dict(spec.params))
    seed_everything(seed)
    net = cls(dataset.n_items, dataset.n_users, cfg, dataset)
    tc = dataclasses.replace(TrainConfig(), epochs=spec.epochs, seed=seed, device=device, progress=False,
                             logdir=None, **overrides)
    start = time.perf_counter()
    train(net, split, tc)
    net.eval()
    hit = FittedComponent(net, time.perf_counter() - start, count_parameters(net))
    _CACHE[key] = hit
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return hit


def clear_cache() -> None:
    """Forget every fitted component of this process."""
    _CACHE.clear()


# ---------------------------------------------------------------------- item embeddings
def model_item_embeddings(model: Any) -> torch.Tensor | None:
    """``[n_items + 1, d]`` learned item embeddings of a model (``item_emb``), or ``None``."""
    emb = getattr(model, "item_emb", None)
    if isinstance(emb, torch.nn.Embedding):
        return emb.weight.detach().float().cpu()
    return None


def text_item_embeddings(dataset: Dataset, dim: int = 32, seed: int = 0) -> torch.Tensor | None:
    """``[n_items + 1, dim]`` item-text embeddings (TF-IDF + truncated SVD), or ``None`` without text.

    A small offline text encoder, the world-knowledge stand-in until ``agenticrs.recsys.text``
    provides a shared one; row 0 (padding) is zero.
    """
    if dataset.item_text is None or not any(t.strip() for t in dataset.item_text[1:]):
        return None
    return torch.from_numpy(_tfidf_svd(dataset.item_text, dim, seed))


def _tfidf_svd(texts: list[str], dim: int, seed: int) -> np.ndarray:
    # Private on purpose: replace by agenticrs.recsys.text's encoder once it lands.
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    x = TfidfVectorizer(min_df=1, sublinear_tf=True).fit_transform([t or "" for t in texts])
    k = max(1, min(dim, x.shape[1] - 1, x.shape[0] - 1))
    z = TruncatedSVD(n_components=k, random_state=seed).fit_transform(x).astype(np.float32)
    out = np.zeros((len(texts), dim), dtype=np.float32)
    out[:, :k] = z
    out[0] = 0.0
    return out


def attribute_item_embeddings(dataset: Dataset) -> torch.Tensor | None:
    """``[n_items + 1, n_attributes]`` multi-hot item attributes (brand, category...), or ``None``."""
    if dataset.item_attributes is None:
        return None
    n_attr = 1 + max((int(a.max()) for a in dataset.item_attributes if len(a)), default=0)
    out = torch.zeros(dataset.n_items + 1, n_attr)
    for i, a in enumerate(dataset.item_attributes):
        if len(a):
            out[i, torch.as_tensor(a, dtype=torch.long)] = 1.0
    return out


def normalise_rows(x: torch.Tensor) -> torch.Tensor:
    """Unit-length rows (zero rows stay zero), so dot products are cosine similarities."""
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
