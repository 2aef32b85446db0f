"""The one module that touches Stable-Baselines3 and sb3-contrib: PPO and MaskablePPO.

* :func:`train` runs ``model.learn`` in chunks of ``spec.checkpoint_every`` steps, saving
  ``checkpoint/`` after each (and on Ctrl-C), logging to TensorBoard through SB3's own
  logger (``rollout/``, ``train/``, ``time/``) plus ``env/`` metrics and hparams.
* :class:`SB3Policy` wraps a saved model as a benchmark :class:`~agenticrs.policies.base.Policy`.

``maskable_ppo`` uses the env's ``action_masks()`` (a flat union mask, see AutoTrainEnv);
``ppo`` relies on the env canonicalising choices a family ignores.

Training and acting use one torch thread by default (``TrainSpec.threads``,
``$AGENTICRS_TORCH_THREADS``), see :func:`agenticrs.policies.training.policy_threads`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from agenticrs.policies.base import Policy
from agenticrs.policies.training import TrainResult, TrainSpec, read_meta, use_policy_threads, write_checkpoint
from agenticrs.policies.wrappers import INFO_KEY, EvolutionMetrics

DEFAULTS: dict[str, Any] = {
    "learning_rate": 3e-4, "n_steps": 256, "batch_size": 64, "n_epochs": 4, "gamma": 0.99,
    "gae_lambda": 0.95, "ent_coef": 0.01, "net_arch": [64, 64],
}
"""PPO hyperparameters (``TrainSpec.hparams`` overrides them); ``n_steps`` is per env."""

MODEL_FILE = "model.zip"


def _algo_class(algo: str) -> Any:
    if algo == "maskable_ppo":
        from sb3_contrib import MaskablePPO

        return MaskablePPO
    if algo == "ppo":
        from stable_baselines3 import PPO

        return PPO
    raise ValueError(f"unknown SB3 algo {algo!r}; choose ppo or maskable_ppo")


def _is_evolution_env(env_id: str) -> bool:
    """Whether the id's env takes ``obs_mode`` (our TrialEnv family, or a kwarg of its registration)."""
    import agenticrs  # noqa: F401  (registers the env ids)

    spec = gym.spec(env_id)
    entry = spec.entry_point if isinstance(spec.entry_point, str) else getattr(spec.entry_point, "__module__", "")
    return "obs_mode" in spec.kwargs or str(entry).startswith("agenticrs.")


def make_vec_env(spec: TrainSpec) -> Any:
    """``DummyVecEnv`` of ``num_envs_per_env_runner`` metric-wrapped, monitored envs, flat observations."""
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    kwargs = dict(spec.env_kwargs)
    if _is_evolution_env(spec.env_id):
        kwargs["obs_mode"] = "flat"

    def make() -> gym.Env:
        import agenticrs  # noqa: F401  (registers the env ids)

        return Monitor(EvolutionMetrics(gym.make(spec.env_id, **kwargs)))  # Monitor: rollout/ep_rew_mean

    venv = DummyVecEnv([make] * spec.num_envs_per_env_runner)
    venv.seed(spec.seed)
    return venv


def _make_callback(spec: TrainSpec, total: int, progress: bool) -> Any:
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.logger import HParam

    class EvolutionCallback(BaseCallback):
        """Records ``env/*`` episode metrics and the hparams; drives a tqdm bar."""

        def __init__(self) -> None:
            super().__init__()
            self.episodes: list[dict[str, float]] = []
            self.bar: Any = None

        def _on_training_start(self) -> None:
            if progress and self.bar is None:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, initial=self.num_timesteps, unit="step", desc=f"sb3 {spec.algo}")
            hp = {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in spec.hparams.items()}
            hp.update(algo=spec.algo, seed=spec.seed, timesteps=spec.timesteps, env_id=spec.env_id)
            self.logger.record("hparams", HParam(hp, {"env/regret": 1.0, "rollout/ep_rew_mean": 0.0}),
                               exclude=("stdout", "log", "json", "csv"))

        def _on_step(self) -> bool:
            for info, done in zip(self.locals["infos"], self.locals["dones"]):
                if done and INFO_KEY in info:
                    self.episodes.append(info[INFO_KEY])
            if self.bar is not None:
                self.bar.update(self.num_timesteps - self.bar.n)
            return True

        def _on_rollout_end(self) -> None:
            if self.episodes:
                for key, name in (("best", "env/best_ndcg"), ("regret", "env/regret"), ("trial_cost", "env/trial_cost")):
                    self.logger.record(name, float(np.mean([e[key] for e in self.episodes])))
                self.last = {f"env/{k}": float(np.mean([e[k] for e in self.episodes])) for k in ("regret", "best")}
                self.episodes = []

        def _on_training_end(self) -> None:
            if self.bar is not None:
                self.bar.update(self.num_timesteps - self.bar.n)

        def close(self) -> None:
            if self.bar is not None:
                self.bar.close()

    return EvolutionCallback()


def train(spec: TrainSpec, run_dir: Path, resume: bool = False, progress: bool = True) -> TrainResult:
    """Train (or continue) an SB3 run in ``run_dir`` until ``spec.timesteps`` env steps."""
    from stable_baselines3.common.logger import configure

    use_policy_threads(spec.threads)  # one torch thread by default: the nets are tiny
    cls = _algo_class(spec.algo)
    hp = {**DEFAULTS, **spec.hparams}
    venv = make_vec_env(spec)
    if resume:
        meta = read_meta(run_dir)
        model = cls.load(Path(meta["_path"]) / MODEL_FILE, env=venv, device="cpu")
    else:
        net_arch = hp.pop("net_arch")
        model = cls("MlpPolicy", venv, seed=spec.seed, device="cpu", verbose=0,
                    policy_kwargs={"net_arch": list(net_arch)}, **hp)
    # SB3 writes rollout/, train/, time/ to the run folder itself (not a PPO_1 sub-folder).
    model.set_logger(configure(str(run_dir), ["tensorboard"]))
    callback = _make_callback(spec, spec.timesteps, progress)  # logs env/ and hparams through SB3's logger

    def save(folder: Path) -> None:
        model.save(folder / MODEL_FILE)

    def checkpoint() -> Path:
        meta = {"framework": "sb3", "algo": spec.algo, "env_id": spec.env_id, "env_kwargs": spec.env_kwargs,
                "timesteps": int(model.num_timesteps), "seed": spec.seed, "obs_mode": "flat"}
        return write_checkpoint(run_dir, save, meta)

    start = time.perf_counter()
    interrupted = False
    ckpt = run_dir / "checkpoint"
    try:
        while model.num_timesteps < spec.timesteps:
            chunk = min(spec.checkpoint_every, spec.timesteps - model.num_timesteps)
            model.learn(chunk, callback=callback, reset_num_timesteps=False, progress_bar=False)
            ckpt = checkpoint()
    except KeyboardInterrupt:
        interrupted = True
        ckpt = checkpoint()  # parameters change only inside train(): the model is consistent
        raise
    finally:
        callback.close()
        venv.close()
    return TrainResult(run_dir, ckpt, int(model.num_timesteps), time.perf_counter() - start, interrupted,
                       getattr(callback, "last", {}))


class SB3Policy(Policy):
    """A saved SB3 model as an evolution policy (flat observations).

    Args:
        model: a PPO / MaskablePPO instance.
        deterministic: take the mode of each action dimension instead of sampling.
    """

    name = "ppo"
    obs_mode = "flat"

    def __init__(self, model: Any, deterministic: bool = False, masked: bool = False):
        self.model = model
        self.deterministic = deterministic
        self.masked = masked
        self._env: gym.Env | None = None

    @classmethod
    def load(cls, checkpoint: str | Path, deterministic: bool = False) -> "SB3Policy":
        meta = read_meta(checkpoint)
        use_policy_threads()
        model = _algo_class(meta["algo"]).load(Path(meta["_path"]) / MODEL_FILE, device="cpu")
        return cls(model, deterministic, masked=meta["algo"] == "maskable_ppo")

    def begin(self, env: gym.Env, seed: int) -> None:
        import torch

        self._env = env
        self.model.set_random_seed(seed)
        torch.manual_seed(seed)  # sampling in predict() uses torch's global generator

    def act(self, obs: Any) -> np.ndarray:
        if self.masked and self._env is not None:
            mask = self._env.unwrapped.action_masks()
            action, _ = self.model.predict(obs, deterministic=self.deterministic, action_masks=mask)
        else:
            action, _ = self.model.predict(obs, deterministic=self.deterministic)
        return np.asarray(action, dtype=np.int64)
