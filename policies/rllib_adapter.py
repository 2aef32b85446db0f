"""The one module that runs RLlib (new API stack) PPO on our envs; the modules and the action
distribution live in :mod:`agenticrs.policies.rllib_modules` (re-exported here).

* :class:`RLlibEvolutionEnv`: the env as RLlib builds it, with :class:`EvolutionMetrics`, slim
  per-step info and, for an action-masked env, the flat ``[observations | mask]`` layout the
  masking module splits (a ``Dict`` observation costs RLlib's connectors, vector env and
  episodes a tree walk per step).
* :func:`build_config`: ``PPOConfig`` for any registered env (``num_env_runners``,
  ``num_envs_per_env_runner``), one torch thread (and one Ray CPU) per env runner by
  default, env-runner fault tolerance (:data:`FAULT_TOLERANCE`); :func:`base_config` is the part
  the multi-agent adapter shares.
* :func:`train` / :class:`PPORun`: ``algo.train()`` iterations with a progress bar, TensorBoard
  logs (``rollout/``, ``train/``, ``env/``, ``time/``, hparams), a checkpoint every
  ``checkpoint_every`` steps and on Ctrl-C or SIGTERM, and ``--resume``; the run is a template
  whose hooks the multi-agent adapter overrides.
* :class:`RLlibPolicy`: a checkpoint's RLModule as a benchmark policy (no Ray needed).

Ray: started or joined through :func:`agenticrs.policies.ray_util.init_ray` (a local instance
stays on loopback and never reaches outside); ``spec.ray_address`` names a running cluster
(``"auto"`` or ``"host:port"``), where every node needs ``agenticrs`` installed (checked).
"""

from __future__ import annotations

import functools
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.core import COMPONENT_LEARNER, COMPONENT_LEARNER_GROUP, COMPONENT_RL_MODULE, DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.rl_module import RLModule

from agenticrs.policies.base import Policy
from agenticrs.policies.rllib_modules import (  # noqa: F401  (re-exported: old checkpoints name these here)
    MASK_TAIL,
    ActionMaskingPPOModule,
    MultiDiscretePPOModule,
    PPOModule,
    TorchPaddedMultiCategorical,
    has_mask,
    module_spec,
)
from agenticrs.policies.training import (
    RunLogger,
    TrainResult,
    TrainSpec,
    policy_threads,
    read_meta,
    use_policy_threads,
    write_checkpoint,
)
from agenticrs.policies.wrappers import INFO_KEY, EvolutionMetrics

DEFAULTS: dict[str, Any] = {
    "lr": 3e-4, "gamma": 0.99, "lambda_": 0.95, "entropy_coeff": 0.01, "train_batch_size_per_learner": 1000,
    "minibatch_size": 125, "num_epochs": 4, "fcnet_hiddens": [64, 64],
}
"""PPO hyperparameters (``TrainSpec.hparams`` overrides them)."""

ENV_METRICS = {"best": "env/best_ndcg", "regret": "env/regret", "trial_cost": "env/trial_cost"}


# ---------------------------------------------------------------------- env and module
class RLlibEvolutionEnv(EvolutionMetrics):
    """``gym.make(config["env_id"], **rest)`` with :class:`EvolutionMetrics`; RLlib builds it
    from the ``env_config`` dict (this class pickles by reference onto remote env runners).

    Per-step ``info`` is dropped (``slim_info``): RLlib copies every step's info into its
    episodes, and training reads only the episode-end ``info["evolution"]``. RLlib sees a plain
    ``MultiDiscrete`` with the env's ``nvec`` (cheap to pickle and unpickle). A
    ``Dict(observations, action_mask)`` observation becomes one ``Box[n_obs + n_mask]``
    ``[observations | action_mask]`` (:attr:`mask_tail` = ``n_mask``, 0 for other envs), the
    layout :class:`ActionMaskingPPOModule` splits with ``model_config[MASK_TAIL]``.
    """

    def __init__(self, config: dict[str, Any] | None = None):
        import agenticrs  # noqa: F401  (registers the env ids on a fresh worker)

        cfg = dict(config or {})
        env_id = cfg.pop("env_id", "agenticrs/AutoTrain-v0")
        super().__init__(gym.make(env_id, **cfg), slim_info=True)
        act = self.env.action_space
        if isinstance(act, gym.spaces.MultiDiscrete) and type(act) is not gym.spaces.MultiDiscrete:
            # RLlib pickles the spaces with every batch of episodes a remote env runner returns (and into
            # checkpoints); our conditional spaces rebuild their canonical tables when unpickled (Compose-v0:
            # 40 ms, a tenth of an iteration). RLlib needs only nvec; the env still canonicalises every action.
            self.action_space = gym.spaces.MultiDiscrete(act.nvec, dtype=act.dtype)
        self.mask_tail = 0
        space = self.env.observation_space
        if has_mask(space):
            obs, mask = space["observations"], space["action_mask"]
            self.mask_tail = int(mask.shape[0])
            self.observation_space = gym.spaces.Box(np.concatenate([obs.low, mask.low]).astype(np.float32),
                                                    np.concatenate([obs.high, mask.high]).astype(np.float32),
                                                    dtype=np.float32)

    def _flat(self, obs: Any) -> Any:
        return np.concatenate((obs["observations"], obs["action_mask"])) if self.mask_tail else obs

    def reset(self, **kwargs: Any):
        obs, info = super().reset(**kwargs)
        return self._flat(obs), info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = super().step(action)
        return self._flat(obs), reward, terminated, truncated, info


class EvolutionCallback(RLlibCallback):
    """Logs ``env/best_ndcg``, ``env/regret``, ``env/trial_cost`` at every episode end."""

    def on_episode_end(self, *, episode: Any, metrics_logger: Any = None, **kwargs: Any) -> None:
        if metrics_logger is None:
            return
        info = episode.get_infos(-1)
        ev = info.get(INFO_KEY) if isinstance(info, dict) else None
        if ev:
            for key, name in ENV_METRICS.items():
                metrics_logger.log_value(name, float(ev[key]), reduce="mean", window=100)


# ---------------------------------------------------------------------- config
def env_config(spec: TrainSpec) -> dict[str, Any]:
    cfg = {"env_id": spec.env_id, **spec.env_kwargs}
    if spec.env_id.startswith("agenticrs/AutoTrain"):
        cfg["obs_mode"] = "dict"  # the masking module's layout
    return cfg


def _set_torch_threads(threads: int, **_: Any) -> None:
    """``on_environment_created`` callback: the env runner's process uses ``threads`` torch threads."""
    if threads > 0 and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


FAULT_TOLERANCE: dict[str, Any] = {
    "restart_failed_env_runners": True, "max_num_env_runner_restarts": 100,
    "delay_between_env_runner_restarts_s": 1.0, "env_runner_health_probe_timeout_s": 30.0,
}
"""RLlib's own env-runner fault tolerance: a runner that dies (its node lost, its process killed)
is replaced and sampling goes on with the others meanwhile, instead of failing the run."""


def build_config(spec: TrainSpec) -> PPOConfig:
    """The ``PPOConfig`` of a run (does not start Ray).

    Each env runner reserves ``threads`` Ray CPUs and uses that many torch threads
    (:func:`~agenticrs.policies.training.policy_threads`, default 1); failed env runners are
    restarted (:data:`FAULT_TOLERANCE`).
    """
    hp = {**DEFAULTS, **spec.hparams}
    hiddens = list(hp.pop("fcnet_hiddens"))
    cfg = env_config(spec)
    probe = RLlibEvolutionEnv(cfg)  # the spaces decide the module
    module = module_spec(probe.observation_space, probe.action_space, hiddens, mask_tail=probe.mask_tail)
    probe.close()
    return base_config(spec, RLlibEvolutionEnv, cfg, EvolutionCallback).training(**hp).rl_module(rl_module_spec=module)


def base_config(spec: TrainSpec, env: type, cfg: dict[str, Any], callbacks: type[RLlibCallback]) -> PPOConfig:
    """What every adapter's ``PPOConfig`` shares: the env class built from ``cfg``, the env runners
    (each reserving ``threads`` Ray CPUs and using that many torch threads), :data:`FAULT_TOLERANCE`,
    the episode callback class and the seed. Training, module and multi-agent settings are added by the caller."""
    threads = policy_threads(spec.threads)
    return (
        PPOConfig()
        .environment(env, env_config=cfg)
        .env_runners(num_env_runners=spec.num_env_runners, num_envs_per_env_runner=spec.num_envs_per_env_runner,
                     rollout_fragment_length="auto", num_cpus_per_env_runner=max(1, threads))
        .fault_tolerance(**FAULT_TOLERANCE)
        .callbacks(callbacks, on_environment_created=functools.partial(_set_torch_threads, threads))
        .debugging(seed=spec.seed, log_level="ERROR")
    )


def init_ray(address: str | None, num_cpus: int | None = None) -> bool:
    """Connect to ``address`` or start a local instance (see :func:`agenticrs.policies.ray_util.init_ray`:
    quiet, loopback-only, one-line ``RayStartError``); True if this call started it."""
    from agenticrs.policies.ray_util import init_ray as _init

    return _init(address, num_cpus=num_cpus)


# ---------------------------------------------------------------------- training
ALGO_DIR = "algo"


def _scalars(result: dict[str, Any], steps_per_s: float) -> dict[str, float]:
    runners = result.get("env_runners", {})
    learner = result.get("learners", {}).get(DEFAULT_MODULE_ID, {})
    out = {"rollout/ep_rew_mean": runners.get("episode_return_mean"), "time/steps_per_s": steps_per_s}
    out.update({name: runners.get(name) for name in ENV_METRICS.values()})
    for k in ("policy_loss", "vf_loss", "entropy", "mean_kl_loss", "curr_kl_coeff"):
        out[f"train/{k}"] = learner.get(k)
    return {k: float(v) for k, v in out.items() if isinstance(v, (int, float, np.floating))}


def train(spec: TrainSpec, run_dir: Path, resume: bool = False, progress: bool = True) -> TrainResult:
    """Train (or continue) a PPO run in ``run_dir`` until ``spec.timesteps`` env steps."""
    from agenticrs.policies import rllib_multi

    if rllib_multi.is_multi_agent(spec.env_id):  # one module per agent (or shared): its own adapter
        return rllib_multi.train(spec, run_dir, resume=resume, progress=progress)
    return PPORun(spec).train(run_dir, resume, progress)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Inside, SIGTERM raises ``KeyboardInterrupt`` like Ctrl-C (so a killed run checkpoints
    and exits in seconds); outside, the previous handler. A no-op off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class PPORun:
    """One RLlib PPO run as a template: Ray start/join, build, restore, the ``algo.train()`` loop
    with TensorBoard scalars, a checkpoint every ``checkpoint_every`` steps, at the end and on
    Ctrl-C/SIGTERM, then Ray and the algorithm shut down.

    This class is the single-agent run; a subclass overrides the hooks for what differs
    (:class:`agenticrs.policies.rllib_multi.MultiAgentPPORun`): :meth:`build_config`,
    :meth:`hparam_metrics`, :meth:`on_restore`, :meth:`iteration_metrics`,
    :meth:`checkpoint_meta` and the display attributes below.
    """

    label = "rllib"
    """Start of the stderr line saying where the run goes."""
    announce_cluster = True
    """Say where the run goes even without ``progress`` when ``spec.ray_address`` names a cluster."""
    unit, desc = "step", "rllib ppo"
    """Progress bar unit and description."""
    postfix = ("regret", "env/regret")
    """Progress bar postfix: ``(name, metric)``."""

    def __init__(self, spec: TrainSpec):
        self.spec = spec

    # ------------------------------------------------------------------ hooks
    def build_config(self) -> PPOConfig:
        return build_config(self.spec)

    def hparam_metrics(self) -> dict[str, float] | None:
        """Metrics the TensorBoard hparams summary is linked to (None: the logger's default)."""
        return None

    def on_restore(self, algo: Any, meta: dict[str, Any]) -> None:
        """After ``algo`` restored the checkpoint of ``meta`` (state kept beside the weights)."""

    def iteration_metrics(self, algo: Any, result: dict[str, Any], sampled: int, dt: float) -> dict[str, float]:
        """Scalars of one iteration that sampled ``sampled`` env steps in ``dt`` seconds."""
        return _scalars(result, sampled / dt)

    def checkpoint_meta(self, algo: Any) -> dict[str, Any]:
        """Entries of the checkpoint's ``agenticrs.json`` beyond the common ones."""
        return {"obs_mode": env_config(self.spec).get("obs_mode", "flat")}

    # ------------------------------------------------------------------ template
    def train(self, run_dir: Path, resume: bool = False, progress: bool = True) -> TrainResult:
        """Train (or continue) in ``run_dir`` until ``spec.timesteps`` env steps."""
        import ray

        from agenticrs.policies.ray_util import check_cluster_has_agenticrs, describe_ray

        spec = self.spec
        threads = use_policy_threads(spec.threads)  # the local learner (and runner) live in this process
        started = init_ray(spec.ray_address, num_cpus=max(2, (spec.num_env_runners + 1) * threads))
        if spec.ray_address and spec.num_env_runners:
            check_cluster_has_agenticrs()  # remote env runners build our envs: fail in one line, not in a runner
        if progress or (self.announce_cluster and spec.ray_address):  # where the run goes
            print(f"{self.label}: {describe_ray(spec.ray_address)}; {spec.num_env_runners} env runners x "
                  f"{spec.num_envs_per_env_runner} envs, {threads} torch thread(s) each", file=sys.stderr, flush=True)
        logger = RunLogger(run_dir)
        algo = None
        try:
            algo = self.build_config().build_algo()
            steps = 0
            if resume:
                meta = read_meta(run_dir)
                algo.restore_from_path(str(Path(meta["_path"]) / ALGO_DIR))
                steps = int(meta["timesteps"])
                self.on_restore(algo, meta)
            else:
                logger.hparams(spec, self.hparam_metrics())
            return self._loop(algo, run_dir, logger, steps, progress)
        finally:
            logger.close()
            if algo is not None:
                algo.stop()
            if started:
                ray.shutdown()

    def _loop(self, algo: Any, run_dir: Path, logger: RunLogger, steps: int, progress: bool) -> TrainResult:
        from tqdm.auto import tqdm

        spec = self.spec

        def checkpoint() -> Path:
            meta = {"framework": "rllib", "algo": spec.algo, "env_id": spec.env_id, "env_kwargs": spec.env_kwargs,
                    "timesteps": steps, "seed": spec.seed, **self.checkpoint_meta(algo)}
            return write_checkpoint(run_dir, lambda folder: algo.save_to_path(str(folder / ALGO_DIR)), meta)

        bar = tqdm(total=spec.timesteps, initial=steps, unit=self.unit, desc=self.desc, disable=not progress)
        start, last_ckpt, metrics = time.perf_counter(), steps, {}
        ckpt = run_dir / "checkpoint"
        name, key = self.postfix
        try:
            with sigterm_as_interrupt():
                while steps < spec.timesteps:
                    t0 = time.perf_counter()
                    result = algo.train()
                    dt = time.perf_counter() - t0
                    sampled = int(result.get("env_runners", {}).get("num_env_steps_sampled", 0)) or 1
                    steps += sampled
                    metrics = self.iteration_metrics(algo, result, sampled, dt)
                    logger.scalars(metrics, steps)
                    bar.update(sampled)
                    bar.set_postfix({name: f"{metrics.get(key, float('nan')):.3f}"})
                    if steps - last_ckpt >= spec.checkpoint_every or steps >= spec.timesteps:
                        ckpt, last_ckpt = checkpoint(), steps
        except KeyboardInterrupt:
            ckpt = checkpoint()  # weights change only inside a learner update: the state is consistent
            bar.close()
            raise
        bar.close()
        if not ckpt.exists():
            ckpt = checkpoint()
        return TrainResult(run_dir, ckpt, steps, time.perf_counter() - start, False, metrics)


# ---------------------------------------------------------------------- inference
class RLlibPolicy(Policy):
    """A checkpoint's RLModule as an evolution policy (forward_inference on the CPU, no Ray).

    Args:
        module: the trained RLModule.
        deterministic: take each dimension's most likely choice instead of sampling.
    """

    name = "ppo"

    def __init__(self, module: RLModule, obs_mode: str = "dict", deterministic: bool = False):
        self.module = module
        self.obs_mode = obs_mode
        self.deterministic = deterministic
        space = module.action_space
        self.nvec = [int(n) for n in np.atleast_1d(space.nvec if hasattr(space, "nvec") else space.n)]
        self.rng = np.random.default_rng(0)

    @classmethod
    def load(cls, checkpoint: str | Path, deterministic: bool = False) -> Any:
        """The checkpoint's policy (a multi-agent run's: :class:`~agenticrs.policies.rllib_multi.MultiAgentRLlibPolicy`)."""
        meta = read_meta(checkpoint)
        if meta.get("multi_agent"):
            from agenticrs.policies.rllib_multi import MultiAgentRLlibPolicy

            return MultiAgentRLlibPolicy.load(checkpoint, deterministic)
        use_policy_threads()
        path = Path(meta["_path"]) / ALGO_DIR / COMPONENT_LEARNER_GROUP / COMPONENT_LEARNER / COMPONENT_RL_MODULE
        module = RLModule.from_checkpoint(str(path / DEFAULT_MODULE_ID))
        module.eval()
        return cls(module, meta.get("obs_mode", "dict"), deterministic)

    def begin(self, env: gym.Env, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, obs: Any) -> np.ndarray:
        if isinstance(obs, dict) and not isinstance(self.module.observation_space, gym.spaces.Dict):
            obs = np.concatenate((obs["observations"], obs["action_mask"]))  # the flat layout of training
        if isinstance(obs, dict):
            batch_obs: Any = {k: torch.as_tensor(np.asarray(v, dtype=np.float32))[None] for k, v in obs.items()}
        else:
            batch_obs = torch.as_tensor(np.asarray(obs, dtype=np.float32))[None]
        with torch.no_grad():
            logits = self.module.forward_inference({Columns.OBS: batch_obs})[Columns.ACTION_DIST_INPUTS][0]
        out = []
        for part in torch.split(logits, self.nvec):
            if self.deterministic:
                out.append(int(torch.argmax(part)))
            else:
                p = torch.softmax(part.double(), dim=0).numpy()
                out.append(int(self.rng.choice(len(p), p=p / p.sum())))
        return np.asarray(out, dtype=np.int64)
