"""End-to-end pipelines: recall -> merge -> rank -> re-rank, evaluated like a single model.

``build_pipeline(dataset, split, config)`` fits (or fetches from the per-process cache) the
recommenders the agents wrap; :meth:`Pipeline.recommend` runs the stages on a batch of users;
:func:`evaluate_pipeline` scores the final lists with the full-ranking protocol of
:func:`agenticrs.recsys.evaluation.evaluate` (history items excluded, a target outside the
final list is a miss), so a pipeline's NDCG@10 is comparable with any model's, and adds
catalogue coverage, intra-list diversity and measured latency.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from agenticrs.recsys.data.dataset import Dataset, EvalSplit, Split
from agenticrs.recsys.evaluation.metrics import metrics_from_ranks
from agenticrs.recsys.pipeline.agents import Candidates, MMRReranker, RankAgent, RecallAgent
from agenticrs.recsys.pipeline.components import (
    ComponentSpec,
    attribute_item_embeddings,
    fit_component,
    model_item_embeddings,
    normalise_rows,
    text_item_embeddings,
)
from agenticrs.recsys.pipeline.merge import list_merges, merge

RERANKERS = ("none", "mmr")
MMR_EMBEDDINGS = ("model", "text", "attributes")


@dataclass(frozen=True)
class RecallSpec:
    """One recall agent: the recommender and its candidate quota per user."""

    component: ComponentSpec
    quota: int = 100


@dataclass(frozen=True)
class PipelineConfig:
    """How agents are selected and wired.

    Attributes:
        recall: one or more recall agents (distinct components).
        merge: merge strategy of several recall lists (``rrf``, ``round_robin``, ``score``).
        candidates: size of the merged candidate set handed to the ranking agent (the union of
            the recall lists is cut to it, which is where the merge strategy matters).
        rank: the ranking agent's recommender, or ``None`` to keep the merged order.
        rerank: ``none`` or ``mmr``.
        mmr_weight: MMR relevance weight in ``[0, 1]`` (1 = no diversification).
        mmr_embedding: item similarity for MMR: ``model`` (the ranking or first recall model's
            learned item embeddings, text if it has none), ``text`` (TF-IDF + SVD of item text)
            or ``attributes`` (multi-hot brand / category).
        mmr_window: top candidates MMR re-orders.
        list_size: length of the final list served (the metrics' largest K must not exceed it).
    """

    recall: tuple[RecallSpec, ...]
    merge: str = "rrf"
    candidates: int = 100
    rank: ComponentSpec | None = None
    rerank: str = "none"
    mmr_weight: float = 0.7
    mmr_embedding: str = "model"
    mmr_window: int = 50
    list_size: int = 50

    def __post_init__(self) -> None:
        if not self.recall:
            raise ValueError("PipelineConfig: at least one recall agent is required")
        specs = [r.component for r in self.recall]
        if len(set(specs)) != len(specs):
            raise ValueError(f"PipelineConfig: duplicate recall agents {[s.model for s in specs]}")
        if self.merge not in list_merges():
            raise ValueError(f"PipelineConfig: unknown merge {self.merge!r}; known: {list_merges()}")
        if self.rerank not in RERANKERS:
            raise ValueError(f"PipelineConfig: rerank must be one of {RERANKERS}, got {self.rerank!r}")
        if self.mmr_embedding not in MMR_EMBEDDINGS:
            raise ValueError(f"PipelineConfig: mmr_embedding must be one of {MMR_EMBEDDINGS}, got {self.mmr_embedding!r}")
        if not 0.0 <= self.mmr_weight <= 1.0:
            raise ValueError(f"PipelineConfig: mmr_weight must lie in [0, 1], got {self.mmr_weight}")
        if self.list_size < 1 or self.candidates < 1 or any(r.quota < 1 for r in self.recall):
            raise ValueError("PipelineConfig: list_size, candidates and every quota must be >= 1")


@dataclass
class Pipeline:
    """Fitted agents wired as configured (build with :func:`build_pipeline`)."""

    config: PipelineConfig
    n_items: int
    recall: list[RecallAgent]
    ranker: RankAgent | None = None
    reranker: MMRReranker | None = None
    train_seconds: float = 0.0
    """Training seconds of every component (charged even when a component came from the cache)."""
    params: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def recommend(self, users: np.ndarray, histories: Sequence[np.ndarray]) -> Candidates:
        """Final lists ``[B, list_size]`` for a batch of users (stage times add to ``stage_seconds``)."""
        t = time.perf_counter()
        lists = [r.recall(users, histories) for r in self.recall]
        t = self._tick("recall", t)
        cands = merge(lists, self.n_items, self.config.merge, self.config.candidates) if len(lists) > 1 else lists[0]
        t = self._tick("merge", t)
        if self.ranker is not None:
            cands = self.ranker.rank(users, histories, cands)
        t = self._tick("rank", t)
        if self.reranker is not None:
            cands = self.reranker.rerank(cands)
        self._tick("rerank", t)
        k = self.config.list_size
        items, scores = cands.items[:, :k], cands.scores[:, :k]
        if items.shape[1] < k:  # fewer candidates than the list: pad with empty slots
            pad = k - items.shape[1]
            items = torch.cat([items, torch.zeros(items.shape[0], pad, dtype=items.dtype)], 1)
            scores = torch.cat([scores, torch.full((scores.shape[0], pad), float("-inf"))], 1)
        return Candidates(items, scores)

    def _tick(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + now - since
        return now


def build_pipeline(dataset: Dataset, split: Split, config: PipelineConfig, seed: int = 0, device: str = "cpu",
                   train_overrides: Mapping[str, Any] | None = None) -> Pipeline:
    """Fit (or reuse) every component and wire the agents."""
    fitted = {}
    for spec in [r.component for r in config.recall] + ([config.rank] if config.rank else []):
        if spec not in fitted:
            fitted[spec] = fit_component(dataset, split, spec, seed, device, train_overrides)
    recall = [RecallAgent(r.component.model, fitted[r.component].model, r.quota) for r in config.recall]
    ranker = RankAgent(config.rank.model, fitted[config.rank].model) if config.rank else None
    reranker = None
    if config.rerank == "mmr":
        emb = mmr_embeddings(dataset, config, [fitted[s].model for s in fitted], seed)
        reranker = MMRReranker(emb, config.mmr_weight, config.mmr_window)
    return Pipeline(config, dataset.n_items, recall, ranker, reranker,
                    train_seconds=sum(f.train_seconds for f in fitted.values()),
                    params=sum(f.params for f in fitted.values()))


def mmr_embeddings(dataset: Dataset, config: PipelineConfig, models: Sequence[Any], seed: int = 0) -> torch.Tensor:
    """The item embeddings MMR measures similarity with (see ``PipelineConfig.mmr_embedding``).

    Falls back model -> text -> attributes -> one-hot (no diversification signal) when the
    preferred source is missing, so every wiring runs.
    """
    order = {"model": ("model", "text", "attributes"), "text": ("text", "attributes", "model"),
             "attributes": ("attributes", "text", "model")}[config.mmr_embedding]
    for source in order:
        if source == "model":
            # The ranking agent's embeddings first: it decides the order MMR starts from.
            for m in models[::-1] if config.rank else models:
                emb = model_item_embeddings(m)
                if emb is not None:
                    return emb
        elif source == "text":
            emb = text_item_embeddings(dataset, seed=seed)
            if emb is not None:
                return emb
        else:
            emb = attribute_item_embeddings(dataset)
            if emb is not None:
                return emb
    return torch.eye(dataset.n_items + 1)


# ---------------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class PipelineEval:
    """Metrics of a pipeline on one split.

    Attributes:
        metrics: ``recall@K``, ``ndcg@K``, ``mrr@K`` (full-ranking compatible), ``coverage@K``
            (share of the catalogue in anyone's top K), ``diversity@K`` (mean pairwise
            ``1 - cosine`` of the top K under the dataset's attribute or text embeddings;
            absent when the dataset has neither).
        n_users: users evaluated.
        latency_ms_per_user: mean wall time per user of the whole pipeline.
        p99_ms_per_user: 99th percentile over request batches of (batch ms / batch users).
        stage_seconds: wall time per stage (recall, merge, rank, rerank).
        ranks: ``[n_users]`` 0-based rank of each target in its final list (``n_items`` = absent).
    """

    metrics: dict[str, float]
    n_users: int
    latency_ms_per_user: float
    p99_ms_per_user: float
    stage_seconds: dict[str, float]
    ranks: np.ndarray


def list_ranks(items: torch.Tensor, targets: torch.Tensor, n_items: int) -> torch.Tensor:
    """``[B]`` 0-based position of each target in its list ``[B, L]``; ``n_items`` when absent (a miss)."""
    hit = (items == targets.view(-1, 1)) & (items != 0)
    pos = hit.to(torch.int8).argmax(dim=1)
    return torch.where(hit.any(dim=1), pos, torch.full_like(pos, n_items))


_DIVERSITY_EMB: dict[str, torch.Tensor | None] = {}


def diversity_embeddings(dataset: Dataset) -> torch.Tensor | None:
    """Unit item vectors for the diversity metric: attributes, else text (cached per dataset)."""
    key = dataset.fingerprint()
    if key not in _DIVERSITY_EMB:
        emb = attribute_item_embeddings(dataset)
        if emb is None:
            emb = text_item_embeddings(dataset)
        _DIVERSITY_EMB[key] = normalise_rows(emb) if emb is not None else None
    return _DIVERSITY_EMB[key]


def intra_list_diversity(items: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
    """``[B]`` mean pairwise ``1 - cosine`` of the non-empty items of each list ``[B, K]``."""
    e = emb[items]  # [B, K, d]
    valid = (items != 0).float()
    sim = e @ e.transpose(1, 2)
    pair = valid.unsqueeze(2) * valid.unsqueeze(1) * (1 - torch.eye(items.shape[1]))
    n = pair.sum(dim=(1, 2)).clamp_min(1.0)
    return ((1.0 - sim) * pair).sum(dim=(1, 2)) / n


def evaluate_pipeline(pipeline: Pipeline, split: EvalSplit, dataset: Dataset | None = None,
                      ks: Sequence[int] = (5, 10, 20), batch_size: int = 256,
                      max_users: int | None = None) -> PipelineEval:
    """Run the pipeline on every user of ``split`` in request batches and score the final lists.

    Raises:
        ValueError: a cut-off larger than the final list (it could not be full-ranking compatible).
    """
    if max(ks) > pipeline.config.list_size:
        raise ValueError(f"evaluate_pipeline: K={max(ks)} exceeds the final list size {pipeline.config.list_size}")
    n = len(split.targets) if max_users is None else min(max_users, len(split.targets))
    sums: dict[str, float] = {}
    ranks, per_user_ms = [], []
    tops: dict[int, list[torch.Tensor]] = {k: [] for k in ks}
    div_emb = diversity_embeddings(dataset) if dataset is not None else None
    div_sums = {k: 0.0 for k in ks}
    pipeline.stage_seconds = {}
    total = 0.0
    for lo in range(0, n, batch_size):
        hi = min(lo + batch_size, n)
        t = time.perf_counter()
        out = pipeline.recommend(split.users[lo:hi], split.histories[lo:hi])
        dt = time.perf_counter() - t
        total += dt
        per_user_ms.append(1000.0 * dt / (hi - lo))
        r = list_ranks(out.items, torch.from_numpy(split.targets[lo:hi]), pipeline.n_items)
        ranks.append(r.numpy())
        for key, val in metrics_from_ranks(r, ks).items():
            sums[key] = sums.get(key, 0.0) + float(val.sum())
        for k in ks:
            tops[k].append(out.items[:, :k])
            if div_emb is not None:
                div_sums[k] += float(intra_list_diversity(out.items[:, :k], div_emb).sum())
    metrics = {k: v / max(n, 1) for k, v in sums.items()}
    for k in ks:
        shown = torch.unique(torch.cat(tops[k])) if tops[k] else torch.zeros(0, dtype=torch.long)
        metrics[f"coverage@{k}"] = float((shown != 0).sum()) / max(pipeline.n_items, 1)
        if div_emb is not None:
            metrics[f"diversity@{k}"] = div_sums[k] / max(n, 1)
    return PipelineEval(
        dict(sorted(metrics.items())), n, 1000.0 * total / max(n, 1),
        float(np.percentile(per_user_ms, 99)) if per_user_ms else math.nan,
        dict(pipeline.stage_seconds), np.concatenate(ranks) if ranks else np.zeros(0, dtype=np.int64),
    )
