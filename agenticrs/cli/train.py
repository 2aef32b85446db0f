"""``agenticrs train``: train an evolution policy (RLlib or SB3 PPO) on a registered env."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a PPO evolution policy (RLlib or SB3) with TensorBoard logs and checkpoints")
    p.add_argument("--env", default="agenticrs/AutoTrain-v0", help="registered env id")
    p.add_argument("--backend", default="table", help="table | surrogate | live (env backend)")
    p.add_argument("--table", default=None, help="table file for the table/surrogate backend (default: shipped)")
    p.add_argument("--suite", default="synthetic", help="task suite; training uses its train tasks")
    p.add_argument("--algo", default="ppo", choices=("ppo", "maskable_ppo"),
                   help="ppo (RLlib: with action masking) or maskable_ppo (SB3 only)")
    p.add_argument("--framework", default="rllib", choices=("rllib", "sb3"))
    p.add_argument("--timesteps", type=int, default=20_000, help="total env steps (trials)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--logdir", default="runs", help="runs go to LOGDIR/{env}__{algo}__{seed}__{time}/")
    p.add_argument("--resume", default=None, metavar="DIR", help="continue the run in DIR up to --timesteps")
    p.add_argument("--checkpoint-every", type=int, default=5_000, help="env steps between checkpoints")
    p.add_argument("--num-env-runners", type=int, default=0, help="RLlib remote env runners (0: sample locally)")
    p.add_argument("--num-envs-per-env-runner", type=int, default=1, help="vectorised envs per runner (SB3: n_envs)")
    p.add_argument("--ray-address", default=None, help="RLlib: an existing Ray cluster ('auto' or host:port)")
    p.add_argument("--max-trials", type=int, default=None, help="override the tasks' trial budget per episode")
    p.add_argument("--hparams", default="{}", help='JSON overrides of the algorithm defaults, e.g. \'{"lr": 1e-3}\'')
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def env_kwargs_from_args(args: argparse.Namespace) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"backend": args.backend, "suite": args.suite, "split": "train"}
    if args.table:
        kwargs["backend_kwargs"] = {"table": args.table}
    if getattr(args, "max_trials", None):
        kwargs["max_trials"] = args.max_trials
    return kwargs


def run(args: argparse.Namespace) -> int:
    from agenticrs.policies.training import TrainSpec, train

    try:
        hparams = json.loads(args.hparams)
    except json.JSONDecodeError as e:
        raise SystemExit(f"--hparams is not valid JSON: {e}") from None
    spec = TrainSpec(env_id=args.env, env_kwargs=env_kwargs_from_args(args), framework=args.framework,
                     algo=args.algo, timesteps=args.timesteps, seed=args.seed, hparams=hparams,
                     checkpoint_every=args.checkpoint_every, num_env_runners=args.num_env_runners,
                     num_envs_per_env_runner=args.num_envs_per_env_runner, ray_address=args.ray_address)
    try:
        result = train(spec, args.logdir, resume=args.resume, progress=not args.no_progress)
    except KeyboardInterrupt:
        print("interrupted: the last checkpoint is usable; continue with --resume <run folder>", file=sys.stderr)
        raise
    print(f"trained {result.timesteps} steps in {result.seconds:.1f} s; "
          f"final env/regret {result.metrics.get('env/regret', float('nan')):.4f}")
    print(f"run folder:  {result.run_dir}")
    print(f"checkpoint:  {result.checkpoint}")
    print(f"TensorBoard: tensorboard --logdir {args.logdir}")
    return 0
