"""``agenticrs autotune``: evolve a recommender for your dataset (see :mod:`agenticrs.policies.autotune`).

    agenticrs autotune --data csv:my_log.csv --budget 20 [--policy shipped|PATH|tpe|random|best-default-order]
                       [--workers 2] [--knowledge runs/k.sqlite] [--out runs/autotune]

Interrupted (Ctrl-C, a crash), the same command resumes: trials finished before are read
from the knowledge store and never trained again.
"""

from __future__ import annotations

import argparse

from agenticrs.cli.errors import CLIError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("autotune", help="evolve a recommender for your dataset: live trials chosen by a policy, "
                                        "resumable, leaderboard + best checkpoint")
    p.add_argument("--data", required=True, help="dataset URI (csv:PATH, sasrec:PATH, recbole:PATH, movielens:PATH, "
                                                 "a registered name such as beauty)")
    p.add_argument("--budget", type=int, required=True, help="trials to train (finished ones of an earlier session count)")
    p.add_argument("--policy", default="shipped",
                   help="shipped (default: the PPO policy shipped with the package), a checkpoint folder of "
                        "`agenticrs train`, or tpe | random | best-default-order | evolution | gp")
    p.add_argument("--workers", type=int, default=1, help="trials trained at once (search baselines)")
    p.add_argument("--knowledge", default=None, help="journal / knowledge store (default OUT/knowledge.sqlite)")
    p.add_argument("--out", default="runs/autotune", help="output folder: report.json, report.md, best_model.pt")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--space", default="v0", help="AutoTrain space: v0 (the shipped policy's) or v1 (harder)")
    p.add_argument("--metric", default="ndcg@10", help="validation metric maximised")
    p.add_argument("--epochs", type=int, default=8, help="epochs of a full-fidelity trial")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds before a trial is killed")
    p.add_argument("--no-save-model", action="store_true", help="do not retrain the best to save its checkpoint")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from agenticrs.policies.autotune import AutotuneError, AutotuneSpec, autotune

    try:
        spec = AutotuneSpec(data=args.data, budget=args.budget, policy=args.policy, workers=args.workers,
                            knowledge=args.knowledge, out=args.out, seed=args.seed, space=args.space,
                            metric=args.metric, full_epochs=args.epochs, timeout_s=args.timeout,
                            save_model=not args.no_save_model)
        autotune(spec)
    except AutotuneError as e:
        raise CLIError(str(e)) from None
    return 0
