"""agenticrs/OpenDesign-v0: text and edit actions, rejected programs as failed trials, the program cache,
screening, the KnowledgeStore, and one real (in-process) live trial."""

from __future__ import annotations

import dataclasses
import json
import pickle

import gymnasium as gym
import numpy as np
import pytest
from design_fakes import FakeDesignBackend
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import agenticrs  # noqa: F401  (registers the env)
from agenticrs.envs.core import Task, TaskSuite
from agenticrs.envs.knowledge import KnowledgeStore
from agenticrs.envs.opendesign import OpenDesignEnv, ProgramText, program_of, trial_config
from agenticrs.recsys.design import LIBRARY, OPERATORS, MoE, parse, program_hash, to_dict, to_text
from agenticrs.recsys.design.grammar import OPERATOR_INDEX

ENV_ID = "agenticrs/OpenDesign-v0"


def make(**kwargs) -> OpenDesignEnv:
    kwargs.setdefault("backend", FakeDesignBackend())
    return gym.make(ENV_ID, **kwargs).unwrapped


@pytest.mark.parametrize("mode", ["text", "edit"])
def test_gymnasium_check_env_both_modes(mode):
    gym_check_env(make(action_mode=mode, render_mode="ansi"), skip_render_check=False)


def test_dict_observations_carry_the_edit_mask():
    env = make(action_mode="edit", obs_mode="dict", start="gru4rec")
    gym_check_env(env)
    obs, _ = env.reset(seed=0)
    assert obs["action_mask"].tolist() == env.action_masks().astype(np.float32).tolist()
    with pytest.raises(ValueError, match="obs_mode"):
        make(obs_mode="dict")  # text actions have no mask


def test_sb3_check_env_edit_mode():
    sb3_check_env(make(action_mode="edit"), warn=True)


def test_spaces():
    env = make()
    assert isinstance(env.action_space, ProgramText) and isinstance(env.action_space, gym.spaces.Text)
    assert env.observation_space.shape == (86,)
    assert repr(env.action_space) == "ProgramText(max_length=4096)"
    env.action_space.seed(0)
    text = env.action_space.sample()
    assert env.action_space.contains(text) and parse(text)  # samples are valid programs
    assert make(action_mode="edit").action_space == gym.spaces.Discrete(len(OPERATORS))
    with pytest.raises(ValueError, match="action_mode"):
        make(action_mode="grid")
    with pytest.raises(ValueError, match="no table backend"):
        gym.make(ENV_ID, backend="table")


def test_text_episode_and_rejected_programs():
    backend = FakeDesignBackend()
    env = make(backend=backend, max_trials=4)
    obs, info = env.reset(seed=0)
    assert obs[8] == 1.0 and obs[9] == 0.0
    obs, r, term, _, info = env.step(to_text(LIBRARY["gru4rec"]))
    assert info["result"].ok and info["error"] == "" and info["program_hash"] == program_hash(LIBRARY["gru4rec"])
    assert r > 0 and obs[9] == 1.0 and obs[15] == 0.0 and backend.calls == 1
    # Rejected by the language: a failed trial naming the field, no training, no seconds.
    obs, r, term, _, info = env.step("block attention heads=3\nloss kind=ce")
    assert info["result"].status == "failed" and backend.calls == 1
    assert info["error"].startswith("blocks[0].heads: dim 64 is not divisible by heads 3")
    assert info["reward_terms"]["failure"] == -1.0 and info["reward_terms"]["cost"] == 0.0
    assert obs[15] == 1.0 and not obs[16:51].any()
    _, _, _, _, info = env.step("block attention causal=false heads=3")
    lines = info["error"].splitlines()  # every error at once, one per line
    assert len(lines) == 2 and lines[0].startswith("blocks[0].heads") and "sees the next item" in lines[1]
    # Not a string at all: the episode is untouched.
    with pytest.raises(ValueError, match="program string"):
        env.step(3)
    assert env._state.trials == 3
    _, _, term, _, _ = env.step(to_text(LIBRARY["sasrec"]))
    assert term and env.incumbent is not None


def test_failing_backend_and_exceptions_become_failed_trials():
    class Exploding(FakeDesignBackend):
        def evaluate(self, *args):
            raise RuntimeError("worker exploded")

    env = make(backend=Exploding())
    env.reset(seed=0)
    _, _, _, _, info = env.step(to_text(LIBRARY["sasrec"]))
    assert info["result"].status == "failed" and "worker exploded" in info["result"].reason
    env = make()
    env.reset(seed=0)
    oom = dataclasses.replace(LIBRARY["sasrec"], blocks=(*LIBRARY["sasrec"].blocks, MoE(experts=16)))
    _, _, _, _, info = env.step(to_text(oom))
    assert info["result"].status == "failed" and info["reward_terms"]["failure"] == -1.0


def test_cache_by_program_hash():
    backend = FakeDesignBackend()
    env = make(backend=backend)
    env.reset(seed=0)
    a = env.step(to_text(LIBRARY["bert4rec"]))
    renamed = dataclasses.replace(LIBRARY["bert4rec"], name="my-bert")  # same program, another name and form
    b = env.step(json.dumps(to_dict(renamed)))
    assert backend.calls == 1 and env.cache_stats == {"hits": 1, "trained": 1}
    assert b[4]["result"] == a[4]["result"]
    assert b[4]["reward_terms"]["cost"] == a[4]["reward_terms"]["cost"] < 0  # charged like a table lookup
    task = env.task.name
    env.reset(seed=1, options={"task": task})  # the cache outlives episodes...
    env.step(to_text(LIBRARY["bert4rec"]))
    assert backend.calls == 1
    other = next(t.name for t in env.tasks if t.name != task)
    env.reset(seed=1, options={"task": other})  # ... but is per task
    env.step(to_text(LIBRARY["bert4rec"]))
    assert backend.calls == 2


def test_edit_mode_applies_operators_to_the_incumbent():
    backend = FakeDesignBackend()
    env = make(backend=backend, action_mode="edit", start="gru4rec")
    env.reset(seed=0)
    assert env.base_program == LIBRARY["gru4rec"]
    mask = env.action_masks()
    assert mask.shape == (72,) and mask.dtype == bool
    assert not mask[OPERATOR_INDEX["toggle_causal"]]  # GRU has no causal switch: nothing changes
    _, _, _, _, info = env.step(OPERATOR_INDEX["add_attention"])
    assert info["result"].ok
    kinds = [b.kind for b in program_of(info["result"].config).blocks]
    assert kinds == ["gru", "attention"]
    assert env.base_program == program_of(env.incumbent.config)  # edits now apply to the incumbent
    _, _, _, _, info = env.step(OPERATOR_INDEX["toggle_causal"])  # bidirectional under next-item: rejected
    assert info["result"].status == "failed" and "toggle_causal" in info["error"]
    _, _, _, _, info = env.step(np.int64(OPERATOR_INDEX["dim_up"]))
    assert program_of(info["result"].config).dim == 128
    with pytest.raises(ValueError, match="outside"):
        env.step(72)
    with pytest.raises(AttributeError, match="edit"):
        make().action_masks()


def test_screening_promotes_only_promising_programs():
    class Recording(FakeDesignBackend):
        fidelities: list[float] = []

        def evaluate(self, task, config, fidelity, seed):
            self.fidelities.append(fidelity)
            return super().evaluate(task, config, fidelity, seed)

    backend = Recording()
    env = make(backend=backend, screening=0.25, screening_margin=1.0, max_trials=10)
    env.reset(seed=0)
    env.action_space.seed(0)
    promoted = []
    for _ in range(8):
        _, _, _, _, info = env.step(env.action_space.sample())
        if info["result"].ok or "screening" in info:
            promoted.append(info.get("promoted"))
            if info.get("promoted") is False:
                assert info["result"].fidelity == 0.25
    assert True in promoted and False in promoted
    assert backend.fidelities.count(0.25) == 8 and 0 < backend.fidelities.count(1.0) < 8
    assert env.incumbent.fidelity == 1.0  # only full-fidelity trials become the incumbent
    with pytest.raises(ValueError, match="screening"):
        make(screening=1.0)


def test_knowledge_store_records_and_dedups(tmp_path):
    store = KnowledgeStore(tmp_path / "k.sqlite")
    backend = FakeDesignBackend()
    env = make(backend=backend, store=store, run_id="r1")
    env.reset(seed=0)
    env.step(to_text(LIBRARY["sasrec"]))
    env.step("block nonsense")
    env.step(to_text(LIBRARY["sasrec"]))  # cached: no new trial row
    trials = store.trials(run_id="r1")
    assert [t.result.status for t in trials] == ["ok", "failed"]
    assert trials[0].result.config == trial_config(LIBRARY["sasrec"]) and trials[0].reward_terms
    assert "invalid program" in trials[1].result.reason and trials[1].result.config.param_dict["invalid_program"]
    decisions = store.decisions(run_id="r1")
    assert len(decisions) == 3 and decisions[1].info["error"].startswith("blocks[0].kind")
    assert decisions[0].info["program_hash"] == program_hash(LIBRARY["sasrec"])
    # Another env (another process, another day) finds the stored result instead of training again.
    fresh = FakeDesignBackend()
    other = make(backend=fresh, store=store, run_id="r2")
    other.reset(seed=0)
    _, _, _, _, info = other.step(to_text(LIBRARY["sasrec"]))
    assert fresh.calls == 0 and info["result"].ok


def test_text_mode_is_deterministic_and_pickles():
    def rollout(env, steps=12):
        env.action_space.seed(5)
        out = [env.reset(seed=5)[0].tolist()]
        for _ in range(steps):
            obs, r, term, _, info = env.step(env.action_space.sample())
            out.append((obs.tolist(), r, info["program_hash"]))
            if term:
                env.reset()
        return out

    assert rollout(make(max_trials=5)) == rollout(make(max_trials=5))
    env = make()
    env.reset(seed=0)
    env.step(to_text(LIBRARY["sasrec"]))
    clone = pickle.loads(pickle.dumps(env))
    a, b = env.step(to_text(LIBRARY["fmlp"])), clone.step(to_text(LIBRARY["fmlp"]))
    assert a[0].tolist() == b[0].tolist() and a[1] == b[1]


def test_listed_without_data():
    """``agenticrs envs`` builds the env from its describe_kwargs: no data, no backend."""
    from agenticrs.envs import registration

    record = registration._ENVS[ENV_ID]
    assert record.backends == ("live",)
    env = gym.make(ENV_ID, disable_env_checker=True, **record.describe_kwargs)
    assert repr(env.action_space) == "ProgramText(max_length=4096)"
    assert repr(env.observation_space) == "Box(0.0, 10.0, (86,), float32)"


def test_live_backend_trains_a_program_in_process():
    """One real trial: the program compiles, trains through the trainer and reports the live cost figures."""
    suite = TaskSuite("tiny", train=(Task("tiny", "synthetic:users=80,items=60,seed=2", max_trials=2),), test=())
    env = gym.make(ENV_ID, backend="live", suite=suite, backend_kwargs={"isolate": False, "timeout_s": None}).unwrapped
    env.reset(seed=0)
    program = dataclasses.replace(LIBRARY["gru4rec"], dim=16, train=dataclasses.replace(LIBRARY["gru4rec"].train, epochs=1))
    _, reward, _, _, info = env.step(to_text(program))
    result = info["result"]
    assert result.ok, result.reason
    assert result.config.model == "design" and result.cost["epochs"] == 1 and result.cost["params"] > 0
    assert 0 <= result.valid["ndcg@10"] <= 1 and info["reward_terms"]["inner"] > 0


@pytest.mark.slow
def test_live_isolated_worker_and_timeout():
    """The default live backend: an isolated worker trains the program; one past the timeout is a timeout trial."""
    suite = TaskSuite("tiny", train=(Task("tiny", "synthetic:users=80,items=60,seed=2", max_trials=3),), test=())
    env = gym.make(ENV_ID, backend="live", suite=suite, backend_kwargs={"timeout_s": 120.0}).unwrapped
    try:
        env.reset(seed=0)
        small = dataclasses.replace(LIBRARY["sasrec_ce"], dim=16, train=dataclasses.replace(LIBRARY["sasrec_ce"].train, epochs=1))
        _, _, _, _, info = env.step(to_text(small))
        assert info["result"].ok, info["result"].reason
        env.backend.timeout_s = 0.5
        big = dataclasses.replace(small, dim=256, train=dataclasses.replace(small.train, epochs=100))
        _, _, _, _, info = env.step(to_text(big))
        assert info["result"].status == "timeout" and info["reward_terms"]["failure"] == -1.0
    finally:
        env.backend.close()


def test_maskable_ppo_learns_on_edit_actions():
    """An RL policy drives the edit mode through its action masks (sb3-contrib MaskablePPO)."""
    from sb3_contrib import MaskablePPO

    env = gym.make(ENV_ID, backend=FakeDesignBackend(), action_mode="edit", max_trials=8)
    model = MaskablePPO("MlpPolicy", env, n_steps=32, batch_size=16, n_epochs=1, seed=0)
    model.learn(64)
    obs, _ = env.reset(seed=0)
    mask = env.unwrapped.action_masks()
    action, _ = model.predict(obs, action_masks=mask)
    assert mask[int(action)]
