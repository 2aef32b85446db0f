"""``agenticrs evaluate``: run a trained evolution policy on tasks and report regret and cost."""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from agenticrs.cli.env_args import add_env_arguments, env_overrides, knowledge_run, make_env
from agenticrs.cli.envs import check_env_id
from agenticrs.cli.errors import CLIError, check_at_least, json_object
from agenticrs.cli.policy_check import check_policy_fits, load_checkpoint_policy


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="run a trained policy on a suite's tasks: best metric, regret, cost")
    p.add_argument("--checkpoint", required=True, help="run folder or checkpoint folder of `agenticrs train`")
    add_env_arguments(p, env_default=None, env_help="env id (default: the checkpoint's)")
    p.add_argument("--tasks", default="test", help="test | train | all | comma-separated task names")
    p.add_argument("--episodes", type=int, default=5, help="episodes (seeds) per task")
    p.add_argument("--deterministic", action="store_true", help="most likely action instead of sampling")
    p.add_argument("--knowledge", default=None, metavar="PATH",
                   help="record every trial and decision of the evaluation in this KnowledgeStore (SQLite; created)")
    p.add_argument("--json", default=None, metavar="OUT", help="write the report as JSON")
    p.set_defaults(func=run)


def evaluate(checkpoint: str, env_id: str | None = None, tasks: str = "test", episodes: int = 5,
             backend: str | None = None, table: str | None = None, max_trials: int | None = None,
             deterministic: bool = False, env_kwargs: dict[str, Any] | None = None,
             knowledge: str | None = None, suite: str | None = None) -> dict[str, Any]:
    """Per task: mean ± s.e. over episodes of the incumbent's valid/test metric, regret and compute.

    The env is built with the checkpoint's env kwargs, ``env_kwargs`` over them, then the
    explicit ``backend`` / ``table`` / ``max_trials`` / ``suite``; a checkpoint whose spaces do not fit the
    env is refused before any episode (:class:`~agenticrs.cli.errors.CLIError`).
    """
    check_at_least("--episodes", episodes)
    policy, meta = load_checkpoint_policy(checkpoint, deterministic)
    env_id = env_id or meta["env_id"]
    check_env_id(env_id)
    # The training run's store and run id stay with training; --knowledge starts a run of its own.
    base = {k: v for k, v in meta.get("env_kwargs", {}).items() if k not in ("store", "run_id")}
    flags = argparse.Namespace(backend=backend, suite=suite, table=table, max_trials=max_trials,
                               env_kwargs=json.dumps(env_kwargs) if env_kwargs else None)
    kwargs = env_overrides(flags, base=base)
    split = tasks if tasks in ("test", "train", "all") else "all"
    kwargs.update(split=split, obs_mode=policy.obs_mode)
    if getattr(policy, "multi_agent", False) or meta.get("multi_agent"):
        return _evaluate_multi_agent(policy, meta, env_id, kwargs, tasks, episodes, knowledge)
    env = make_env(env_id, kwargs)
    try:  # everything a user can get wrong is refused before a knowledge-store run starts
        check_policy_fits(policy, env, meta["_path"], env_id, meta.get("env_id"))
        names = [t.name for t in env.unwrapped.tasks] if tasks in ("test", "train", "all") else \
            [n.strip() for n in tasks.split(",") if n.strip()]
        for name in names:
            try:
                env.unwrapped.suite.task(name)
            except KeyError as e:  # names the unknown task and the suite's tasks
                raise CLIError(e.args[0] if e.args else str(e)) from None
    except BaseException:
        env.close()
        raise
    report: dict[str, Any] = {"checkpoint": meta["_path"], "env_id": env_id, "tasks": {}}
    run_meta = {"checkpoint": meta["_path"], "env_id": env_id, "tasks": names, "episodes": episodes}
    with knowledge_run(knowledge, "evaluate", run_meta) as recorded:
        if recorded.run_id is not None:  # the same env, recording into the run
            env.close()
            env = make_env(env_id, {**kwargs, **recorded.env_kwargs()})
        try:
            for name in names:
                report["tasks"][name] = _evaluate_task(env, policy, name, episodes)
        finally:
            env.close()
        recorded.summary["regret"] = {n: r["regret"][0] for n, r in report["tasks"].items()}
    return report


def _evaluate_multi_agent(policy: Any, meta: dict[str, Any], env_id: str, kwargs: dict[str, Any], tasks: str,
                         episodes: int, knowledge: str | None) -> dict[str, Any]:
    """A multi-agent checkpoint on a multi-agent env (:func:`agenticrs.policies.agentic_eval.evaluate_policy`)."""
    from agenticrs.policies.agentic_eval import evaluate_policy
    from agenticrs.policies.rllib_multi import is_multi_agent

    if not (getattr(policy, "multi_agent", False) and is_multi_agent(env_id)):
        raise CLIError(f"checkpoint {meta['_path']} (trained on {meta.get('env_id')}) and env {env_id} do not fit: "
                       f"a multi-agent policy needs a multi-agent env and the other way round")
    kwargs.pop("max_trials", None)  # rounds, not trials: max_rounds in --env-kwargs
    env = make_env(env_id, kwargs).unwrapped
    try:
        policy.begin(env, 0)  # refuses a checkpoint whose modules do not cover the env's agents
    except ValueError as e:
        env.close()
        raise CLIError(f"checkpoint {meta['_path']}: {e}") from None
    names = [t.name for t in env.core.tasks] if tasks in ("test", "train", "all") else \
        [n.strip() for n in tasks.split(",") if n.strip()]
    for name in names:
        try:
            env.core.suite.task(name)
        except KeyError as e:
            env.close()
            raise CLIError(e.args[0] if e.args else str(e)) from None
    report: dict[str, Any] = {"checkpoint": meta["_path"], "env_id": env_id, "multi_agent": True, "tasks": {}}
    with knowledge_run(knowledge, "evaluate", {"checkpoint": meta["_path"], "env_id": env_id, "tasks": names,
                                               "episodes": episodes}) as recorded:
        if recorded.run_id is not None:
            env.close()
            env = make_env(env_id, {**kwargs, **recorded.env_kwargs()}).unwrapped
        try:
            report["tasks"] = evaluate_policy(policy, env, names, episodes)
        finally:
            env.close()
        recorded.summary["regret"] = {n: r["regret"][0] for n, r in report["tasks"].items()}
    return report


def _evaluate_task(env: Any, policy: Any, task: str, episodes: int) -> dict[str, Any]:
    """``episodes`` seeded episodes of ``policy`` on ``task``: mean ± s.e. of the incumbent's metrics."""
    from agenticrs.policies.episode import run_episode

    traces = [run_episode(env, policy, seed=s, task=task) for s in range(episodes)]
    inc = [t.incumbent or {} for t in traces]

    def ms(xs: list[float]) -> list[float]:
        a = np.asarray(xs, dtype=float)
        return [float(np.nanmean(a)), float(np.nanstd(a, ddof=1) / np.sqrt(len(a))) if len(a) > 1 else 0.0]

    return {
        "best_valid": ms([i.get("valid", np.nan) for i in inc]),
        "best_test": ms([i.get("test", np.nan) for i in inc]),
        "regret": ms([t.final_regret for t in traces]),
        "compute_seconds": ms([t.compute for t in traces]),
        "trials": len(traces[0].trials),
        "incumbents": [f"{i.get('model')} {i.get('params')} @{i.get('fidelity')}" for i in inc],
    }


def run(args: argparse.Namespace) -> int:
    from agenticrs.cli.table import format_table
    from agenticrs.io import write_json_atomic

    report = evaluate(args.checkpoint, args.env, args.tasks, args.episodes, args.backend, args.table,
                      args.max_trials, args.deterministic, json_object("--env-kwargs", args.env_kwargs),
                      args.knowledge, args.suite)
    if report.get("multi_agent"):
        rows = [[name, r["rounds"], *(f"{r[k][0]:.4f} ± {r[k][1]:.4f}" for k in ("outer", "regret", "shipped_outer")),
                 f"{r['compute_seconds'][0]:.0f}"] for name, r in report["tasks"].items()]
        print(format_table(["task", "rounds", "final outer objective", "normalised regret", "shipped outer",
                            "compute s"], rows))
        print("final pipeline: the best of the pipelines the agents evaluated by one A/B each vs the default; "
              "shipped: the env's A/B-gated incumbent; regret 0 = best of the joint space, 1 = default pipeline")
    rows = []
    for name, r in ({} if report.get("multi_agent") else report["tasks"]).items():
        rows.append([name, r["trials"], *(f"{r[k][0]:.4f} ± {r[k][1]:.4f}" for k in ("best_valid", "best_test", "regret")),
                     f"{r['compute_seconds'][0]:.0f}"])
    if rows:
        print(format_table(["task", "trials", "best valid", "best test", "normalised regret", "compute s"], rows))
    if args.json:
        write_json_atomic(args.json, report)
        print(f"written: {args.json}")
    if args.knowledge:
        print(f"knowledge: {args.knowledge} (agenticrs knowledge show --db {args.knowledge})")
    return 0
