"""LWGR: primal-dual multiplier, gated fusion, training on text data, nearline store and serving."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agenticrs.recsys.data import load_dataset
from agenticrs.recsys.data.dataset import PAD
from agenticrs.recsys.evaluation.evaluator import evaluate
from agenticrs.recsys.knowledge import PrimalDual, fixed_templates
from agenticrs.recsys.knowledge.nearline import NearlineKnowledgeStore, OnlineServer, staleness_effect
from agenticrs.recsys.models import build_config, get_model, pad_histories
from agenticrs.recsys.training.trainer import TrainConfig, run_experiment, seed_everything, train

DATA = "synthetic:users=400,items=100,seed=0,text_signal=0.9,topics=5,seq_strength=0.8"
SMALL = dict(embedding_dim=32, encoder_layers=1, decoder_layers=1, heads=2, ff_dim=64, id_levels=2,
             codebook_size=8, id_epochs=60, text_encoder="tfidf:dim=16", max_len=10, n_instructions=2)
FAST = dict(epochs=5, eval_every=5, lr=3e-3, batch_size=128, progress=False, patience=0, seed=0)


@pytest.fixture(scope="module")
def data():
    return load_dataset(DATA)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """A full LWGR (soft instructions, constraint, gates) trained once for the module."""
    seed_everything(0)
    cls = get_model("lwgr")
    model = cls(data.n_items, data.n_users, build_config(cls, SMALL), data)
    split = data.split()
    logdir = tmp_path_factory.mktemp("tb")
    result = train(model, split, TrainConfig(**FAST, logdir=str(logdir)))
    return model.eval(), split, result, logdir


# ---------------------------------------------------------------------- primal-dual
def test_dual_ascent_grows_when_violated_and_decays_to_zero_when_satisfied():
    dual = PrimalDual(epsilon=0.1, lr=0.5)
    v = dual.violation(torch.tensor(2.5), torch.tensor(2.0))  # 2.5 > 1.1 * 2.0
    assert float(v) == pytest.approx(0.3)
    lams = [dual.update(v) for _ in range(3)]
    assert lams == pytest.approx([0.15, 0.30, 0.45])
    satisfied = dual.violation(torch.tensor(1.0), torch.tensor(2.0))  # 1.0 <= 2.2
    lams = [dual.update(satisfied) for _ in range(3)]
    assert lams[0] < 0.45 and lams[-1] == 0.0  # decreases, projected onto lambda >= 0
    assert dual.update(satisfied) == 0.0
    # The penalty's gradient reaches the knowledge path only, never the knowledge-free reference.
    with_k, without = torch.tensor(3.0, requires_grad=True), torch.tensor(2.0, requires_grad=True)
    dual.update(1.0)
    dual.penalty(dual.violation(with_k, without)).backward()
    assert with_k.grad == pytest.approx(0.5) and without.grad is None


def test_model_loss_runs_the_dual_step(data):
    seed_everything(0)
    cls = get_model("lwgr")
    model = cls(data.n_items, data.n_users, build_config(cls, {**SMALL, "epsilon": 0.0, "dual_lr": 1.0}), data)
    batch = next(model.batches(data.split().train, 64, np.random.default_rng(0)))
    model.train()
    model.loss(batch)
    stats = model.train_metrics()
    assert stats["lwgr/lambda"] == pytest.approx(max(0.0, stats["lwgr/constraint"]), abs=1e-6)
    off = cls(data.n_items, data.n_users, build_config(cls, {**SMALL, "constraint": False}), data)
    off.loss(batch)
    assert off.train_metrics()["lwgr/lambda"] == 0.0  # ablation: no multiplier


# ---------------------------------------------------------------------- fusion
def test_closed_gates_recover_the_knowledge_free_model(data):
    seed_everything(0)
    cls = get_model("lwgr")
    model = cls(data.n_items, data.n_users, build_config(cls, {**SMALL, "dropout": 0.0}), data).eval()
    users, hist = torch.arange(8), pad_histories([data.sequence(u)[:4] for u in range(8)], 10)
    targets = torch.tensor([int(data.sequence(u)[4]) for u in range(8)])
    with torch.no_grad():
        out = model.losses(users, hist, targets)
        assert not torch.allclose(out["fused"], out["free"])  # open gates: knowledge changes the loss
        model.gate[-1].bias.fill_(-1e4)
        out = model.losses(users, hist, targets)
    assert torch.allclose(out["fused"], out["free"], atol=1e-5)


@pytest.mark.parametrize("name, extra", [("lwgr", {}), ("lwgr_fixed", {}), ("lwgr", {"template_knowledge": True}),
                                         ("lwgr", {"read": "pool"})])
@pytest.mark.parametrize("strategy", ["frozen", "end_to_end"])
def test_every_parameter_is_trained(data, name, extra, strategy):
    cls = get_model(name)
    model = cls(data.n_items, data.n_users, build_config(cls, {**SMALL, **extra, "strategy": strategy}), data)
    batch = next(model.batches(data.split().train, 64, np.random.default_rng(0)))
    # One step first: zero-initialised parts (the pooled read-out's keys) pass no gradient to
    # what sits before them until they have moved once.
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.loss(batch).backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    model.loss(batch).backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not dead, dead
    # The end-to-end strategy owns a text encoder; the frozen one reads precomputed vectors only.
    assert hasattr(model, "small_encoder") == (strategy == "end_to_end")


@pytest.mark.parametrize("strategy", ["frozen", "end_to_end"])
def test_template_knowledge_adds_the_template_to_the_soft_instructions(data, strategy):
    seed_everything(0)
    cls = get_model("lwgr")
    model = cls(data.n_items, data.n_users,
                build_config(cls, {**SMALL, "strategy": strategy, "template_knowledge": True}), data).eval()
    users, hist = torch.arange(6), pad_histories([data.sequence(u)[:5] for u in range(6)], 10)
    with torch.no_grad():
        memory, pad = model.encode(users, hist)
        both = model.extract_knowledge(hist, memory, pad)
        template = model.fixed_knowledge(hist, hist != PAD)
        model.config.template_knowledge = False
        soft = model.extract_knowledge(hist, memory, pad)
    assert both.shape == soft.shape == template.shape == (6, SMALL["n_instructions"], SMALL["embedding_dim"])
    assert template.abs().sum() > 0
    assert torch.allclose(both, soft + template, atol=1e-6)


@pytest.mark.parametrize("detach", [False, True])
def test_detached_behaviour_keeps_the_knowledge_objective_out_of_the_encoder(data, detach):
    cls = get_model("lwgr")
    model = cls(data.n_items, data.n_users, build_config(cls, {**SMALL, "detach_behaviour": detach}), data)
    users, hist = torch.arange(8), pad_histories([data.sequence(u)[:4] for u in range(8)], 10)
    targets = torch.tensor([int(data.sequence(u)[4]) for u in range(8)])
    out = model.losses(users, hist, targets)
    # The alignment and the gates read the encoder only through the behaviour summary.
    (out["align"] + out["gate_logit"].sum()).backward()
    reached = [n for n, p in model.encoder.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    assert bool(reached) != detach, reached
    assert model.extractor.condition[0].weight.grad.abs().sum() > 0  # the instructions still train


@pytest.mark.parametrize("residual", [True, False])
def test_read_out_only_knowledge_does_not_carry_the_instruction(residual):
    from agenticrs.recsys.knowledge.extractors import SoftInstructionExtractor

    torch.manual_seed(0)
    ext = SoftInstructionExtractor(dim=8, n_instructions=2, heads=2, max_len=4, residual=residual).eval()
    queries = torch.randn(2, 2, 8)  # two users with different instructions
    items = torch.randn(1, 4, 8).expand(2, 4, 8)  # the same history text
    valid = torch.tensor([[False, False, False, True]] * 2)  # one item: every instruction reads all of it
    with torch.no_grad():
        out = ext(queries, items, valid)
    # Read-out only: the same text gives the same knowledge whatever the instruction was.
    assert torch.allclose(out[0], out[1], atol=1e-6) != residual


def test_pooled_read_out_starts_as_the_history_mean_and_learns_per_user_weights():
    from agenticrs.recsys.knowledge.extractors import SoftInstructionPooling

    torch.manual_seed(0)
    ext = SoftInstructionPooling(text_dim=6, dim=8, n_instructions=3, max_len=5)
    queries, text = torch.randn(2, 3, 8), torch.randn(2, 5, 6)
    valid = torch.tensor([[False, False, True, True, True], [False] * 5])  # 3 items; no history
    w = ext.weights(queries, text, valid)
    # Untrained: every instruction takes the plain mean of the history (the template's content);
    # an empty history reads its last (padding) slot instead of producing NaN.
    assert torch.allclose(w[0], torch.tensor([0, 0, 1 / 3, 1 / 3, 1 / 3]).expand(3, 5))
    assert torch.allclose(w[1, :, -1], torch.ones(3))
    out = ext(queries, text, valid)
    assert out.shape == (2, 3, 8) and torch.isfinite(out).all()
    # Instruction j's knowledge is block j of the adapter applied to its own pooled text.
    blocks = ext.adapter(w @ text).view(2, 3, 3, 8)
    assert all(torch.allclose(out[:, j], blocks[:, j, j]) for j in range(3))
    # Once the keys have trained, the weights depend on the instruction: per-user extraction.
    torch.nn.init.normal_(ext.key.weight)
    w = ext.weights(queries, text, valid)
    assert not torch.allclose(w[0, 0], w[0, 1]) and torch.allclose(w.sum(-1), torch.ones(2, 3))
    assert (w[0, :, :2] == 0).all()  # never reads padding


def test_both_read_outs_side_by_side(data):
    seed_everything(0)
    cls = get_model("lwgr")
    model = cls(data.n_items, data.n_users, build_config(cls, {**SMALL, "read": "both"}), data)
    m, d = SMALL["n_instructions"], SMALL["embedding_dim"]
    users, hist = torch.arange(6), pad_histories([data.sequence(u)[:5] for u in range(6)], 10)
    with torch.no_grad():
        memory, pad = model.encode(users, hist)
        knowledge = model.extract_knowledge(hist, memory, pad)
        behaviour, valid, text = model.behaviour(memory, pad), hist != PAD, model.text_vectors[hist]
        attention = model.extractor(model.extractor.queries(behaviour), model.text_adapter(text), valid)
        pooled = model.pooling(model.pooling.queries(behaviour), text, valid)
    # Each read-out keeps its own instructions and tokens: attention first, then the pooled ones.
    assert knowledge.shape == (6, 2 * m, d) and model.k_type.shape == (2 * m, d)
    assert torch.allclose(knowledge[:, :m], attention) and torch.allclose(knowledge[:, m:], pooled)
    mem, bias, logit = model.fuse(memory, pad, knowledge)
    assert mem.shape[1] == memory.shape[1] + 2 * m and bias.shape == mem.shape[:2] and logit.shape == (6,)
    # Every parameter, of both read-outs, is trained (after one step: the pooling keys start at 0).
    batch = next(model.batches(data.split().train, 64, np.random.default_rng(0)))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(2):
        opt.zero_grad(set_to_none=True)
        model.loss(batch).backward()
        opt.step()
    dead = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not dead, dead


def test_fixed_templates_name_recent_titles(data):
    text = data.item_text
    (prompt,) = fixed_templates(np.array([[0, 0, 3, 7]]), text, n_items=1)
    assert text[7].rstrip(".") in prompt and text[3].rstrip(".") not in prompt
    assert prompt.startswith("The user recently bought:")


# ---------------------------------------------------------------------- training
def test_lwgr_trains_beats_pop_and_logs_fusion_metrics(data, trained):
    model, split, result, logdir = trained
    pop = run_experiment(data, "pop", {}, TrainConfig(progress=False)).valid["ndcg@10"]
    assert result.best_valid["ndcg@10"] > pop + 0.05, (result.best_valid, pop)
    last = result.history[-1]
    for key in ("lwgr/lambda", "lwgr/constraint", "lwgr/open_gate_share"):
        assert key in last
    assert last["lwgr/lambda"] >= 0 and 0 <= last["lwgr/open_gate_share"] <= 1
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = EventAccumulator(str(logdir)).Reload().Tags()["scalars"]
    assert {"lwgr/lambda", "lwgr/constraint", "lwgr/open_gate_share"} <= set(tags)
    report = model.constraint_report(split.valid)
    assert report["loss_fused"] > 0 and report["bound"] == pytest.approx(1.02 * report["loss_free"])


@pytest.mark.slow
@pytest.mark.parametrize("name, extra", [("lwgr_fixed", {}), ("lwgr", {"strategy": "end_to_end"})])
def test_variants_train_and_beat_pop(data, name, extra):
    pop = run_experiment(data, "pop", {}, TrainConfig(progress=False)).test["ndcg@10"]
    res = run_experiment(data, name, {**SMALL, **extra}, TrainConfig(**FAST))
    assert res.test["ndcg@10"] > pop, (res.test, pop)


def test_config_errors():
    cls = get_model("lwgr")
    with pytest.raises(ValueError, match="'instructions'"):
        build_config(cls, {"instructions": "loud"})
    with pytest.raises(ValueError, match="'strategy'"):
        build_config(cls, {"strategy": "sometimes"})
    assert build_config(get_model("lwgr_fixed"), {}).instructions == "fixed"
    with pytest.raises(ValueError, match="'template_knowledge'"):
        build_config(get_model("lwgr_fixed"), {"template_knowledge": True})
    with pytest.raises(ValueError, match="'instruction_residual'"):
        build_config(get_model("lwgr_fixed"), {"instruction_residual": False})
    with pytest.raises(ValueError, match="'read'"):
        build_config(cls, {"read": "skim"})
    with pytest.raises(ValueError, match="'read'"):
        build_config(get_model("lwgr_fixed"), {"read": "pool"})
    with pytest.raises(ValueError, match="'instruction_residual'"):
        build_config(cls, {"read": "pool", "instruction_residual": False})
    with pytest.raises(ValueError, match="strategy='frozen'"):
        build_config(cls, {"read": "both", "strategy": "end_to_end"})
    with pytest.raises(ValueError, match="'template_knowledge'"):
        build_config(cls, {"read": "both", "template_knowledge": True})


# ---------------------------------------------------------------------- deployment
def test_nearline_store_refreshes_after_n_interactions(trained, tmp_path):
    model, split, _, _ = trained
    users, hists = split.test.users[:6].tolist(), split.test.histories[:6]
    store = NearlineKnowledgeStore(model, refresh_every=2)
    store.bootstrap(users, hists)
    u = users[0]
    before = store.lookup([u]).clone()
    assert not store.observe(u, 5) and store.staleness(u) == 1
    assert store.observe(u, 9) and store.pending == {u}
    assert torch.equal(store.lookup([u]), before)  # stale until the nearline job runs
    assert store.refresh() == 1 and store.staleness(u) == 0 and not store.pending
    fresh = model.knowledge_for(torch.tensor([u]), pad_histories([np.asarray(store.histories[u])], 10))
    assert torch.allclose(store.lookup([u]), fresh, atol=1e-6)
    # Online path with fresh stored knowledge == full model; the store survives a save/load.
    server = OnlineServer(model, store)
    assert server.recommend(u, store.histories[u]) == OnlineServer(model).recommend(u, store.histories[u])
    store.save(tmp_path / "store.npz")
    other = NearlineKnowledgeStore(model)
    other.load(tmp_path / "store.npz")
    assert torch.equal(other.lookup(users), store.lookup(users))
    with pytest.raises(KeyError, match="no stored knowledge for user"):
        store.lookup([10**6])


def test_nearline_store_serves_both_read_outs(data):
    cls = get_model("lwgr")
    model = cls(data.n_items, data.n_users, build_config(cls, {**SMALL, "read": "both"}), data).eval()
    split = data.split()
    users, hists = split.test.users[:4].tolist(), split.test.histories[:4]
    store = NearlineKnowledgeStore(model)
    store.bootstrap(users, hists)
    assert store.lookup(users).shape == (4, 2 * SMALL["n_instructions"], SMALL["embedding_dim"])
    u = users[0]
    assert OnlineServer(model, store).recommend(u, store.histories[u]) == OnlineServer(model).recommend(
        u, store.histories[u])


def test_staleness_zero_equals_the_evaluator(trained):
    model, split, _, _ = trained
    curve = staleness_effect(model, split.test, lags=(0, 3), max_users=120)
    direct = evaluate(model, split.test, (10,), max_users=120).metrics
    assert curve[0]["ndcg@10"] == pytest.approx(direct["ndcg@10"], abs=1e-9)
    assert set(curve) == {0, 3}


def test_run_experiment_hands_the_trained_model_to_after(data):
    seen = {}
    run_experiment(data, "pop", {}, TrainConfig(progress=False),
                   after=lambda model, split: seen.update(name=model.name, n_valid=len(split.valid.targets)))
    assert seen == {"name": "pop", "n_valid": len(data.split().valid.targets)}


def test_serving_latency_reports_both_paths(trained):
    from agenticrs.recsys.knowledge.nearline import serving_latency

    model, split, _, _ = trained
    out = serving_latency(model, split.test, n_requests=5, refresh_every=3)
    assert out["requests"] == 5
    for key in ("cached_ms_median", "cached_ms_p95", "uncached_ms_median", "uncached_ms_p95", "nearline_ms_per_user"):
        assert out[key] > 0


@pytest.mark.parametrize("name", ["lwgr", "lwgr_fixed"])
def test_knowledge_encoder_is_separate_from_the_semantic_id_encoder(data, name):
    cls = get_model(name)
    config = build_config(cls, {**SMALL, "knowledge_encoder": "tfidf:dim=8,analyzer=char_wb", "cache": False})
    model = cls(data.n_items, data.n_users, config, data)
    plain = cls(data.n_items, data.n_users, build_config(cls, {**SMALL, "cache": False}), data)
    assert model.item_vectors.shape[1] == 16 and model.text_vectors.shape[1] == 8  # ids from one, knowledge the other
    assert np.array_equal(model.ids.codes, plain.ids.codes)  # the semantic ids do not depend on it
    batch = next(model.batches(data.split().train, 64, np.random.default_rng(0)))
    assert torch.isfinite(model.loss(batch))
    if name == "lwgr_fixed":  # the template is encoded by the knowledge encoder too
        assert model._template_encoder.dim == 8
