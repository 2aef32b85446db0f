"""What RLlib and SB3 training share: the run spec, run directories, checkpoints, TensorBoard.

Layout of a run (``agenticrs train --logdir DIR``)::

    DIR/{env}__{algo}__{seed}__{time}/     TensorBoard event files (hparams, env/, rollout/, train/, time/)
        run.json                           the TrainSpec (what --resume continues)
        checkpoint/                        the latest checkpoint (agenticrs.json + framework files)

A checkpoint is written to a temporary folder and swapped in with renames, so an
interruption at any moment leaves a loadable ``checkpoint/`` (or ``.checkpoint.old/``,
which :func:`find_checkpoint` falls back to).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from agenticrs.io import write_json_atomic

META_FILE = "agenticrs.json"
"""Checkpoint metadata: framework, algo, env id and kwargs, timesteps done."""

THREADS_ENV = "AGENTICRS_TORCH_THREADS"
"""Overrides the default of one torch thread per policy process (``0``: torch's own default, one per core)."""

FRAMEWORKS = ("rllib", "sb3")
ALGOS = {"rllib": ("ppo",), "sb3": ("ppo", "maskable_ppo")}


@dataclass
class TrainSpec:
    """Everything a training run needs; saved as ``run.json`` so ``--resume`` continues it.

    Attributes:
        env_id: registered env id (``agenticrs/AutoTrain-v0``).
        env_kwargs: ``gym.make`` kwargs (backend, suite, split, max_trials...).
        framework: ``rllib`` or ``sb3``.
        algo: ``ppo`` (RLlib: with the action-masking module; SB3: plain PPO) or
            ``maskable_ppo`` (SB3 only, sb3-contrib).
        timesteps: total env steps to train for.
        seed: seeds the framework, the env draws and the network initialisation.
        hparams: algorithm hyperparameters (see each adapter's ``DEFAULTS``).
        checkpoint_every: env steps between checkpoints.
        num_env_runners / num_envs_per_env_runner: RLlib sampling layout (SB3: ``n_envs`` =
            ``num_envs_per_env_runner``).
        ray_address: RLlib only: an existing cluster (``auto`` or ``host:port``); ``None`` starts
            a local Ray instance.
        threads: torch threads per process (the trainer, each RLlib env runner and learner, which
            also reserve that many Ray CPUs); ``None``: ``$AGENTICRS_TORCH_THREADS``, else 1. The
            policy networks are tiny: more threads only add synchronisation, and on a loaded
            machine torch's default (one per core in every process) oversubscribes the cores.
    """

    env_id: str = "agenticrs/AutoTrain-v0"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    framework: str = "rllib"
    algo: str = "ppo"
    timesteps: int = 20_000
    seed: int = 0
    hparams: dict[str, Any] = field(default_factory=dict)
    checkpoint_every: int = 5_000
    num_env_runners: int = 0
    num_envs_per_env_runner: int = 1
    ray_address: str | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.framework not in FRAMEWORKS:
            raise ValueError(f"framework must be one of {FRAMEWORKS}, got {self.framework!r}")
        if self.algo not in ALGOS[self.framework]:
            raise ValueError(f"algo {self.algo!r} is not available with {self.framework}; "
                             f"choose from {ALGOS[self.framework]}")
        if self.timesteps < 1 or self.checkpoint_every < 1:
            raise ValueError(f"timesteps ({self.timesteps}) and checkpoint_every ({self.checkpoint_every}) must be >= 1")
        if self.num_env_runners < 0 or self.num_envs_per_env_runner < 1:
            raise ValueError("num_env_runners must be >= 0 and num_envs_per_env_runner >= 1")
        if self.threads is not None and self.threads < 0:
            raise ValueError(f"threads must be >= 0 (0: torch's default), got {self.threads}")
        for name, value in (("env_kwargs", self.env_kwargs), ("hparams", self.hparams)):
            try:
                json.dumps(value)
            except TypeError as e:
                # run.json must rebuild the run (--resume, evaluate, remote env runners).
                raise ValueError(f"TrainSpec.{name} must be JSON-able ({e}); for a backend pass "
                                 f"backend='table', backend_kwargs={{'table': PATH}} instead of an object") from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainSpec":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown TrainSpec fields {sorted(unknown)}")
        return cls(**dict(d))


def policy_threads(requested: int | None = None) -> int:
    """Torch threads for a policy process: ``requested``, else ``$AGENTICRS_TORCH_THREADS``, else 1.

    ``0`` means "leave torch's default alone" (one thread per core).

    Raises:
        ValueError: ``$AGENTICRS_TORCH_THREADS`` is not a non-negative integer (named).
    """
    if requested is not None:
        return int(requested)
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return 1
    if not raw.isdigit():
        raise ValueError(f"${THREADS_ENV} must be a non-negative integer (0: torch's default), got {raw!r}")
    return int(raw)


def use_policy_threads(requested: int | None = None) -> int:
    """Set this process's torch threads to :func:`policy_threads` (unless 0); returns the count used."""
    import torch

    n = policy_threads(requested)
    if n > 0 and torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n or torch.get_num_threads()


def run_name(spec: TrainSpec, now: float | None = None) -> str:
    """``{env}__{algo}__{seed}__{time}``, the env id's ``/`` replaced (a folder name)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return f"{spec.env_id.replace('/', '-')}__{spec.framework}-{spec.algo}__{spec.seed}__{stamp}"


@dataclass
class TrainResult:
    """What a training run leaves behind."""

    run_dir: Path
    checkpoint: Path
    timesteps: int
    seconds: float
    interrupted: bool = False
    metrics: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------------- checkpoints
def write_checkpoint(run_dir: Path, save: Callable[[Path], None], meta: Mapping[str, Any]) -> Path:
    """Save into ``run_dir/checkpoint`` through a temporary folder and renames (never torn)."""
    run_dir = Path(run_dir).absolute()  # RLlib's save_to_path goes through pyarrow, which refuses relative paths
    final, tmp, old = run_dir / "checkpoint", run_dir / ".checkpoint.tmp", run_dir / ".checkpoint.old"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save(tmp)
    write_json_atomic(tmp / META_FILE, dict(meta))
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def find_checkpoint(path: str | Path) -> Path:
    """The checkpoint folder of a run folder or of itself (the one holding ``agenticrs.json``).

    Raises:
        FileNotFoundError: naming the path, when no checkpoint is there.
    """
    p = Path(path).absolute()  # RLlib loads through pyarrow, which refuses relative paths
    for cand in (p, p / "checkpoint", p / ".checkpoint.old"):
        if (cand / META_FILE).is_file():
            return cand
    raise FileNotFoundError(f"no agenticrs checkpoint at {p} (expected {p / 'checkpoint' / META_FILE}); "
                            f"pass a run folder written by `agenticrs train` or its checkpoint/ folder")


def read_meta(checkpoint: str | Path) -> dict[str, Any]:
    ckpt = find_checkpoint(checkpoint)
    meta = json.loads((ckpt / META_FILE).read_text())
    meta["_path"] = str(ckpt)
    return meta


# ---------------------------------------------------------------------- TensorBoard
class RunLogger:
    """TensorBoard writer for the run folder: scalars by namespace and hparams (SB3/CleanRL style)."""

    def __init__(self, run_dir: Path):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(run_dir))

    def hparams(self, spec: TrainSpec, metrics: Mapping[str, float] | None = None) -> None:
        flat: dict[str, Any] = {
            "env_id": spec.env_id, "framework": spec.framework, "algo": spec.algo, "seed": spec.seed,
            "timesteps": spec.timesteps, "num_env_runners": spec.num_env_runners,
            "num_envs_per_env_runner": spec.num_envs_per_env_runner, "threads": policy_threads(spec.threads),
            **{f"env.{k}": _scalar(v) for k, v in spec.env_kwargs.items()},
            **{f"algo.{k}": _scalar(v) for k, v in spec.hparams.items()},
        }
        self.writer.add_text("hparams", "\n".join(f"| {k} | {v} |" for k, v in flat.items()))
        # run_name=".": the hparams summary lands in this run's folder, not a sub-folder.
        self.writer.add_hparams(flat, dict(metrics or {"env/regret": 1.0}), run_name=".")

    def scalars(self, values: Mapping[str, float], step: int) -> None:
        for k, v in values.items():
            if v is not None and v == v:
                self.writer.add_scalar(k, float(v), step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def _scalar(v: Any) -> Any:
    return v if isinstance(v, (int, float, str, bool)) else json.dumps(v, default=str)


def train(spec: TrainSpec, logdir: str | Path = "runs", resume: str | Path | None = None,
          progress: bool = True) -> TrainResult:
    """Train ``spec`` (or continue the run in ``resume``) with its framework's adapter.

    ``resume`` is a run folder: its ``run.json`` spec is used, with ``spec.timesteps`` as the
    new total. Ctrl-C saves a checkpoint before the ``KeyboardInterrupt`` propagates.
    """
    if resume is not None:
        run_dir = Path(resume)
        saved = run_dir / "run.json"
        if not saved.is_file():
            raise FileNotFoundError(f"--resume {run_dir}: no run.json there; pass a run folder of `agenticrs train`")
        old = TrainSpec.from_dict(json.loads(saved.read_text()))
        spec = dataclasses.replace(old, timesteps=max(spec.timesteps, old.timesteps))
        find_checkpoint(run_dir)
    else:
        run_dir = Path(logdir) / run_name(spec)
        run_dir.mkdir(parents=True, exist_ok=False)
    write_json_atomic(run_dir / "run.json", spec.to_dict())
    if spec.framework == "rllib":
        from agenticrs.policies import rllib_adapter as adapter
    else:
        from agenticrs.policies import sb3_adapter as adapter  # type: ignore[no-redef]
    return adapter.train(spec, run_dir, resume=resume is not None, progress=progress)


def load_policy(checkpoint: str | Path, deterministic: bool = False) -> Any:
    """A :class:`~agenticrs.policies.base.Policy` from a checkpoint (either framework)."""
    meta = read_meta(checkpoint)
    if meta["framework"] == "rllib":
        from agenticrs.policies.rllib_adapter import RLlibPolicy

        return RLlibPolicy.load(meta["_path"], deterministic=deterministic)
    if meta["framework"] == "sb3":
        from agenticrs.policies.sb3_adapter import SB3Policy

        return SB3Policy.load(meta["_path"], deterministic=deterministic)
    raise ValueError(f"{meta['_path']}: unknown framework {meta['framework']!r} in {META_FILE}")
