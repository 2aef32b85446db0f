"""Agent pipelines: recall -> merge -> rank -> re-rank, evaluated with the full-ranking protocol."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agenticrs.recsys.data import load_dataset
from agenticrs.recsys.evaluation import evaluate
from agenticrs.recsys.pipeline import (
    Candidates,
    ComponentSpec,
    MMRReranker,
    PipelineConfig,
    RecallSpec,
    build_pipeline,
    evaluate_pipeline,
    fit_component,
    merge,
)

KNN = ComponentSpec.make("itemknn")
POP = ComponentSpec.make("pop")


@pytest.fixture(scope="module")
def data():
    d = load_dataset("synthetic:users=200,items=120,seed=3,mean_length=8")
    return d, d.split()


def cands(rows, scores=None) -> Candidates:
    items = torch.tensor(rows, dtype=torch.long)
    s = torch.tensor(scores, dtype=torch.float32) if scores is not None else -torch.arange(items.shape[1]).float().expand_as(items).clone()
    return Candidates(items, torch.where(items == 0, torch.full_like(s, float("-inf")), s))


def test_single_recall_over_the_catalogue_equals_full_ranking_evaluation(data):
    d, s = data
    cfg = PipelineConfig(recall=(RecallSpec(KNN, d.n_items),), list_size=d.n_items, candidates=d.n_items)
    pipe = build_pipeline(d, s, cfg)
    ours = evaluate_pipeline(pipe, s.valid, d, ks=(5, 10, 20))
    ref = evaluate(pipe.recall[0].model, s.valid, ks=(5, 10, 20)).metrics
    for k, v in ref.items():
        assert ours.metrics[k] == pytest.approx(v, abs=1e-9), k
    assert ours.latency_ms_per_user > 0 and ours.p99_ms_per_user >= 0
    assert 0 < ours.metrics["coverage@10"] <= 1 and 0 <= ours.metrics["diversity@10"] <= 2


def test_merge_strategies():
    a = cands([[1, 2, 3]])
    b = cands([[3, 4, 0]])
    rr = merge([a, b], 5, "round_robin", 4).items.tolist()
    assert rr == [[1, 3, 2, 4]]  # a1, b1 (=3), a2, b2; 3 keeps its earliest slot
    rrf = merge([a, b], 5, "rrf", 2).items.tolist()
    assert rrf[0][0] == 3  # the only item both agents propose wins
    score = merge([a, b], 5, "score", 5)
    assert set(score.items[0].tolist()) == {1, 2, 3, 4, 0}  # 4 distinct items, one empty slot
    assert torch.isneginf(score.scores[0, -1])
    with pytest.raises(KeyError, match="unknown merge"):
        merge([a, b], 5, "nope")


def test_mmr_weight_one_keeps_order_and_zero_diversifies():
    emb = torch.tensor([[0, 0], [1, 0], [1, 0], [0, 1], [1, 0]], dtype=torch.float32)
    c = cands([[1, 2, 4, 3]], [[4.0, 3.0, 2.0, 1.0]])
    assert MMRReranker(emb, 1.0).rerank(c).items.tolist() == [[1, 2, 4, 3]]
    # With weight 0 the second pick is the item least similar to item 1: item 3.
    assert MMRReranker(emb, 0.0).rerank(c).items[0, :2].tolist() == [1, 3]
    with pytest.raises(ValueError, match="weight"):
        MMRReranker(emb, 1.5)


def test_end_to_end_with_ranker_and_mmr_trades_accuracy_for_diversity(data):
    d, s = data
    base = dict(recall=(RecallSpec(KNN, 60), RecallSpec(POP, 60)), merge="rrf", candidates=80,
                rank=ComponentSpec.make("bprmf", epochs=1), list_size=20)
    plain = evaluate_pipeline(build_pipeline(d, s, PipelineConfig(**base)), s.valid, d)
    diverse = evaluate_pipeline(build_pipeline(d, s, PipelineConfig(
        **base, rerank="mmr", mmr_weight=0.0, mmr_embedding="attributes")), s.valid, d)
    assert diverse.metrics["diversity@10"] > plain.metrics["diversity@10"]
    assert set(plain.stage_seconds) == {"recall", "merge", "rank", "rerank"}
    assert plain.ranks.shape == (len(s.valid.targets),)


def test_components_are_cached_per_process(data):
    d, s = data
    spec = ComponentSpec.make("bprmf", epochs=1)
    assert fit_component(d, s, spec, seed=0).model is fit_component(d, s, spec, seed=0).model
    assert fit_component(d, s, spec, seed=1).model is not fit_component(d, s, spec, seed=0).model


def test_invalid_wirings_are_rejected(data):
    d, s = data
    with pytest.raises(ValueError, match="duplicate recall"):
        PipelineConfig(recall=(RecallSpec(POP, 10), RecallSpec(POP, 20)))
    with pytest.raises(ValueError, match="at least one recall"):
        PipelineConfig(recall=())
    with pytest.raises(ValueError, match="rerank"):
        PipelineConfig(recall=(RecallSpec(POP, 10),), rerank="shuffle")
    pipe = build_pipeline(d, s, PipelineConfig(recall=(RecallSpec(POP, 10),), list_size=10))
    with pytest.raises(ValueError, match="exceeds the final list"):
        evaluate_pipeline(pipe, s.valid, d, ks=(20,))
    # A list shorter than list_size is padded with empty slots, never out of catalogue ids.
    out = pipe.recommend(s.valid.users[:3], s.valid.histories[:3])
    assert out.items.shape == (3, 10) and np.all(out.items.numpy() <= d.n_items)
