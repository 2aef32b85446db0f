"""AutoTrainEnv: action space, invalid actions, rewards, episode end, tasks, store, and short PPO runs."""

from __future__ import annotations

import dataclasses
import json
import math

import gymnasium as gym
import numpy as np
import pytest
from autotrain_fakes import ExplodingBackend, FakeBackend

import agenticrs  # noqa: F401  (registers the envs)
from agenticrs.envs.autotrain import AutoTrainEnv
from agenticrs.envs.core import Task, TaskSuite, TrialConfig, TrialResult
from agenticrs.envs.rewards import RewardTerm, get_reward_term, register_reward_term
from agenticrs.envs.spaces import DEFAULT_DIMS, FAMILIES, GENERATIVE_DIMS, GENERATIVE_FAMILIES, AutoTrainSpace, Dim
from agenticrs.envs.suites import get_suite, list_suites, register_suite, subsample, task_stats

SASREC_BCE = np.array([4, 1, 1, 0, 0, 0, 1, 0, 0])  # sasrec, dim 64, 2 layers, 1 head, ..., bce, full fidelity


def make_env(**kw) -> AutoTrainEnv:
    kw.setdefault("backend", FakeBackend())
    return AutoTrainEnv(**kw)


# ---------------------------------------------------------------------- action space
def test_space_size_and_canonical_pairs():
    sp = AutoTrainSpace()
    assert list(sp.nvec) == [6, 2, 2, 2, 2, 2, 2, 2, 2]
    pairs = sp.enumerate()
    assert len(pairs) == sp.n_pairs == 235 and len(set(pairs)) == 235
    assert len(sp.configs()) == 119
    per_family = {f: sum(c.model == f for c in sp.configs()) for f in sp.families}
    assert per_family == {"pop": 1, "itemknn": 2, "bprmf": 4, "gru4rec": 16, "sasrec": 64, "bert4rec": 32}
    # closed-form families have one fidelity only
    assert {f for c, f in pairs if c.model in ("pop", "itemknn")} == {1.0}
    # every pair round-trips through its canonical action
    for config, fidelity in pairs:
        assert sp.decode(sp.encode(config, fidelity)) == (config, fidelity)


def test_inapplicable_choices_are_ignored():
    sp = AutoTrainSpace()
    pop = np.zeros(9, dtype=np.int64)
    assert sp.decode(pop) == (TrialConfig.make("pop"), 1.0)
    for i in range(1, 9):  # nothing but the family matters for pop
        a = pop.copy()
        a[i] = 1
        assert sp.decode(a) == sp.decode(pop)
    gru = np.array([3, 0, 0, 0, 0, 0, 0, 0, 0])
    heads_changed = gru.copy()
    heads_changed[3] = 1  # heads: not a GRU4Rec choice
    loss_changed = gru.copy()
    loss_changed[7] = 1  # loss: SASRec only
    assert sp.decode(heads_changed) == sp.decode(gru) == sp.decode(loss_changed)
    config, fidelity = sp.decode(gru)
    assert config.param_dict == {"embedding_dim": 32, "hidden": 32, "dropout": 0.2, "lr": 1e-3, "max_len": 20}
    sas, _ = sp.decode(SASREC_BCE)
    assert sas.param_dict["loss"] == "bce" and sas.param_dict["embedding_dim"] == 64
    _, low = sp.decode(np.array([4, 0, 0, 0, 0, 0, 0, 0, 1]))
    assert low == 0.25


@pytest.mark.parametrize("generative", [False, True], ids=["default", "generative"])
def test_space_params_are_real_config_fields(generative):
    """Every key a decoded config carries is a field of the model's Config or of TrainConfig,
    and builds a valid Config (the generative opt-in space included)."""
    from agenticrs.recsys.models import build_config, get_model, list_models
    from agenticrs.recsys.training.trainer import TrainConfig

    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    sp = AutoTrainSpace(FAMILIES + GENERATIVE_FAMILIES, GENERATIVE_DIMS) if generative else AutoTrainSpace()
    for config in sp.configs():
        assert config.model in list_models()
        cls = get_model(config.model)
        model_fields = {f.name for f in dataclasses.fields(cls.Config)}
        unknown = set(config.param_dict) - model_fields - train_fields
        assert not unknown, (config.model, unknown)
        build_config(cls, {k: v for k, v in config.param_dict.items() if k in model_fields})


def test_masks():
    sp = AutoTrainSpace()
    assert sp.mask().shape == (int(sp.nvec.sum()),) and sp.mask().all()
    m = sp.mask("gru4rec")
    segments = np.split(m, np.cumsum(sp.nvec)[:-1])
    assert segments[0].tolist() == [False, False, False, True, False, False]
    assert segments[3].tolist() == [True, False]  # heads: only index 0
    assert segments[7].tolist() == [True, False]  # loss: only index 0
    assert segments[1].tolist() == [True, True]  # embedding_dim applies
    # restricted families: a dimension no family uses is masked in the union too
    small = AutoTrainSpace(families=("pop", "bprmf"))
    seg = np.split(small.mask(), np.cumsum(small.nvec)[:-1])
    assert seg[2].tolist() == [True, False]  # layers: neither pop nor bprmf
    assert seg[1].tolist() == [True, True]  # embedding_dim: bprmf
    env = make_env(families=("pop", "bprmf"))
    assert np.array_equal(env.action_masks(), small.mask())
    with pytest.raises(ValueError, match="unknown family"):
        sp.mask("tiger")


def test_encode_rejects_configs_outside_the_space():
    sp = AutoTrainSpace()
    with pytest.raises(ValueError, match="not a canonical configuration"):
        sp.encode(TrialConfig.make("sasrec", embedding_dim=128), 1.0)
    with pytest.raises(ValueError, match="fidelities must lie"):
        AutoTrainSpace(fidelities=(0.0,))
    with pytest.raises(ValueError, match="no choices"):
        AutoTrainSpace(dims=(Dim("lr", (), frozenset({"bprmf"})),))


def test_custom_dims():
    dims = (*DEFAULT_DIMS, Dim("weight_decay", (0.0, 1e-4), frozenset({"sasrec"})))
    env = make_env(dims=dims)
    assert env.action_space.shape == (10,) and env.observation_space.shape == (39,)
    assert len(env.action_space.configs()) == 119 + 64


# ---------------------------------------------------------------------- invalid actions
BAD_ACTIONS = [
    (np.array([6, 0, 0, 0, 0, 0, 0, 0, 0]), "out of range"),
    (np.array([0, 0, 0, 0, 0, 0, 0, 0, -1]), "out of range"),
    (np.zeros(8, dtype=np.int64), "shape"),
    (np.zeros((1, 9), dtype=np.int64), "shape"),
    (np.full(9, np.nan), "NaN"),
    (np.zeros(9), "integer"),
    (np.zeros(9, dtype=bool), "integer"),
    ([0, 0, 0], "shape"),
    ("sasrec", "shape"),
]


@pytest.mark.parametrize("action,match", BAD_ACTIONS, ids=[m + str(i) for i, (_, m) in enumerate(BAD_ACTIONS)])
def test_invalid_actions_raise_and_leave_state_untouched(action, match):
    env, ref = make_env(), make_env()
    env.reset(seed=5)
    ref.reset(seed=5)
    env.step(SASREC_BCE)
    ref.step(SASREC_BCE)
    with pytest.raises(ValueError, match=match):
        env.step(action)
    assert env.history == ref.history and env._state.trials == 1
    # the next valid step matches an env that never saw the bad action
    o1, r1, *_ = env.step(SASREC_BCE)
    o2, r2, *_ = ref.step(SASREC_BCE)
    assert np.array_equal(o1, o2) and r1 == r2


def test_step_before_reset_and_after_end():
    env = make_env(max_trials=2)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(SASREC_BCE)
    env.reset(seed=0)
    env.step(SASREC_BCE)
    assert env.step(SASREC_BCE)[2] is True
    with pytest.raises(RuntimeError, match="ended"):
        env.step(SASREC_BCE)


# ---------------------------------------------------------------------- rewards and episode
def run_episode(env: gym.Env, seed: int = 0, task: str | None = None):
    env.reset(seed=seed, options={"task": task} if task else None)
    env.action_space.seed(seed)
    steps = []
    while True:
        obs, r, term, trunc, info = env.step(env.action_space.sample())
        steps.append((obs, r, info))
        if term or trunc:
            return steps


def test_reward_terms_add_up():
    weights = {"inner": 1.0, "cost": 0.5, "failure": 0.3, "outer": 2.0}
    env = make_env(reward_weights=weights)
    steps = run_episode(env, seed=1)
    assert len(steps) == 20
    scale = 0.1  # FakeBackend.best_known
    for _, r, info in steps:
        terms = info["reward_terms"]
        assert set(terms) == set(weights)
        assert r == pytest.approx(sum(weights[k] * v for k, v in terms.items()))
    ok = [info["result"] for _, _, info in steps if info["result"].ok]
    best = max(res.valid["ndcg@10"] for res in ok)
    assert sum(info["reward_terms"]["inner"] for _, _, info in steps) == pytest.approx(best / scale)
    assert all(info["reward_terms"]["inner"] >= 0 for _, _, info in steps)
    # outer: only on the last step, the incumbent's *test* metric
    assert all(info["reward_terms"]["outer"] == 0 for _, _, info in steps[:-1])
    incumbent = max(ok, key=lambda res: res.valid["ndcg@10"])
    assert env.incumbent == incumbent
    assert steps[-1][2]["reward_terms"]["outer"] == pytest.approx(incumbent.test["ndcg@10"] / scale)
    # cost: minus live seconds over the cost scale (60 s by default)
    for _, _, info in steps:
        assert info["reward_terms"]["cost"] == pytest.approx(-info["result"].cost["seconds"] / 60.0)


def test_failed_trials_are_penalised_not_fatal():
    env = make_env()
    env.reset(seed=0)
    bert_two_layers = np.array([5, 0, 1, 0, 0, 0, 0, 0, 0])  # FakeBackend fails bert4rec with 2 layers
    obs, r, term, _, info = env.step(bert_two_layers)
    assert info["result"].status == "failed" and info["reward_terms"]["failure"] == -1.0
    assert info["reward_terms"]["inner"] == 0.0 and obs[14] == 1.0 and obs[11] == 0.0
    assert r < 0 and not term
    _, r2, _, _, info2 = env.step(SASREC_BCE)
    assert info2["result"].ok and r2 > 0


def test_backend_exceptions_become_failed_trials():
    env = make_env(backend=ExplodingBackend())
    env.reset(seed=0)
    statuses = [env.step(SASREC_BCE)[4]["result"] for _ in range(6)]
    failed = [r for r in statuses if not r.ok]
    assert len(failed) == 2 and all("backend exploded" in r.reason for r in failed)


def test_max_seconds_ends_the_episode():
    env = make_env(max_seconds=30.0, max_trials=100)
    env.reset(seed=0)
    secs, n = 0.0, 0
    while True:
        obs, _, term, _, info = env.step(SASREC_BCE)
        secs += info["result"].cost["seconds"]
        n += 1
        if term:
            break
    assert secs >= 30.0 and secs - info["result"].cost["seconds"] < 30.0 and n < 100
    assert obs[9] == 1.0 and obs[10] == 0.0
    # the episode's cost terms are scaled by the second budget
    assert info["reward_terms"]["cost"] == pytest.approx(-info["result"].cost["seconds"] / 30.0)


def test_observation_tracks_budget_incumbent_and_families():
    env = make_env(max_trials=4)
    obs, info = env.reset(seed=0, options={"task": "syn-sequential"})
    assert info["task"] == "syn-sequential"
    assert obs[7:11].tolist() == [0, 1, 0, 1] and not obs[11:].any()
    meta = obs[:7]
    obs, *_ = env.step(SASREC_BCE)
    assert np.array_equal(obs[:7], meta)
    assert obs[7] == pytest.approx(0.25) and obs[8] == pytest.approx(0.75)
    assert obs[11] == 1.0 and obs[12] == pytest.approx(env.incumbent.valid["ndcg@10"] / 0.1)
    assert obs[13] == 1.0 and obs[12] == obs[15]
    sas = 26 + 2 * 4
    assert obs[sas] == obs[12] and obs[sas + 1] == pytest.approx(0.25)
    assert np.allclose(obs[17:26], SASREC_BCE / np.maximum(env.action_space.nvec - 1, 1))
    assert env.observation_space.contains(obs)


def test_meta_features_differ_between_tasks_and_need_no_backend_data():
    class StatsBackend(FakeBackend):
        def task_stats(self, task):
            return {"users": 100.0, "items": 50.0, "density": 0.1, "mean_length": 5.0, "popularity_gini": 0.5,
                    "top1pct_share": 0.1, "text_coverage": 1.0}

    env = make_env(backend=StatsBackend())
    o1, _ = env.reset(seed=0, options={"task": "syn-sequential"})
    o2, _ = env.reset(seed=0, options={"task": "syn-popular"})
    assert np.array_equal(o1[:7], o2[:7])  # the backend's stats win over loading data
    assert o1[0] == pytest.approx(math.log1p(100) / 10)
    plain = make_env()
    p1, _ = plain.reset(seed=0, options={"task": "syn-sequential"})
    p2, _ = plain.reset(seed=0, options={"task": "syn-popular"})
    assert not np.array_equal(p1[:7], p2[:7])


def test_task_selection():
    env = make_env()
    drawn = {env.reset(seed=s)[1]["task"] for s in range(40)}
    assert drawn == {t.name for t in get_suite("synthetic").train}
    assert env.reset(seed=0, options={"task": "syn-mixed"})[1]["task"] == "syn-mixed"  # test tasks by name
    custom = Task("custom", "synthetic:users=50,items=40,seed=1,max_length=20", max_trials=2)
    assert env.reset(seed=0, options={"task": custom})[1]["task"] == "custom"
    with pytest.raises(KeyError, match="no task"):
        env.reset(options={"task": "nope"})
    test_env = make_env(split="test")
    assert {test_env.reset(seed=s)[1]["task"] for s in range(20)} == {"syn-mixed", "syn-textual"}
    assert {make_env(tasks=["syn-long"]).reset(seed=s)[1]["task"] for s in range(5)} == {"syn-long"}


def test_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        make_env(split="valid")
    with pytest.raises(ValueError, match="max_trials"):
        make_env(max_trials=0)
    with pytest.raises(ValueError, match="obs_mode"):
        make_env(obs_mode="image")
    with pytest.raises(KeyError, match="unknown reward term"):
        make_env(reward_weights={"nope": 1.0})
    with pytest.raises(ValueError, match="finite"):
        make_env(reward_weights={"inner": float("nan")})
    with pytest.raises(KeyError, match="unknown task suite"):
        make_env(suite="nope")
    with pytest.raises(TypeError, match="evaluate"):
        AutoTrainEnv(backend=object())
    with pytest.raises(KeyError, match="unknown backend kind"):
        AutoTrainEnv(backend="nope")


def test_dict_observation_mode():
    env = make_env(obs_mode="dict", families=("pop", "bprmf"))
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert np.array_equal(obs["action_mask"].astype(bool), env.action_masks())
    obs, *_ = env.step(np.zeros(9, dtype=np.int64))
    assert env.observation_space.contains(obs)


def test_custom_reward_term():
    @register_reward_term("test-params", overwrite=True)
    class ParamPenalty(RewardTerm):
        def update(self, result: TrialResult, state) -> float:
            return -result.cost.get("params", 0.0) / 1e4

    assert get_reward_term("test-params") is ParamPenalty
    env = make_env(reward_weights={"test-params": 2.0})
    env.reset(seed=0)
    _, r, _, _, info = env.step(SASREC_BCE)
    assert info["reward_terms"] == {"test-params": -1.0} and r == -2.0


def test_store_records_every_trial_and_decision(tmp_path):
    from agenticrs.envs.knowledge import KnowledgeStore

    store = KnowledgeStore(tmp_path / "k.db")
    env = gym.make("agenticrs/AutoTrain-v0", backend="fake", store=store, run_id="r1", max_trials=5)
    run_episode(env, seed=0)
    trials = store.trials(run_id="r1")
    assert len(trials) == 5 and {t.env for t in trials} == {"agenticrs/AutoTrain-v0"}
    assert all(set(t.reward_terms) == {"inner", "cost", "failure", "outer"} for t in trials)
    assert len(store.decisions(run_id="r1")) == 5


def test_render_ansi():
    env = make_env(render_mode="ansi")
    env.reset(seed=0, options={"task": "syn-long"})
    env.step(SASREC_BCE)
    text = env.render()
    assert "syn-long: 1/20 trials" in text and "incumbent: sasrec" in text


# ---------------------------------------------------------------------- suites
def test_suites_registry():
    assert "synthetic" in list_suites()
    syn = get_suite("synthetic")
    assert len(syn.train) >= 3 and len(syn.test) >= 2
    assert len({t.data for t in syn.tasks}) == len(syn.tasks)
    with pytest.raises(ValueError, match="already registered"):
        register_suite(syn)
    with pytest.raises(ValueError, match="duplicate task"):
        register_suite(TaskSuite("dup", (Task("a", "x"), Task("a", "y")), ()), overwrite=True)
    with pytest.raises(ValueError, match="no train tasks"):
        register_suite(TaskSuite("empty", (), ()), overwrite=True)


def test_embedded_suite_tasks_differ_in_structure():
    stats = [task_stats(t) for t in get_suite("synthetic").tasks]
    for key in ("users", "items", "mean_length", "popularity_gini"):
        assert len({round(s[key], 3) for s in stats}) >= 4, key
    assert all(300 <= s["users"] <= 600 and 250 <= s["items"] <= 500 for s in stats)


def test_subsample_parts_are_disjoint():
    from agenticrs.recsys.data.registry import load_dataset

    full = load_dataset("synthetic:users=60,items=40,seed=3,max_length=20")
    a, b = subsample(full, 20, part=0), subsample(full, 20, part=1)
    assert a.n_users == b.n_users == 20
    assert not set(a.user_ids.tolist()) & set(b.user_ids.tolist())
    assert a.items.min() == 1 and a.items.max() == a.n_items  # re-indexed densely
    u = a.user_ids[0]
    orig = full.item_ids[full.sequence(int(np.flatnonzero(full.user_ids == u)[0]))]
    assert a.item_ids[a.sequence(0)].tolist() == orig.tolist()
    via_uri = load_dataset("subsample:synthetic:users=60,items=40,seed=3,max_length=20?users=20,part=1")
    assert via_uri.fingerprint() == b.fingerprint()
    with pytest.raises(ValueError, match="fewer than"):
        subsample(full, 40, part=1)


@pytest.mark.skipif("beauty" not in list_suites(), reason="needs ../shared/data/amazon-beauty")
def test_real_data_suites():
    beauty = get_suite("beauty")
    assert len(beauty.train) == 3 and len(beauty.test) == 2
    assert beauty.train[0].data.startswith("subsample:beauty?")


# ---------------------------------------------------------------------- RL libraries
def test_sb3_ppo_and_maskable_ppo_run():
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO

    env = gym.make("agenticrs/AutoTrain-v0", backend="fake")
    PPO("MlpPolicy", env, n_steps=32, batch_size=16, n_epochs=1, seed=0, device="cpu").learn(64)
    MaskablePPO("MlpPolicy", env, n_steps=32, batch_size=16, n_epochs=1, seed=0, device="cpu").learn(64)


def test_naming_the_drawn_task_gives_the_same_episode():
    """Replays name the task explicitly: that must not change the trial seeds."""
    env = make_env()
    _, info = env.reset(seed=21)
    drawn = [env.step(SASREC_BCE)[4]["result"].seed for _ in range(3)]
    env.reset(seed=21, options={"task": info["task"]})
    named = [env.step(SASREC_BCE)[4]["result"].seed for _ in range(3)]
    assert drawn == named and len(set(drawn)) == 3


def test_shipped_suite_stats_match_the_data():
    """suite_stats.json (meta-features without loading data) must follow the generator."""
    from agenticrs.envs.suites import STATS_FILE
    from agenticrs.recsys.data.registry import load_dataset

    shipped = json.loads(STATS_FILE.read_text())
    for task in get_suite("synthetic").tasks:
        assert shipped[task.data] == pytest.approx(load_dataset(task.data).stats()), task.name


def test_table_backend_episode_and_scale():
    """Against a real TableBackend (in-memory table of fake results): lookups, scale, missing entries."""
    from agenticrs.envs.autotrain import best_known_in_table
    from agenticrs.envs.backends import TableBackend
    from agenticrs.envs.backends.table import Table

    fake, task = FakeBackend(), get_suite("synthetic").task("syn-long")
    pairs = AutoTrainSpace().enumerate()
    table = Table([fake.evaluate(task, c, f, s) for c, f in pairs for s in range(3)])
    scale = best_known_in_table(table, "syn-long", "ndcg@10")
    means = {}
    for r in table.results():
        if r.ok:
            means.setdefault((r.config, r.fidelity), []).append(r.valid["ndcg@10"])
    assert scale == pytest.approx(max(np.mean(v) for v in means.values()))

    env = AutoTrainEnv(backend=TableBackend(table), tasks=["syn-long"])
    steps = run_episode(env, seed=2)
    results = [info["result"] for _, _, info in steps]
    assert all(r.source == "table" for r in results)
    assert all(r in table.entries[(r.task, r.config.key(), r.fidelity)] for r in results)
    best = max(r.valid["ndcg@10"] for r in results if r.ok)
    assert sum(info["reward_terms"]["inner"] for _, _, info in steps) == pytest.approx(best / scale)
    # a task the table lacks: every trial is a failed trial naming the missing entry
    env.reset(seed=0, options={"task": "syn-mixed"})
    info = env.step(SASREC_BCE)[4]
    assert info["result"].status == "failed" and "no entry" in info["result"].reason


def test_dict_mode_passes_the_checkers():
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = gym.make("agenticrs/AutoTrain-v0", backend="fake", obs_mode="dict")
    check_env(env.unwrapped)
    sb3_check_env(env.unwrapped)


def test_missing_shipped_table_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="no table for suite 'no-table-suite'"):
        AutoTrainEnv(backend="table", suite=TaskSuite("no-table-suite", (Task("a", "synthetic:"),), ()))
