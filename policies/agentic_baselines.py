"""Baselines for ``AgenticRS-v0``: search on the joint configuration, and independent agents.

**Search on the joint configuration** (:func:`run_search_episode`): any registered
:class:`~agenticrs.policies.base.Searcher` (``random``, ``tpe``, ``evolution``...) and
:class:`CoordinateDescent` search the four agents' choices as one
:func:`~agenticrs.policies.agentic_eval.joint_space` through the shared ask/tell layer. Each
trial is one evaluation of a pipeline with the env's outer objective -- one simulated A/B
period against the default pipeline plus the SLA term (the noisy signal an agent sees) -- under
the same budget as the RL agents' rounds; the final pipeline after each trial is the best
observed so far.

**Independent agents** (:class:`SingleAgentView`, :func:`train_independent`,
:class:`IndependentAgents`): *individual* evolution. Each agent gets a single-agent Gymnasium
env -- ``AgenticRS-v0`` with every other agent held at its default part -- and its own SB3
PPO policy trained there on its own reward (the coupling is an argument; the benchmark uses
the same coupling as the multi-agent run it is compared with). At test time the four policies
act together in the multi-agent env, each from its own observation, without ever having been
trained alongside the others.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import gymnasium as gym
import numpy as np

from agenticrs.envs.agentic.spaces import AGENTS, JointConfig
from agenticrs.envs.core import TrialConfig, TrialResult
from agenticrs.policies.agentic_eval import (
    AGENT_CHOICES,
    JointTrace,
    ab_seed,
    joint_of_action,
    joint_space,
    run_policy_episode,
)
from agenticrs.policies.base import Budget, Searcher
from agenticrs.policies.search_space import SearchSpace, search_space

OBJECTIVE = "outer"
"""The metric name the searchers maximise (``TrialResult.valid["outer"]``)."""


@functools.lru_cache(maxsize=1)
def joint_view() -> SearchSpace:
    """The search baselines' view of :func:`~agenticrs.policies.agentic_eval.joint_space` (built once)."""
    return search_space(joint_space(), "AgenticRS-v0 joint configuration")


def agent_blocks() -> list[list[str]]:
    """The joint space's choice names grouped by agent (coordinate descent's coordinates)."""
    return [[c.name for c in AGENT_CHOICES[a]] for a in AGENTS]


# ---------------------------------------------------------------------- coordinate descent
class CoordinateDescent(Searcher):
    """Block coordinate descent: one module (a block of choices) at a time, the others at the incumbent.

    Starting from ``start`` (the space's first candidate: every agent's default), the search
    visits the blocks in turn; in a block's turn it proposes ``per_block`` candidates, each the
    incumbent with that block's choices redrawn uniformly (the other blocks untouched), then
    moves to the next block, cycling until the budget ends. The incumbent is the best result
    told so far.

    Args:
        blocks: lists of choice names (default: every searchable choice its own block; for
            the joint space :func:`agent_blocks`, one block per agent).
        per_block: proposals per block turn.
        start_value: the start's known value; ``None``: the start is evaluated first.
    """

    name = "coordinate"

    def __init__(self, blocks: Sequence[Sequence[str]] | None = None, per_block: int = 2,
                 start_value: float | None = None, metric: str | None = None):
        super().__init__(metric)
        if per_block < 1:
            raise ValueError(f"per_block must be >= 1, got {per_block}")
        self.blocks = [list(b) for b in blocks] if blocks is not None else None
        self.per_block = per_block
        self.start_value = start_value

    def _setup(self) -> None:
        assert self.space is not None
        cspace = getattr(self.space, "space", None)
        if cspace is None or not hasattr(cspace, "choices"):
            raise ValueError(f"{self.name}: needs a ConditionalSpace view, got {self.space.label}")
        self._cspace = cspace
        names = [c.name for c in cspace.choices]
        blocks = self.blocks or [[n] for n in names]
        unknown = sorted({n for b in blocks for n in b} - set(names))
        if unknown:
            raise ValueError(f"{self.name}: unknown choice(s) {unknown} in blocks; choices: {names}")
        self._blocks = blocks
        self._incumbent = 0
        self._best = self.start_value if self.start_value is not None else -np.inf
        self._need_start = self.start_value is None
        self._block, self._in_block = 0, 0

    def _ask(self) -> np.ndarray:
        if self._need_start:
            self._need_start = False
            return self.action_of(self._incumbent)
        block = self._blocks[self._block]
        self._in_block += 1
        if self._in_block >= self.per_block:
            self._block, self._in_block = (self._block + 1) % len(self._blocks), 0
        return self._redraw(block)

    def _redraw(self, block: Sequence[str], tries: int = 32) -> np.ndarray:
        """The incumbent with ``block``'s choices drawn uniformly (an unseen candidate if one is found)."""
        sp = self._cspace
        base = sp.values(sp.lookup(self.action_of(self._incumbent))[0])
        action = self.action_of(self._incumbent)
        for _ in range(tries):
            values = dict(base)
            for name in block:
                c = sp.choices[sp.names.index(name)]
                values[name] = c.choices[int(self.rng.integers(len(c.choices)))]
            action = sp.encode(values)
            if not self._taken(self.space.pair_id(action)):
                break
        return action

    def _tell(self, pid: int, value: float, result: TrialResult) -> None:
        if value > self._best:
            self._best, self._incumbent = value, pid


def make_joint_searcher(name: str, **kwargs: Any) -> Searcher:
    """A searcher for the joint space by name: ``coordinate`` (one agent per block) or any registered one."""
    if name == "coordinate":
        return CoordinateDescent(blocks=kwargs.pop("blocks", agent_blocks()), **kwargs)
    from agenticrs.policies.search import make_searcher

    return make_searcher(name, **kwargs)


def run_search_episode(searcher: Searcher | str, task: str, seed: int, budget: int, **outer_kwargs: Any) -> JointTrace:
    """``budget`` ask/tell trials of a searcher on ``task``: each trial one simulated A/B period
    (seeded ``(seed, trial)``) of the proposed pipeline against the default one, plus the SLA term
    (``outer_kwargs``: ``ab_share``, ``latency_sla_ms``... of
    :func:`~agenticrs.envs.agentic.joint_eval.evaluate`; default: the env's defaults)."""
    from agenticrs.envs.agentic.joint_eval import evaluate

    s = make_joint_searcher(searcher) if isinstance(searcher, str) else searcher
    s.reset(joint_view(), Budget(budget), seed, OBJECTIVE)
    trace = JointTrace(s.name, task, seed)
    best, best_joint = -np.inf, JointConfig.default()
    for trial in range(budget):
        action = s.ask()
        joint = joint_of_action(action)
        ev = evaluate(task, joint, seed=ab_seed(seed, trial), **outer_kwargs)
        r = ev.result
        status = r.status if r.status in ("ok", "failed", "timeout") else "failed"
        config = s.space.pairs[s.space.pair_id(action)][0] if s.space is not None else TrialConfig.make("pipeline")
        s.tell(action, TrialResult(config, task, 1.0, seed, status,  # type: ignore[arg-type]
                                   {OBJECTIVE: ev.outer}, {}, {"seconds": r.train_seconds}, r.reason, r.source))
        if ev.outer > best:
            best, best_joint = ev.outer, joint
        trace.add(joint, ev.outer, best_joint)
    return trace


# ---------------------------------------------------------------------- independent agents
class SingleAgentView(gym.Env):
    """``AgenticRS-v0`` as one agent's single-agent env: the other agents hold their defaults.

    Observation: the agent's flat observation of the multi-agent env (``Box``); action: its
    ``MultiDiscrete``; reward: its reward under ``coupling``; the episode is the multi-agent
    env's (``max_rounds`` rounds). ``**env_kwargs`` go to the multi-agent env.
    """

    metadata = {"render_modes": []}

    def __init__(self, agent: str = "model", **env_kwargs: Any):
        from agenticrs.envs.agentic.rllib_env import AgenticRSEnv

        if agent not in AGENTS:
            raise ValueError(f"agent must be one of {AGENTS}, got {agent!r}")
        self.agent = agent
        self.env = AgenticRSEnv(**{**env_kwargs, "obs_mode": "flat"})
        self.observation_space = self.env.observation_spaces[agent]
        self.action_space = self.env.action_spaces[agent]
        self._defaults = {a: np.zeros(len(self.env.action_spaces[a].nvec), dtype=np.int64) for a in AGENTS}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        obs, infos = self.env.reset(seed=seed, options=options)
        return obs[self.agent], {}

    def step(self, action: Any):
        obs, rewards, terms, truncs, infos = self.env.step({**self._defaults, self.agent: np.asarray(action)})
        info = infos[self.agent]
        return (obs[self.agent], float(rewards[self.agent]), bool(terms["__all__"]), False,
                {"outer": info["outer"], "inner": info["inner"]})

    def close(self) -> None:
        self.env.close()


SB3_HPARAMS: dict[str, Any] = {"n_steps": 128, "batch_size": 64, "n_epochs": 4, "learning_rate": 3e-4,
                               "ent_coef": 0.01, "policy_kwargs": {"net_arch": [64, 64]}}


def train_independent(out: str | Path, timesteps: int = 2000, seed: int = 0, env_kwargs: Mapping[str, Any] | None = None,
                      agents: Sequence[str] = AGENTS, progress: bool = False) -> "IndependentAgents":
    """Train one SB3 PPO per agent on its :class:`SingleAgentView` (``timesteps`` rounds each);
    saved as ``out/<agent>.zip`` with ``out/independent.json``."""
    import torch
    from stable_baselines3 import PPO

    from agenticrs.policies.training import use_policy_threads

    use_policy_threads()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kwargs = {"split": "train", **dict(env_kwargs or {})}
    models = {}
    for i, a in enumerate(agents):
        env = SingleAgentView(a, **kwargs)
        torch.manual_seed(seed + i)
        model = PPO("MlpPolicy", env, seed=seed + i, verbose=0, device="cpu", **SB3_HPARAMS)
        model.learn(total_timesteps=timesteps, progress_bar=progress)
        model.save(str(out / f"{a}.zip"))
        models[a] = model
        env.close()
    (out / "independent.json").write_text(json.dumps({"agents": list(agents), "timesteps": timesteps, "seed": seed,
                                                      "env_kwargs": kwargs, "sb3": SB3_HPARAMS}, indent=1))
    return IndependentAgents(models)


class IndependentAgents:
    """Independently trained single-agent policies acting together (``act({agent: obs}) -> {agent: action}``).

    Agents without a policy keep their default part."""

    name = "independent"
    multi_agent = True
    obs_mode = "flat"

    def __init__(self, models: Mapping[str, Any], deterministic: bool = False):
        self.models = dict(models)
        self.deterministic = deterministic

    @classmethod
    def load(cls, folder: str | Path, deterministic: bool = False) -> "IndependentAgents":
        from stable_baselines3 import PPO

        folder = Path(folder)
        meta = json.loads((folder / "independent.json").read_text())
        return cls({a: PPO.load(str(folder / f"{a}.zip"), device="cpu") for a in meta["agents"]}, deterministic)

    def begin(self, env: Any, seed: int) -> None:
        self._seed = seed
        for i, m in enumerate(self.models.values()):
            m.set_random_seed(seed + i)
        u = getattr(env, "unwrapped", env)
        self._defaults = {a: np.zeros(len(u.action_spaces[a].nvec), dtype=np.int64) for a in u.possible_agents}

    def act(self, obs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        out = dict(self._defaults)
        for a, m in self.models.items():
            o = obs[a]["observations"] if isinstance(obs[a], Mapping) else obs[a]
            out[a] = np.asarray(m.predict(o, deterministic=self.deterministic)[0], dtype=np.int64)
        return out


def run_independent_episode(policy: IndependentAgents, task: str, seed: int, env_kwargs: Mapping[str, Any]) -> JointTrace:
    """One episode of the independent agents together in the multi-agent env."""
    from agenticrs.envs.agentic.rllib_env import AgenticRSEnv

    env = AgenticRSEnv(**{**dict(env_kwargs), "obs_mode": "flat", "split": "all"})
    try:
        return run_policy_episode(env, policy, task, seed, "independent")
    finally:
        env.close()
