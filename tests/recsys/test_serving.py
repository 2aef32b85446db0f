"""Serving: real quantisation, measured latency and memory, simulated A/B tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agenticrs.recsys.data import load_dataset
from agenticrs.recsys.pipeline import ComponentSpec, fit_component
from agenticrs.recsys.serving import QuantizedTable, ServingConfig, expected_ctr, serve, simulate_ab


def test_quantized_tables_store_less_and_score_close():
    w = torch.randn(200, 32)
    q = torch.randn(5, 32)
    exact = q @ w.T
    sizes = {}
    for p, tol in (("fp32", 1e-5), ("fp16", 5e-2), ("int8", 0.3)):
        t = QuantizedTable(w, p)
        sizes[p] = t.nbytes
        assert (t.scores(q) - exact).abs().max() < tol, p
    assert t.data.dtype == torch.int8 and sizes["int8"] < sizes["fp16"] < sizes["fp32"]
    assert (QuantizedTable(w, "int8").dequantize() - w).abs().max() <= w.abs().max() / 127 + 1e-6
    with pytest.raises(ValueError, match="precision"):
        QuantizedTable(w, "int4")


@pytest.fixture(scope="module")
def served():
    d = load_dataset("synthetic:users=150,items=90,seed=2,mean_length=10")
    s = d.split()
    return fit_component(d, s, ComponentSpec.make("sasrec", epochs=2, loss="ce", embedding_dim=16)).model, s


def test_serving_config_changes_quality_latency_and_memory(served):
    model, s = served
    base = serve(model, s.test, ServingConfig())
    assert 0 <= base.metrics["ndcg@10"] <= 1 and base.p99_ms >= base.p50_ms > 0
    assert sum(base.metrics[f"pos@{i}"] for i in range(1, 11)) == pytest.approx(base.metrics["recall@10"])
    int8 = serve(model, s.test, ServingConfig(precision="int8"))
    assert int8.memory_mb < base.memory_mb
    nearline = serve(model, s.test, ServingConfig(refresh=5))
    assert nearline.metrics["ndcg@10"] < base.metrics["ndcg@10"]  # stale user state loses quality
    big_batch = serve(model, s.test, ServingConfig(batch_size=64))
    assert big_batch.p50_ms > base.p50_ms  # waiting for the batch to fill
    with pytest.raises(ValueError, match="list_size"):
        ServingConfig(candidates=10, list_size=20)


def test_ab_simulation_detects_a_real_difference_and_not_a_null_one():
    good = {f"pos@{i}": 0.05 for i in range(1, 11)}
    bad = {f"pos@{i}": 0.01 for i in range(1, 11)}
    rng = np.random.default_rng(0)
    r = simulate_ab(bad, good, 0.5, 40000, rng)
    assert r.significant == 1 and r.ci_low < r.lift < r.ci_high
    assert r.lift == pytest.approx(expected_ctr(good) - expected_ctr(bad), abs=3 * (r.ci_high - r.lift))
    nulls = [simulate_ab(good, good, 0.2, 20000, np.random.default_rng(i)).significant for i in range(40)]
    assert sum(x != 0 for x in nulls) <= 6  # ~5% false positives at 95% confidence


def test_ab_click_probability_matches_per_request_simulation():
    """The binomial shortcut's per-position rate equals E[min(ctr * propensity, 1)] simulated per request."""
    from agenticrs.recsys.serving.ab import CLICK_PROB, CTR, _click_prob

    g = np.random.default_rng(1).gamma(4.0, 0.25, size=1_000_000)
    rates = [*CTR, 0.8, 1.5]  # the served CTRs, plus rates where capping at 1 matters a lot
    mc = np.array([np.minimum(c * g, 1.0).mean() for c in rates])
    np.testing.assert_allclose([_click_prob(c) for c in rates], mc, atol=2e-3)  # MC se <= 5e-4
    assert _click_prob(1.5) < 0.95 and CLICK_PROB[-1] == 0.0 and CLICK_PROB[0] < CTR[0]
