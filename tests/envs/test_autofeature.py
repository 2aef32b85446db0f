"""AutoFeature-v0: feature space, repairs, negative results in the KnowledgeStore, a live feature set."""

from __future__ import annotations

import numpy as np
from evolution_fakes import FakeEvolutionBackend

import agenticrs  # noqa: F401
from agenticrs.envs.autofeature import AutoFeatureEnv
from agenticrs.envs.core import Task
from agenticrs.envs.knowledge import KnowledgeStore

TINY = Task("tiny", "synthetic:users=120,items=80,seed=5,mean_length=8,text_signal=0.9", max_trials=2)


def test_space_repairs_missing_item_representation_and_canonicalises_fusion():
    sp = AutoFeatureEnv(backend=FakeEvolutionBackend()).action_space
    assert sp.n_pairs == 120
    none = sp.encode({"item_id": True})
    none[0] = 1  # item_id off, text and attributes off: no representation
    pid, repaired = sp.lookup(none)
    assert repaired and sp.values(pid)["item_id"] is True
    gating_alone = sp.encode({"item_id": True})
    gating_alone[6] = 2  # fusion = gating with a single feature: canonicalised, not a repair
    pid, repaired = sp.lookup(gating_alone)
    assert not repaired and sp.values(pid)["fusion"] == "sum"
    assert not sp.mask({"item_id": False, "text": False})[4]  # attributes must then be on


def test_negative_results_and_size_term_are_recorded(tmp_path):
    store = KnowledgeStore(tmp_path / "k.sqlite")
    env = AutoFeatureEnv(backend=FakeEvolutionBackend(), store=store, run_id="r1", max_trials=6)
    env.reset(seed=0)
    env.action_space.seed(0)
    sizes = []
    for _ in range(6):
        _, _, _, _, info = env.step(env.action_space.sample())
        sizes.append(info["reward_terms"]["size"])
    assert all(s < 0 for s in sizes)
    decisions = store.decisions(run_id="r1")
    flags = [d.info["negative_result"] for d in decisions]
    assert len(flags) == 6 and not flags[0]
    # Every step after the first that did not beat the incumbent before it is a negative result.
    history = env.history
    for i in range(1, 6):
        prev_best = max((r.valid.get("ndcg@10", 0) for r in history[:i] if r.ok), default=0.0)
        now = history[i].valid.get("ndcg@10") if history[i].ok else None
        assert flags[i] == (now is None or now < prev_best)
    assert any(flags)


def test_live_feature_set_trains_the_feature_backbone():
    env = AutoFeatureEnv(backend="live", backend_kwargs={"isolate": False, "full_epochs": 1})
    env.reset(seed=0, options={"task": TINY})
    a = env.action_space.encode({"item_id": True, "text": True, "attributes": True, "fusion": "gating",
                                 "max_len": 20})
    _, _, _, _, info = env.step(a)
    r = info["result"]
    assert r.ok, r.reason
    assert r.config.param_dict["fusion"] == "gating" and "embedding_dim" not in r.config.param_dict
    assert 0 < r.valid["ndcg@10"] <= 1 and r.cost["params"] > 0
    obs = env._observation()
    assert np.all((obs >= 0) & (obs <= 10))


# ---------------------------------------------------------------- generative (LWGR knowledge) backbone
TEXT_TASK = Task("tiny-text", "synthetic:users=60,items=40,seed=0,text_signal=0.9,mean_length=6,max_length=20",
                 max_trials=3)
TINY_GENERATIVE = {"embedding_dim": 32, "ff_dim": 32, "id_levels": 2, "codebook_size": 8, "id_epochs": 10,
                   "text_encoder": "tfidf:dim=16", "beam_size": 10, "cache": False}


def test_knowledge_space_maps_to_tiger_and_lwgr():
    from agenticrs.envs.autofeature import GENERATIVE_DEFAULTS, knowledge_config

    env = AutoFeatureEnv(backend=FakeEvolutionBackend(), backbone="lwgr")
    sp = env.action_space
    assert sp.n_pairs == 74 and list(sp.nvec) == [3, 2, 2, 2, 2, 2, 2]
    assert env.observation_space.shape == AutoFeatureEnv(backend=FakeEvolutionBackend()).observation_space.shape
    models = {}
    for config, _ in sp.enumerate():
        trained = knowledge_config(config)
        models.setdefault(trained.model, []).append(trained.param_dict)
    assert {m: len(v) for m, v in models.items()} == {"tiger": 2, "lwgr": 72}
    # Plain TIGER carries no knowledge option; LWGR gets the instruction type and the backbone.
    assert not {"constraint", "gates", "instructions"} & set(models["tiger"][0])
    assert {p["instructions"] for p in models["lwgr"]} == {"soft", "fixed"}
    assert all(p["embedding_dim"] == GENERATIVE_DEFAULTS["embedding_dim"] for p in models["lwgr"])
    # epsilon only with the constraint on; n_instructions only with soft instructions.
    assert all(("epsilon" in p) == p["constraint"] for p in models["lwgr"])
    assert all(("n_instructions" in p) == (p["instructions"] == "soft") for p in models["lwgr"])


def test_knowledge_space_has_no_shipped_table_and_says_so():
    import pytest

    with pytest.raises(FileNotFoundError, match="autofeature_lwgr"):
        AutoFeatureEnv(backbone="lwgr")
    with pytest.raises(ValueError, match="backbone"):
        AutoFeatureEnv(backend=FakeEvolutionBackend(), backbone="bert")


def test_live_knowledge_options_train_tiger_and_lwgr():
    env = AutoFeatureEnv(backend="live", backbone="lwgr", max_trials=3, backend_kwargs={
        "isolate": False, "timeout_s": None, "full_epochs": 1, "backbone_params": TINY_GENERATIVE})
    env.reset(seed=0, options={"task": TEXT_TASK})
    trained = []
    for values in ({"knowledge": "none"}, {"knowledge": "fixed", "constraint": False, "gates": False},
                   {"knowledge": "soft", "n_instructions": 4}):
        _, _, _, _, info = env.step(env.action_space.encode(values))
        r = info["result"]
        assert r.ok, (values, r.reason)
        assert r.config.param_dict["knowledge"] == values["knowledge"]  # keyed by the env's own config
        assert 0.0 <= r.valid["ndcg@10"] <= 1.0
        trained.append(r)
    # The knowledge rows trained LWGR (instruction/fusion parameters on top of TIGER's).
    assert trained[2].cost["params"] > trained[0].cost["params"]
    env.close()
