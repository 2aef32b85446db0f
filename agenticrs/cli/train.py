"""``agenticrs train``: train an evolution policy (RLlib or SB3 PPO) on a registered env.

The env gets the kwargs it was registered with, overridden only by what the user gives
(``--env-kwargs JSON``, then ``--backend``/``--suite``/``--table``/``--max-trials``), see
:mod:`agenticrs.cli.env_args`. A framework is one entry of :data:`FRAMEWORKS` (how it rounds
the step budget, whether it needs Ray); an env kind needs nothing here beyond its registration.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from agenticrs.cli.env_args import add_env_arguments, describe_kwargs, env_overrides, knowledge_run, make_env
from agenticrs.cli.envs import check_env_id
from agenticrs.cli.errors import CLIError, check_at_least, json_object


@dataclass(frozen=True)
class Framework:
    """What the CLI needs to know about a training framework.

    Attributes:
        rollout: ``spec -> (env steps per update, what sets it)``; budgets round up to whole updates.
        knob: the ``--hparams`` key that sets the rollout size (named in the rounding note).
        chunked: each checkpoint chunk (``--checkpoint-every``) is rounded up on its own (SB3 ``learn``).
        exact: the framework samples exactly whole rollouts (else the note says "about").
        ray: whether training runs on Ray (the CLI starts it quietly, see ``policies.ray_util``).
    """

    rollout: Callable[[Any], tuple[int, str]]
    knob: str
    chunked: bool = False
    exact: bool = True
    ray: bool = False


def _sb3_rollout(spec: Any) -> tuple[int, str]:
    from agenticrs.policies.sb3_adapter import DEFAULTS

    n_steps = int({**DEFAULTS, **spec.hparams}["n_steps"])
    return n_steps * spec.num_envs_per_env_runner, f"n_steps {n_steps} x {spec.num_envs_per_env_runner} envs"


def _rllib_rollout(spec: Any) -> tuple[int, str]:
    from agenticrs.policies.rllib_adapter import DEFAULTS
    from agenticrs.policies.rllib_multi import MA_DEFAULTS, is_multi_agent

    defaults = MA_DEFAULTS if is_multi_agent(spec.env_id) else DEFAULTS
    batch = int({**defaults, **spec.hparams}["train_batch_size_per_learner"])
    return batch, f"train_batch_size_per_learner {batch}"


FRAMEWORKS: dict[str, Framework] = {
    "rllib": Framework(_rllib_rollout, "train_batch_size_per_learner", exact=False, ray=True),
    "sb3": Framework(_sb3_rollout, "n_steps", chunked=True),
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a PPO evolution policy (RLlib or SB3) with TensorBoard logs and checkpoints")
    add_env_arguments(p)
    p.add_argument("--algo", default="ppo", choices=("ppo", "maskable_ppo"),
                   help="ppo (RLlib: with action masking) or maskable_ppo (SB3 only)")
    p.add_argument("--framework", default="rllib", choices=tuple(FRAMEWORKS))
    p.add_argument("--timesteps", type=int, default=20_000,
                   help="total env steps (trials); rounded up to whole rollouts (said when it is)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--logdir", default="runs", help="runs go to LOGDIR/{env}__{algo}__{seed}__{time}/")
    p.add_argument("--resume", default=None, metavar="DIR", help="continue the run in DIR up to --timesteps")
    p.add_argument("--checkpoint-every", type=int, default=5_000, help="env steps between checkpoints")
    p.add_argument("--num-env-runners", type=int, default=0, help="RLlib remote env runners (0: sample locally)")
    p.add_argument("--num-envs-per-env-runner", type=int, default=1, help="vectorised envs per runner (SB3: n_envs)")
    p.add_argument("--ray-address", default=None, help="RLlib: an existing Ray cluster ('auto' or host:port)")
    p.add_argument("--hparams", default="{}", help='JSON overrides of the algorithm defaults, e.g. \'{"lr": 1e-3}\'')
    p.add_argument("--knowledge", default=None, metavar="PATH",
                   help="record every trial and decision of training in this KnowledgeStore (SQLite; created)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def build_spec(args: argparse.Namespace) -> Any:
    """The :class:`~agenticrs.policies.training.TrainSpec` of the flags (not used with ``--resume``).

    Raises:
        CLIError: unknown env id, a budget < 1, bad JSON, an algo the framework lacks.
    """
    from agenticrs.policies.training import TrainSpec

    check_env_id(args.env)
    hparams = json_object("--hparams", args.hparams)
    env_kwargs = {"split": "train", **env_overrides(args)}  # training uses the suite's train tasks
    try:
        return TrainSpec(env_id=args.env, env_kwargs=env_kwargs, framework=args.framework, algo=args.algo,
                         timesteps=args.timesteps, seed=args.seed, hparams=hparams,
                         checkpoint_every=args.checkpoint_every, num_env_runners=args.num_env_runners,
                         num_envs_per_env_runner=args.num_envs_per_env_runner, ray_address=args.ray_address)
    except ValueError as e:
        raise CLIError(str(e)) from None


def planned_steps(spec: Any, done: int = 0) -> tuple[int, int, str]:
    """``(env steps the run will end at, steps per update, what sets it)`` for ``spec.timesteps``.

    SB3 learns in chunks of ``checkpoint_every`` steps, each rounded up to whole rollouts;
    RLlib samples one ``train_batch_size_per_learner`` batch per iteration.
    """
    fw = FRAMEWORKS[spec.framework]
    rollout, why = fw.rollout(spec)
    n = done
    while n < spec.timesteps:
        chunk = min(spec.checkpoint_every, spec.timesteps - n) if fw.chunked else spec.timesteps - n
        n += math.ceil(chunk / rollout) * rollout
    return n, rollout, why


def _say_rounding(spec: Any, done: int) -> None:
    planned, rollout, why = planned_steps(spec, done)
    if planned != spec.timesteps:
        fw = FRAMEWORKS[spec.framework]
        print(f"note: --timesteps {spec.timesteps} becomes {'' if fw.exact else 'about '}{planned} env steps: "
              f"{spec.framework} PPO updates on whole rollouts of {rollout} steps ({why}); a smaller {fw.knob} "
              f"in --hparams gives a finer budget", file=sys.stderr, flush=True)


def _resumed(args: argparse.Namespace) -> tuple[Any, int]:
    """``(spec of the run in --resume with the new --timesteps, env steps already done)``."""
    import dataclasses
    import json

    from agenticrs.policies.training import TrainSpec, read_meta

    saved = Path(args.resume) / "run.json"
    if not saved.is_file():
        raise CLIError(f"--resume {args.resume}: no run.json there; pass a run folder of `agenticrs train`")
    old = TrainSpec.from_dict(json.loads(saved.read_text()))
    try:
        done = int(read_meta(args.resume)["timesteps"])
    except FileNotFoundError as e:
        raise CLIError(str(e)) from None
    return dataclasses.replace(old, timesteps=max(args.timesteps, old.timesteps)), done


def _train(spec: Any, args: argparse.Namespace) -> Any:
    """Start Ray quietly if the framework needs it, train, stop what this call started."""
    from agenticrs.policies.training import train

    started_ray = False
    if FRAMEWORKS[spec.framework].ray:
        from agenticrs.policies.ray_util import RayStartError, init_ray

        try:  # started here, quietly; the adapter finds it running and reuses it
            started_ray = init_ray(spec.ray_address, num_cpus=max(2, spec.num_env_runners + 1))
        except RayStartError as e:
            raise CLIError(str(e)) from None
    try:
        return train(spec, args.logdir, resume=args.resume, progress=not args.no_progress)
    except KeyboardInterrupt:
        print("interrupted: the last checkpoint is usable; continue with --resume <run folder>", file=sys.stderr)
        raise
    finally:
        if started_ray:
            import ray

            ray.shutdown()


def run(args: argparse.Namespace) -> int:
    import dataclasses

    check_at_least("--timesteps", args.timesteps)
    check_at_least("--checkpoint-every", args.checkpoint_every)
    check_at_least("--num-envs-per-env-runner", args.num_envs_per_env_runner)
    check_at_least("--num-env-runners", args.num_env_runners, 0)
    if args.resume:  # the run's own spec (and its knowledge store, if it had one) continues
        spec, done = _resumed(args)
        knowledge = None
    else:
        spec, done, knowledge = build_spec(args), 0, args.knowledge
        print(f"training {spec.framework} {spec.algo} on {spec.env_id} ({describe_kwargs(spec.env_id, spec.env_kwargs)})",
              file=sys.stderr, flush=True)
        # Build it once here: a bad suite, backend or keyword is one line now, not a traceback after Ray starts.
        make_env(spec.env_id, spec.env_kwargs).close()
    _say_rounding(spec, done)
    meta = {"env_id": spec.env_id, "framework": spec.framework, "algo": spec.algo, "seed": spec.seed,
            "timesteps": spec.timesteps, "env_kwargs": spec.env_kwargs}
    with knowledge_run(knowledge, "train", meta) as recorded:
        spec = dataclasses.replace(spec, env_kwargs={**spec.env_kwargs, **recorded.env_kwargs()})
        result = _train(spec, args)
        recorded.summary.update(run_dir=str(result.run_dir), timesteps_done=result.timesteps,
                                final_regret=result.metrics.get("env/regret"))
    final = "env/regret" if "env/regret" in result.metrics or "env/outer_mean" not in result.metrics else "env/outer_mean"
    print(f"trained {result.timesteps} steps in {result.seconds:.1f} s; "
          f"final {final} {result.metrics.get(final, float('nan')):.4f}")
    print(f"run folder:  {result.run_dir}")
    print(f"checkpoint:  {result.checkpoint}")
    print(f"TensorBoard: tensorboard --logdir {args.logdir}")
    if recorded.run_id is not None:
        print(f"knowledge:   {knowledge} (run {recorded.run_id}; agenticrs knowledge show --db {knowledge})")
    return 0
