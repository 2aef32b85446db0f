"""``agenticrs evolve``: the main job — RLlib multi-agent PPO co-evolving one pipeline on AgenticRS-v0 (cached
backend), against joint search baselines on the unseen test tasks; ``--env agenticrs/AutoTrain-v0``: PPO on
AutoTrain (table backend) against random search and TPE."""

from __future__ import annotations

import argparse

from agenticrs.cli.errors import CLIError, check_at_least, json_object


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evolve", help="main job: train multi-agent PPO (four agents, one pipeline) on the embedded "
                                      "suite and compare it with search baselines on the unseen test tasks (about "
                                      "45 s on a 2-core machine; --env agenticrs/AutoTrain-v0 for one agent)")
    p.add_argument("--env", default="agenticrs/AgenticRS-v0",
                   choices=("agenticrs/AutoTrain-v0", "agenticrs/AgenticRS-v0"),
                   help="AgenticRS-v0 (default, the flagship: RLlib multi-agent PPO, four agents co-evolving one "
                        "pipeline, against joint search baselines) or AutoTrain-v0 (one agent, table backend)")
    p.add_argument("--coupling", default="difference",
                   help="AgenticRS-v0: the inner/outer reward coupling trained (inner, outer, layered, lagrangian, "
                        "difference; see benchmarks/results/agentic for how each fares)")
    p.add_argument("--framework", default="sb3", choices=("rllib", "sb3"),
                   help="AutoTrain-v0: sb3 (default: faster on 2 cores) or rllib (action-masking RLModule); "
                        "AgenticRS-v0 always trains RLlib")
    p.add_argument("--timesteps", type=int, default=None, help="training env steps (default: the main job's)")
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--seeds", type=int, default=10, help="benchmark seeds per test task")
    p.add_argument("--budget", type=int, default=None,
                   help="trials per episode (AutoTrain default 20; AgenticRS: rounds, default 10)")
    p.add_argument("--baselines", default=None,
                   help="comma-separated search baselines (default random,tpe; AgenticRS: random,tpe,evolution,"
                        "coordinate; 'independent' adds independently trained agents)")
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
    if args.env == "agenticrs/AgenticRS-v0":
        return _run_agentic(args, kwargs)
    args.budget = 20 if args.budget is None else args.budget
    args.baselines = "random,tpe" if args.baselines is None else args.baselines
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


def _run_agentic(args: argparse.Namespace, kwargs: dict) -> int:
    """The flagship: RLlib multi-agent PPO on AgenticRS-v0 (:func:`agenticrs.benchmarks.agentic.run_main_job`)."""
    from agenticrs.benchmarks.agentic import SEARCHERS, run_main_job
    from agenticrs.envs.agentic.rewards import COUPLINGS
    from agenticrs.policies.ray_util import RayStartError

    if args.coupling not in COUPLINGS:
        raise CLIError(f"--coupling must be one of {', '.join(COUPLINGS)}, got {args.coupling!r}")
    if args.knowledge or args.table or args.suite != "synthetic":
        raise CLIError("--env agenticrs/AgenticRS-v0 trains RLlib multi-agent PPO on the embedded synthetic suite's "
                       "cached backend; --suite, --table and --knowledge apply to AutoTrain-v0 only")
    baselines = tuple(b.strip() for b in (args.baselines or ",".join(SEARCHERS)).split(",") if b.strip())
    try:
        run_main_job(coupling=args.coupling, seed=args.seed, seeds=args.seeds, rounds=args.budget or 10,
                     baselines=baselines, logdir=args.logdir, hparams=json_object("--hparams", args.hparams),
                     progress=not args.no_progress, **kwargs)
    except RayStartError as e:
        raise CLIError(str(e)) from None
    return 0
