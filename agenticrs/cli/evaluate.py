"""``agenticrs evaluate``: run a trained evolution policy on tasks and report regret and cost."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="run a trained policy on a suite's tasks: best metric, regret, cost")
    p.add_argument("--checkpoint", required=True, help="run folder or checkpoint folder of `agenticrs train`")
    p.add_argument("--env", default=None, help="env id (default: the checkpoint's)")
    p.add_argument("--tasks", default="test", help="test | train | all | comma-separated task names")
    p.add_argument("--episodes", type=int, default=5, help="episodes (seeds) per task")
    p.add_argument("--backend", default=None, help="override the checkpoint's backend (table | surrogate | live)")
    p.add_argument("--table", default=None, help="table file for the table/surrogate backend")
    p.add_argument("--max-trials", type=int, default=None, help="trial budget per episode (default: the task's)")
    p.add_argument("--deterministic", action="store_true", help="most likely action instead of sampling")
    p.add_argument("--json", default=None, metavar="OUT", help="write the report as JSON")
    p.set_defaults(func=run)


def evaluate(checkpoint: str, env_id: str | None = None, tasks: str = "test", episodes: int = 5,
             backend: str | None = None, table: str | None = None, max_trials: int | None = None,
             deterministic: bool = False) -> dict[str, Any]:
    """Per task: mean ± s.e. over episodes of the incumbent's valid/test metric, regret and compute."""
    import gymnasium as gym

    from agenticrs.policies.episode import run_episode
    from agenticrs.policies.training import load_policy, read_meta

    if episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}")
    meta = read_meta(checkpoint)
    policy = load_policy(checkpoint, deterministic=deterministic)
    kwargs = dict(meta.get("env_kwargs", {}))
    if backend:
        kwargs["backend"] = backend
        kwargs.pop("backend_kwargs", None)
    if table:
        kwargs["backend_kwargs"] = {"table": table}
    if max_trials:
        kwargs["max_trials"] = max_trials
    split = tasks if tasks in ("test", "train", "all") else "all"
    kwargs.update(split=split, obs_mode=policy.obs_mode)
    env = gym.make(env_id or meta["env_id"], **kwargs)
    names = [t.name for t in env.unwrapped.tasks] if tasks in ("test", "train", "all") else \
        [n.strip() for n in tasks.split(",") if n.strip()]
    report: dict[str, Any] = {"checkpoint": meta["_path"], "env_id": env_id or meta["env_id"], "tasks": {}}
    for name in names:
        env.unwrapped.suite.task(name)  # KeyError naming the unknown task and the suite's tasks
        traces = [run_episode(env, policy, seed=s, task=name) for s in range(episodes)]
        inc = [t.incumbent or {} for t in traces]

        def ms(xs: list[float]) -> list[float]:
            a = np.asarray(xs, dtype=float)
            return [float(np.nanmean(a)), float(np.nanstd(a, ddof=1) / np.sqrt(len(a))) if len(a) > 1 else 0.0]

        report["tasks"][name] = {
            "best_valid": ms([i.get("valid", np.nan) for i in inc]),
            "best_test": ms([i.get("test", np.nan) for i in inc]),
            "regret": ms([t.final_regret for t in traces]),
            "compute_seconds": ms([t.compute for t in traces]),
            "trials": len(traces[0].trials),
            "incumbents": [f"{i.get('model')} {i.get('params')} @{i.get('fidelity')}" for i in inc],
        }
    env.close()
    return report


def run(args: argparse.Namespace) -> int:
    from agenticrs.cli.table import format_table
    from agenticrs.io import write_json_atomic

    report = evaluate(args.checkpoint, args.env, args.tasks, args.episodes, args.backend, args.table,
                      args.max_trials, args.deterministic)
    rows = []
    for name, r in report["tasks"].items():
        rows.append([name, r["trials"], *(f"{r[k][0]:.4f} ± {r[k][1]:.4f}" for k in ("best_valid", "best_test", "regret")),
                     f"{r['compute_seconds'][0]:.0f}"])
    print(format_table(["task", "trials", "best valid", "best test", "normalised regret", "compute s"], rows))
    if args.json:
        write_json_atomic(args.json, report)
        print(f"written: {args.json}")
    return 0
