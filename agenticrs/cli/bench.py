"""``agenticrs bench evolution``: the evolution benchmark protocol (see agenticrs.benchmarks.evolution).

Before the protocol runs, the CLI checks what would otherwise fail half-way with a traceback:
an unknown env id, ``ppo`` without ``--checkpoint``, a checkpoint whose spaces do not fit the
env; a search baseline that does not apply to the env (``halving`` without a fidelity) is
left out with a note, so the default policy list runs on every env. ``--backend`` and
``--suite`` not given take the env's registered kwargs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from agenticrs.cli.env_args import make_env, registered_kwargs
from agenticrs.cli.envs import check_env_id
from agenticrs.cli.errors import CLIError, check_at_least
from agenticrs.cli.policy_check import check_policy_fits, inapplicable_reason, load_checkpoint_policy

FALLBACK = {"backend": "table", "suite": "synthetic"}
"""What ``--backend`` / ``--suite`` mean when neither the user nor the env's registration sets them."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    from agenticrs.benchmarks import evolution

    p = sub.add_parser("bench", help="benchmarks (evolution: policies vs search baselines, regret curves)")
    kinds = p.add_subparsers(dest="bench_command", required=True)
    ev = kinds.add_parser("evolution", help="regret vs trials and compute on a suite's test tasks; JSON, table, PNG")
    evolution.add_arguments(ev)
    # None = "not given": filled from the env's registration in run_evolution, never over it.
    ev.set_defaults(func=run_evolution, backend=None, suite=None)


def _fill_from_registration(args: argparse.Namespace) -> None:
    reg = registered_kwargs(args.env)
    for name, fallback in FALLBACK.items():
        if getattr(args, name) is None:
            setattr(args, name, reg.get(name, fallback))


def _policies(args: argparse.Namespace) -> list[str]:
    """``--policies`` minus what cannot run here (with a note); :class:`CLIError` for what the user must fix."""
    from agenticrs.benchmarks import evolution

    names = [p.strip() for p in args.policies.split(",") if p.strip()]
    if not names:
        raise CLIError("--policies is empty; e.g. --policies random,tpe")
    default = args.policies == evolution.DEFAULT_POLICIES
    kwargs: dict[str, Any] = {"backend": args.backend, "suite": args.suite, "split": args.split,
                              "max_trials": args.budget}
    if args.table:
        kwargs["backend_kwargs"] = {"table": args.table}
    envs: dict[str, Any] = {}
    kept = []
    try:
        for name in names:
            if name.startswith("ppo") and not args.checkpoint:
                if default:
                    print(f"note: {name} left out: it needs --checkpoint (a run folder of `agenticrs train`)",
                          file=sys.stderr)
                    continue
                raise CLIError(f"policy {name!r} needs --checkpoint (a run folder of `agenticrs train`)")
            meta: dict[str, Any] = {}
            if name.startswith("ppo"):
                policy, meta = load_checkpoint_policy(args.checkpoint)
            else:
                try:
                    policy = evolution.make_policy(name, args.checkpoint)
                except ValueError as e:  # an unknown policy name, naming the known ones
                    raise CLIError(str(e)) from None
            mode = policy.obs_mode
            if mode not in envs:
                envs[mode] = make_env(args.env, {**kwargs, "obs_mode": mode})
            if meta:
                check_policy_fits(policy, envs[mode], meta["_path"], args.env, meta.get("env_id"))
            reason = inapplicable_reason(policy, envs[mode], args.budget)
            if reason:
                print(f"note: {name} left out: {reason}", file=sys.stderr)
                continue
            kept.append(name)
    finally:
        for env in envs.values():
            env.close()
    if not kept:
        raise CLIError(f"none of the policies {names} can run on {args.env}")
    return kept


def run_evolution(args: argparse.Namespace) -> int:
    from agenticrs.benchmarks import evolution

    check_env_id(args.env)
    check_at_least("--seeds", args.seeds)
    check_at_least("--budget", args.budget)
    _fill_from_registration(args)
    args.policies = ",".join(_policies(args))
    evolution.run_from_args(args)
    return 0
