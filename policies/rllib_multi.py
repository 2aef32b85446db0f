"""RLlib multi-agent PPO (new API stack) for multi-agent envs such as ``agenticrs/AgenticRS-v0``.

* :class:`PolicyView`: how agents map to RLModules. ``"per_agent"`` (default): one module per
  agent (``policy_mapping_fn(agent) = agent``), each on its agent's own spaces.
  ``"shared"``: one module for all agents (parameter sharing); every agent's observation is
  zero-padded to the largest one and gets a one-hot agent id appended, and every action space
  is embedded in one ``MultiDiscrete`` (per position the largest choice count): an agent's
  action mask forbids the values and positions it does not have, so the shared module never
  proposes one, and its action is the first ``len(nvec)`` entries.
* :class:`MultiAgentTrainingEnv`: the registered env (``obs_mode="dict"``: per-agent action
  masks) seen through the view, with slim infos (RLlib copies every step's info into its
  episodes) and an episode summary in the last step's info: the outer objective, the Lagrange
  multiplier, each agent's inner reward.
* :func:`build_config`: ``PPOConfig().multi_agent(policies, policy_mapping_fn)`` with a
  ``MultiRLModuleSpec`` of :class:`~agenticrs.policies.rllib_adapter.ActionMaskingPPOModule`
  (one per module id), configurable env runners, one torch thread per process.
* :func:`train` (:class:`MultiAgentPPORun`: the single-agent run's template with this
  module's hooks): iterations with TensorBoard (``agent/<name>/return``, ``agent/<name>/inner``,
  ``agent/<module>/policy_loss`` ..., ``env/outer_mean``, ``env/outer_last``,
  ``env/multiplier``), checkpoints, resume; the multiplier is averaged over all env runners'
  envs after every iteration (dual ascent on the pooled outer objective).
* :class:`MultiAgentRLlibPolicy`: a checkpoint's modules acting on a dict of agents'
  observations, without Ray.

The single-agent adapter (:mod:`agenticrs.policies.rllib_adapter`) dispatches here when the
env id is registered ``multi_agent=True``, so ``agenticrs train --framework rllib`` and
``agenticrs evaluate`` need nothing else.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Mapping

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.core import COMPONENT_LEARNER, COMPONENT_LEARNER_GROUP, COMPONENT_RL_MODULE
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
from ray.rllib.core.rl_module.rl_module import RLModule, RLModuleSpec
from ray.rllib.env.multi_agent_env import MultiAgentEnv

from agenticrs.policies.rllib_adapter import (
    ALGO_DIR,
    DEFAULTS,
    ActionMaskingPPOModule,
    PPORun,
    base_config,
)
from agenticrs.policies.training import TrainResult, TrainSpec, read_meta, use_policy_threads

POLICY_MODES = ("per_agent", "shared")
SHARED_MODULE = "shared"
EPISODE_KEY = "episode"
"""Key of the episode summary in the last step's info of every agent."""

MA_DEFAULTS: dict[str, Any] = {**DEFAULTS, "train_batch_size_per_learner": 400, "minibatch_size": 100}
"""PPO hyperparameters for multi-agent runs: each env step is ``n_agents`` agent steps, so the
batch (counted in env steps) is smaller than the single-agent one. ``hparams["policy"]``
(``"per_agent"`` / ``"shared"``) picks the :class:`PolicyView` mode."""


def is_multi_agent(env_id: str) -> bool:
    """Whether ``env_id`` is registered through agenticrs as a multi-agent env."""
    from agenticrs.envs.registration import _ENVS

    import agenticrs  # noqa: F401  (registers the built-in ids)

    record = _ENVS.get(env_id)
    return bool(record is not None and getattr(record, "multi_agent", False))


def _split_hparams(hparams: Mapping[str, Any]) -> tuple[str, list[int], dict[str, Any]]:
    """``(policy mode, hidden sizes, PPO training kwargs)`` of a spec's hparams over :data:`MA_DEFAULTS`."""
    hp = {**MA_DEFAULTS, **dict(hparams)}
    mode = str(hp.pop("policy", "per_agent"))
    if mode not in POLICY_MODES:
        raise ValueError(f"hparams['policy'] must be one of {POLICY_MODES}, got {mode!r}")
    return mode, list(hp.pop("fcnet_hiddens")), hp


# ---------------------------------------------------------------------- agents -> modules
class PolicyView:
    """How each agent's observations and actions reach its RLModule.

    Args:
        observation_spaces: ``{agent: Dict(observations=Box[n_a], action_mask=Box[sum(nvec_a)])}``.
        action_spaces: ``{agent: MultiDiscrete(nvec_a)}``.
        mode: ``"per_agent"`` (module id = agent id, spaces unchanged) or ``"shared"`` (one
            module ``"shared"``: observations ``[max n_a + n_agents]`` (zero-padded, one-hot id
            last), actions ``MultiDiscrete(max over agents per position)``).
    """

    def __init__(self, observation_spaces: Mapping[str, gym.Space], action_spaces: Mapping[str, gym.Space],
                 mode: str = "per_agent"):
        if mode not in POLICY_MODES:
            raise ValueError(f"policy mode must be one of {POLICY_MODES}, got {mode!r}")
        self.mode = mode
        self.agents = list(observation_spaces)
        self.env_obs = dict(observation_spaces)
        self.env_act = dict(action_spaces)
        for a, sp in self.env_obs.items():
            if not (isinstance(sp, spaces.Dict) and {"observations", "action_mask"} <= set(sp.spaces)):
                raise ValueError(f"agent {a!r}: need a Dict(observations, action_mask) observation (obs_mode='dict'), "
                                 f"got {sp}")
            if not isinstance(self.env_act[a], spaces.MultiDiscrete):
                raise ValueError(f"agent {a!r}: need a MultiDiscrete action space, got {self.env_act[a]}")
        if mode == "shared":
            nvecs = {a: [int(n) for n in self.env_act[a].nvec] for a in self.agents}
            width = max(len(v) for v in nvecs.values())
            self.shared_nvec = [max(v[i] if i < len(v) else 1 for v in nvecs.values()) for i in range(width)]
            self.obs_size = max(int(self.env_obs[a]["observations"].shape[0]) for a in self.agents)
            n_obs = self.obs_size + len(self.agents)
            high = max(float(np.max(self.env_obs[a]["observations"].high)) for a in self.agents)
            self.shared_obs_space = spaces.Dict({
                "observations": spaces.Box(0.0, high, (n_obs,), np.float32),
                "action_mask": spaces.Box(0.0, 1.0, (int(sum(self.shared_nvec)),), np.float32)})
            self.shared_act_space = spaces.MultiDiscrete(np.asarray(self.shared_nvec, dtype=np.int64))
            self._mask_index = {a: self._embed_index(nvecs[a]) for a in self.agents}

    def _embed_index(self, nvec: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """``(positions in the shared flat mask of the agent's flat mask, base mask)``: the base
        allows index 0 of the positions the agent lacks, nothing else."""
        offsets = np.concatenate([[0], np.cumsum(self.shared_nvec)]).astype(int)
        pos = np.concatenate([offsets[i] + np.arange(n) for i, n in enumerate(nvec)]).astype(int)
        base = np.zeros(int(offsets[-1]), np.float32)
        for i in range(len(nvec), len(self.shared_nvec)):
            base[offsets[i]] = 1.0
        return pos, base

    def module_of(self, agent: str) -> str:
        return SHARED_MODULE if self.mode == "shared" else agent

    def module_spaces(self) -> dict[str, tuple[gym.Space, gym.Space]]:
        """``{module id: (observation space, action space)}``."""
        if self.mode == "shared":
            return {SHARED_MODULE: (self.shared_obs_space, self.shared_act_space)}
        return {a: (self.env_obs[a], self.env_act[a]) for a in self.agents}

    def observation(self, agent: str, obs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The module's observation of ``agent``'s env observation ``{observations, action_mask}``."""
        if self.mode == "per_agent":
            return {"observations": np.asarray(obs["observations"], np.float32),
                    "action_mask": np.asarray(obs["action_mask"], np.float32)}
        x = np.zeros(self.obs_size + len(self.agents), np.float32)
        own = np.asarray(obs["observations"], np.float32)
        x[: own.shape[0]] = own
        x[self.obs_size + self.agents.index(agent)] = 1.0
        pos, base = self._mask_index[agent]
        mask = base.copy()
        mask[pos] = np.asarray(obs["action_mask"], np.float32)
        return {"observations": x, "action_mask": mask}

    def action(self, agent: str, action: Any) -> np.ndarray:
        """``agent``'s env action of its module's action.

        Shared mode: the first ``len(nvec)`` entries; a value the agent lacks (only an unmasked
        sample proposes one, e.g. RLlib's env checker) wraps modulo the agent's choice count."""
        a = np.asarray(action, dtype=np.int64).reshape(-1)
        if self.mode == "per_agent":
            return a
        nvec = self.env_act[agent].nvec
        return a[: len(nvec)] % nvec


# ---------------------------------------------------------------------- env
def _make_base_env(env_id: str, env_kwargs: Mapping[str, Any]) -> Any:
    from agenticrs.envs.registration import make_from_config

    return make_from_config(env_id, {**dict(env_kwargs), "obs_mode": "dict"})


class MultiAgentTrainingEnv(MultiAgentEnv):
    """``config = {"env_id", "policy", **env kwargs}``: the env through a :class:`PolicyView`.

    Infos are slimmed to ``{}`` except at the episode's last step, where every agent's info
    holds ``{"episode": {outer_mean, outer_last, multiplier, shipped, valid_ndcg, inner: {agent: sum}}}``
    (read by :class:`MultiAgentCallback`). Pickles by reference onto remote env runners.
    """

    def __init__(self, config: Mapping[str, Any] | None = None):
        super().__init__()
        cfg = dict(config or {})
        env_id = cfg.pop("env_id", "agenticrs/AgenticRS-v0")
        mode = cfg.pop("policy", "per_agent")
        self.env = _make_base_env(env_id, cfg)
        self.view = PolicyView(self.env.observation_spaces, self.env.action_spaces, mode)
        self.possible_agents = list(self.env.possible_agents)
        self.agents = list(self.possible_agents)
        mods = self.view.module_spaces()
        self.observation_spaces = {a: mods[self.view.module_of(a)][0] for a in self.possible_agents}
        self.action_spaces = {a: mods[self.view.module_of(a)][1] for a in self.possible_agents}
        self._outer: list[float] = []
        self._inner: dict[str, float] = {}
        self._shipped = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, _ = self.env.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        self._outer, self._inner, self._shipped = [], {a: 0.0 for a in self.possible_agents}, 0
        return {a: self.view.observation(a, o) for a, o in obs.items()}, {}

    def step(self, action_dict: Mapping[str, Any]):
        actions = {a: self.view.action(a, act) for a, act in action_dict.items()}
        obs, rewards, terms, truncs, infos = self.env.step(actions)
        first = infos[self.possible_agents[0]]
        self._outer.append(float(first.get("outer", np.nan)))
        self._shipped += int(bool(first.get("shipped", False)))
        for a in self.possible_agents:
            self._inner[a] += float(infos.get(a, {}).get("inner", 0.0))
        done = bool(terms.get("__all__", False) or truncs.get("__all__", False))
        slim: dict[str, Any] = {a: {} for a in obs}
        if done:
            summary = {"outer_mean": float(np.mean(self._outer)), "outer_last": self._outer[-1],
                       "multiplier": float(first.get("multiplier", np.nan)), "shipped": self._shipped,
                       "valid_ndcg": float(first.get("pipeline", {}).get("valid_ndcg", np.nan)),
                       "inner": dict(self._inner)}
            slim = {a: {EPISODE_KEY: summary} for a in obs}
            self.agents = []
        return {a: self.view.observation(a, o) for a, o in obs.items()}, rewards, terms, truncs, slim

    # the dual variable, averaged across env runners by train()
    def get_multiplier(self) -> float:
        return float(self.env.core.multiplier) if hasattr(self.env, "core") else float("nan")

    def set_multiplier(self, value: float) -> None:
        if hasattr(self.env, "set_multiplier"):
            self.env.set_multiplier(float(value))

    def close(self) -> None:
        self.env.close()


class MultiAgentCallback(RLlibCallback):
    """Logs the episode summary: ``env/outer_mean``, ``env/outer_last``, ``env/multiplier``,
    ``env/shipped``, ``env/valid_ndcg`` and ``agent/<name>/inner`` (windowed means)."""

    def on_episode_end(self, *, episode: Any, metrics_logger: Any = None, **kwargs: Any) -> None:
        if metrics_logger is None:
            return
        infos = episode.get_infos(-1)
        summary = next((i[EPISODE_KEY] for i in infos.values() if isinstance(i, dict) and EPISODE_KEY in i), None)
        if summary is None:
            return
        for k in ("outer_mean", "outer_last", "multiplier", "shipped", "valid_ndcg"):
            metrics_logger.log_value(f"env/{k}", float(summary[k]), reduce="mean", window=100)
        for a, v in summary["inner"].items():
            metrics_logger.log_value(f"agent/{a}/inner", float(v), reduce="mean", window=100)


# ---------------------------------------------------------------------- config
def env_config(spec: TrainSpec) -> dict[str, Any]:
    mode, _, _ = _split_hparams(spec.hparams)
    return {"env_id": spec.env_id, "policy": mode, **spec.env_kwargs}


def _agent_to_module(agent_id: Any, episode: Any = None, **kwargs: Any) -> str:
    return str(agent_id)


def _all_to_shared(agent_id: Any, episode: Any = None, **kwargs: Any) -> str:
    return SHARED_MODULE


def build_config(spec: TrainSpec) -> PPOConfig:
    """The multi-agent ``PPOConfig`` of a run (does not start Ray)."""
    mode, hiddens, hp = _split_hparams(spec.hparams)
    cfg = env_config(spec)
    probe = MultiAgentTrainingEnv(cfg)  # the agents' spaces decide the modules
    model_config = {"fcnet_hiddens": hiddens, "vf_share_layers": False}
    specs = {mid: RLModuleSpec(module_class=ActionMaskingPPOModule, observation_space=obs, action_space=act,
                               model_config=model_config)
             for mid, (obs, act) in probe.view.module_spaces().items()}
    probe.close()
    return (
        base_config(spec, MultiAgentTrainingEnv, cfg, MultiAgentCallback)
        .multi_agent(policies=set(specs), policies_to_train=sorted(specs),
                     policy_mapping_fn=_all_to_shared if mode == "shared" else _agent_to_module)
        .training(**hp)
        .rl_module(rl_module_spec=MultiRLModuleSpec(rl_module_specs=specs))
    )


# ---------------------------------------------------------------------- training
def _scalars(result: dict[str, Any], steps_per_s: float, agent_steps_per_s: float) -> dict[str, float]:
    runners = result.get("env_runners", {})
    out: dict[str, Any] = {"rollout/ep_rew_mean": runners.get("episode_return_mean"),
                           "time/steps_per_s": steps_per_s, "time/agent_steps_per_s": agent_steps_per_s}
    for a, v in (runners.get("agent_episode_returns_mean") or {}).items():
        out[f"agent/{a}/return"] = v
    for k, v in runners.items():
        if isinstance(k, str) and (k.startswith("env/") or k.startswith("agent/")):
            out[k] = v
    for mid, stats in result.get("learners", {}).items():
        if mid.startswith("__") or not isinstance(stats, dict):
            continue
        for k in ("policy_loss", "vf_loss", "entropy", "mean_kl_loss"):
            out[f"agent/{mid}/{k}"] = stats.get(k)
    return {k: float(v) for k, v in out.items() if isinstance(v, (int, float, np.floating))}


def _agent_steps(runners: Mapping[str, Any]) -> int:
    """Agent steps sampled in an iteration (RLlib reports them per agent)."""
    n = runners.get("num_agent_steps_sampled", 0)
    return int(sum(n.values())) if isinstance(n, Mapping) else int(n or 0)


def _env_multipliers(runner: Any) -> list[float]:
    return [e.unwrapped.get_multiplier() for e in getattr(runner.env, "envs", [])
            if hasattr(e.unwrapped, "get_multiplier")]


def _set_env_multipliers(runner: Any, value: float) -> None:
    for e in getattr(runner.env, "envs", []):
        if hasattr(e.unwrapped, "set_multiplier"):
            e.unwrapped.set_multiplier(value)


def sync_multiplier(algo: Any) -> float | None:
    """Average the Lagrange multiplier over every env of every env runner and set it everywhere
    (each env's dual ascent sees only its own episodes; the average pools them)."""
    group = algo.env_runner_group
    values = [v for vs in group.foreach_env_runner(_env_multipliers, local_env_runner=True) for v in vs if v == v]
    if not values:
        return None
    mean = float(np.mean(values))
    group.foreach_env_runner(functools.partial(_set_env_multipliers, value=mean), local_env_runner=True)
    return mean


class MultiAgentPPORun(PPORun):
    """The multi-agent run: :class:`~agenticrs.policies.rllib_adapter.PPORun`'s loop with this
    module's config and scalars (``agent/<name>/...``, ``time/agent_steps_per_s``), the Lagrange
    multiplier averaged over all env runners after every iteration and kept in the checkpoint's
    meta (restored into every env on ``--resume``), and the modules and policy mode in the meta."""

    announce_cluster = False
    unit = "round"
    postfix = ("outer", "env/outer_mean")

    def __init__(self, spec: TrainSpec):
        super().__init__(spec)
        self.mode, _, _ = _split_hparams(spec.hparams)
        self.label = f"rllib multi-agent ({self.mode})"
        self.desc = f"rllib ma-ppo ({self.mode})"
        self.multiplier: float | None = None  # the last synced one; None until the first iteration

    def build_config(self) -> PPOConfig:
        return build_config(self.spec)

    def hparam_metrics(self) -> dict[str, float]:
        return {"env/outer_mean": 0.0}

    def on_restore(self, algo: Any, meta: dict[str, Any]) -> None:
        if meta.get("multiplier") is not None:
            algo.env_runner_group.foreach_env_runner(
                functools.partial(_set_env_multipliers, value=float(meta["multiplier"])), local_env_runner=True)

    def iteration_metrics(self, algo: Any, result: dict[str, Any], sampled: int, dt: float) -> dict[str, float]:
        agent_steps = _agent_steps(result.get("env_runners", {})) or sampled
        self.multiplier = sync_multiplier(algo)
        metrics = _scalars(result, sampled / dt, agent_steps / dt)
        if self.multiplier is not None:
            metrics["env/multiplier"] = self.multiplier
        return metrics

    def checkpoint_meta(self, algo: Any) -> dict[str, Any]:
        return {"obs_mode": "dict", "multi_agent": True, "policy": self.mode, "modules": sorted(algo.config.policies),
                "multiplier": self.multiplier}


def train(spec: TrainSpec, run_dir: Path, resume: bool = False, progress: bool = True) -> TrainResult:
    """Train (or continue) multi-agent PPO in ``run_dir`` until ``spec.timesteps`` env steps (rounds)."""
    return MultiAgentPPORun(spec).train(run_dir, resume, progress)


# ---------------------------------------------------------------------- inference
class MultiAgentRLlibPolicy:
    """A multi-agent checkpoint's RLModules acting for every agent (CPU, no Ray).

    ``act({agent: {observations, action_mask}}) -> {agent: action}`` on the env's own
    (``obs_mode="dict"``) observations; the :class:`PolicyView` of the run is rebuilt from the
    env's spaces, so the shared mode pads exactly as in training.

    Args:
        modules: ``{module id: RLModule}``.
        mode: the run's policy mode.
        deterministic: each dimension's most likely choice instead of sampling.
    """

    name = "ma-ppo"
    multi_agent = True
    obs_mode = "dict"

    def __init__(self, modules: Mapping[str, RLModule], mode: str = "per_agent", deterministic: bool = False,
                 meta: Mapping[str, Any] | None = None):
        self.modules = dict(modules)
        self.mode = mode
        self.deterministic = deterministic
        self.meta = dict(meta or {})
        self.view: PolicyView | None = None
        self.rng = np.random.default_rng(0)

    @classmethod
    def load(cls, checkpoint: str | Path, deterministic: bool = False) -> "MultiAgentRLlibPolicy":
        meta = read_meta(checkpoint)
        use_policy_threads()
        root = Path(meta["_path"]) / ALGO_DIR / COMPONENT_LEARNER_GROUP / COMPONENT_LEARNER / COMPONENT_RL_MODULE
        modules = {}
        for mid in meta.get("modules") or sorted(p.name for p in root.iterdir() if p.is_dir()):
            m = RLModule.from_checkpoint(str(root / mid))
            m.eval()
            modules[mid] = m
        return cls(modules, meta.get("policy", "per_agent"), deterministic, meta)

    def begin(self, env: Any, seed: int) -> None:
        """Bind to ``env`` (a multi-agent env with ``obs_mode="dict"``) for an episode seeded ``seed``."""
        u = getattr(env, "unwrapped", env)
        if self.view is None or list(self.view.agents) != list(u.possible_agents):
            self.view = PolicyView(u.observation_spaces, u.action_spaces, self.mode)
            missing = {self.view.module_of(a) for a in u.possible_agents} - set(self.modules)
            if missing:
                raise ValueError(f"checkpoint has no module(s) {sorted(missing)} for this env's agents "
                                 f"{list(u.possible_agents)} (it has {sorted(self.modules)})")
        self.rng = np.random.default_rng(seed)

    def act(self, obs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """``{agent: action}`` for every agent in ``obs``; modules run one batched forward each."""
        if self.view is None:
            raise RuntimeError("MultiAgentRLlibPolicy: call begin(env, seed) first")
        by_module: dict[str, list[str]] = {}
        for a in obs:
            by_module.setdefault(self.view.module_of(a), []).append(a)
        out: dict[str, np.ndarray] = {}
        for mid, agents in by_module.items():
            views = [self.view.observation(a, obs[a]) for a in agents]
            batch = {k: torch.as_tensor(np.stack([v[k] for v in views])) for k in ("observations", "action_mask")}
            module = self.modules[mid]
            with torch.no_grad():
                logits = module.forward_inference({Columns.OBS: batch})[Columns.ACTION_DIST_INPUTS]
            nvec = [int(n) for n in module.action_space.nvec]
            for row, a in zip(logits, agents):
                choice = []
                for part in torch.split(row, nvec):
                    if self.deterministic:
                        choice.append(int(torch.argmax(part)))
                    else:
                        p = torch.softmax(part.double(), dim=0).numpy()
                        choice.append(int(self.rng.choice(len(p), p=p / p.sum())))
                out[a] = self.view.action(a, choice)
        return out
