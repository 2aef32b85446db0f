"""``agenticrs evolve``: the main job — train PPO on AutoTrain (table), compare with random search and TPE."""

from __future__ import annotations

import argparse

from agenticrs.cli.errors import CLIError, check_at_least, json_object


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evolve", help="main job: train a PPO evolution policy on the embedded suite and "
                                      "compare it with random search and TPE on the test tasks (about 30 s "
                                      "on an idle 2-core machine; a few minutes on a busy one)")
    p.add_argument("--framework", default="sb3", choices=("rllib", "sb3"),
                   help="sb3 (default: faster on 2 cores) or rllib (action-masking RLModule)")
    p.add_argument("--timesteps", type=int, default=None, help="training env steps (default: the main job's)")
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--seeds", type=int, default=10, help="benchmark seeds per test task")
    p.add_argument("--budget", type=int, default=20, help="trials per episode")
    p.add_argument("--baselines", default="random,tpe", help="comma-separated search baselines")
    p.add_argument("--suite", default="synthetic")
    p.add_argument("--table", default=None, help="table file (default: the shipped table of the suite)")
    p.add_argument("--logdir", default="runs/evolve")
    p.add_argument("--hparams", default="{}", help="JSON overrides of the PPO defaults")
    p.add_argument("--knowledge", default=None, metavar="PATH",
                   help="record every trial and decision (training and benchmark) in this KnowledgeStore (SQLite)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from agenticrs.envs.knowledge import KnowledgeStoreError
    from agenticrs.policies.main_job import run_main_job
    from agenticrs.policies.ray_util import RayStartError

    check_at_least("--timesteps", args.timesteps)
    check_at_least("--seeds", args.seeds)
    check_at_least("--budget", args.budget)
    kwargs = {} if args.timesteps is None else {"timesteps": args.timesteps}
    try:
        run_main_job(framework=args.framework, seed=args.seed, seeds=args.seeds, budget=args.budget,
                     baselines=tuple(b.strip() for b in args.baselines.split(",") if b.strip()), logdir=args.logdir,
                     suite=args.suite, table=args.table, hparams=json_object("--hparams", args.hparams),
                     progress=not args.no_progress, knowledge=args.knowledge, **kwargs)
    except RayStartError as e:
        raise CLIError(str(e)) from None
    except KnowledgeStoreError as e:
        raise CLIError(f"--knowledge {args.knowledge}: {e}") from None
    return 0
