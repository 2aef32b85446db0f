"""Compose / AutoFeature / AutoPerf: does the best configuration differ across tasks? How fast is table mode?

For each env:

* **Best configuration per task** from its table (the shipped ``envs/tables/{env}__{suite}.jsonl.gz``
  or ``--table ENV=PATH``): the config with the best mean-over-seeds validation metric on each
  task, and whether those differ across tasks (if one config won everywhere there would be
  nothing to learn); for AutoPerf also the best config that meets the env's default p99 SLA
  and memory budget. Without a table this part is skipped, never faked.
* **Table-mode steps per second**: random actions with resets, ``gym.make`` wrapper stack,
  on the shipped table or, without one, on a stand-in table of the same shape (every config
  x task x 3 seeds, values from a hash): lookup speed does not depend on the values.
* **Live trial timing** (``--live N``): N live trials per env on ``--live-tasks``, timed, with
  their validation metrics (a small, real best-config comparison), and the estimated time to
  build the full table: mean trial seconds x configs x tasks x seeds / workers.

    python -m agenticrs.benchmarks.env_best_configs [--live 4] [--live-tasks syn-sequential syn-popular]
"""

from __future__ import annotations

import argparse
import statistics
import time
import zlib
from collections import defaultdict
from typing import Any

import gymnasium as gym
import numpy as np

import agenticrs  # noqa: F401  (registers the envs)
from agenticrs.benchmarks.common import RESULTS_DIR, run_header, write_json_atomic
from agenticrs.envs.backends.table import Table, load_table, table_path
from agenticrs.envs.core import TrialResult

ENVS = {"agenticrs/Compose-v0": "compose", "agenticrs/AutoFeature-v0": "autofeature",
        "agenticrs/AutoPerf-v0": "autoperf"}


def describe_env(env_id: str, suite: str = "synthetic") -> Any:
    from agenticrs.envs.registration import _NullBackend

    return gym.make(env_id, backend=_NullBackend(), suite=suite, disable_env_checker=True).unwrapped


def stand_in_table(env_id: str, suite: str = "synthetic") -> Table:
    """Every config x task x 3 seeds with hashed values (speed measurements only)."""
    env = describe_env(env_id, suite)
    results = []
    for task in env.suite.tasks:
        for config, fid in env.action_space.enumerate():
            for seed in range(3):
                u = zlib.crc32(f"{task.name}|{config.key()}|{seed}".encode()) / 2**32
                m = {"ndcg@10": 0.1 * u, "coverage@10": u, "diversity@10": u,
                     **{f"pos@{i}": 0.01 * u for i in range(1, 11)}}
                results.append(TrialResult(config, task.name, fid, seed, "ok", m, m,
                                           {"seconds": 1.0, "params": 1e5, "p99_latency_ms": 20 * u, "memory_mb": u},
                                           source="table"))
    return Table(results, {"env": ENVS[env_id], "suite": suite, "stand_in": True})


def best_per_task(table: Table, metric: str = "ndcg@10",
                  limits: dict[str, float] | None = None) -> dict[str, dict[str, Any]]:
    """Per task, the config with the best mean-over-seeds validation ``metric``.

    ``limits``: cost ceilings (e.g. ``{"p99_latency_ms": 20.0}``) the config's mean cost must
    meet (AutoPerf's SLA and memory budget); configs over a limit are not eligible. Exact ties
    in quality go to the cheaper config (:func:`tie_cost`); ``ties`` counts the tied configs.
    """
    means: dict[tuple[str, str], list[float]] = defaultdict(list)
    costs: dict[tuple[str, str], list[dict[str, float]]] = defaultdict(list)
    for r in table.results():
        if r.ok and metric in r.valid:
            means[(r.task, r.config.key())].append(r.valid[metric])
            costs[(r.task, r.config.key())].append(r.cost)
    best: dict[str, dict[str, Any]] = {}
    for (task, key), vs in means.items():
        mean_cost = {k: float(np.mean([c.get(k, 0.0) for c in costs[(task, key)]])) for k in (limits or {})}
        if any(mean_cost[k] > v for k, v in (limits or {}).items()):
            continue
        m, cheap = float(np.mean(vs)), tie_cost(costs[(task, key)])
        cur = best.get(task)
        # Equal quality (AutoPerf: candidate size and precision often leave the top 10 unchanged,
        # the fp32 re-rank restores the order): the cheaper configuration is the better one.
        if cur is None or m > cur["valid"] + 1e-12 or (abs(m - cur["valid"]) <= 1e-12 and cheap < cur["tie_cost"]):
            best[task] = {"config": table.configs[key].param_dict, "key": key, "valid": m, "tie_cost": cheap,
                          "ties": cur["ties"] + 1 if cur is not None and abs(m - cur["valid"]) <= 1e-12 else 1,
                          **mean_cost}
        elif abs(m - cur["valid"]) <= 1e-12:
            cur["ties"] += 1
    return best


TIE_COSTS = ("p99_latency_ms", "p99_ms_per_user", "seconds")
"""Cost that breaks quality ties (lower wins): the first of these a result has."""


def tie_cost(costs: list[dict[str, float]]) -> float:
    """Mean over seeds of the first :data:`TIE_COSTS` key present (``inf`` if none)."""
    for k in TIE_COSTS:
        if all(k in c for c in costs):
            return float(np.mean([c[k] for c in costs]))
    return float("inf")


def env_limits(env: Any) -> dict[str, float] | None:
    """The cost limits an env's constraints impose (AutoPerf: p99 SLA and memory budget), else ``None``."""
    if hasattr(env, "latency_sla_ms"):
        return {"p99_latency_ms": env.latency_sla_ms, "memory_mb": env.memory_budget_mb}
    return None


def steps_per_second(env_id: str, table: Table, steps: int) -> float:
    env = gym.make(env_id, backend="table", backend_kwargs={"table": table})
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(1024)]
    env.reset(seed=0)
    t = time.perf_counter()
    for i in range(steps):
        if env.step(actions[i % len(actions)])[2]:
            env.reset()
    return steps / (time.perf_counter() - t)


def live_timing(env_id: str, tasks: list[str], n: int, seed: int = 0) -> dict[str, Any]:
    """``n`` random configs per task, run live in process (components cached as a table build would)."""
    env = gym.make(env_id, backend="live", backend_kwargs={"isolate": False}).unwrapped
    rng = np.random.default_rng(seed)
    pairs = env.action_space.enumerate()
    picks = [pairs[i] for i in rng.choice(len(pairs), size=min(n, len(pairs)), replace=False)]
    rows = []
    for name in tasks:
        task = env.suite.task(name)
        for config, fid in picks:
            t = time.perf_counter()
            r = env.backend.evaluate(task, config, fid, seed)
            rows.append({"task": name, "config": config.param_dict, "status": r.status, "reason": r.reason,
                         "valid_ndcg@10": r.valid.get("ndcg@10"), "wall_seconds": time.perf_counter() - t,
                         "charged_seconds": r.cost.get("seconds"), "train_seconds": r.cost.get("train_seconds")})
    by_task: dict[str, Any] = {}
    for name in tasks:
        ok = [r for r in rows if r["task"] == name and r["status"] == "ok"]
        if ok:
            top = max(ok, key=lambda r: r["valid_ndcg@10"])
            by_task[name] = {"best_of_sample": top["config"], "valid_ndcg@10": top["valid_ndcg@10"]}
    out = {"trials": rows, "best_of_sample": by_task,
           "mean_wall_seconds": statistics.mean(r["wall_seconds"] for r in rows),
           "mean_charged_seconds": statistics.mean(r["charged_seconds"] or 0.0 for r in rows)}
    shared = shared_components(env_id, env.suite.task(tasks[0]), seed)
    if shared is not None:
        # Compose / AutoPerf reuse trained components across a build's trials (per task and seed):
        # cost = components once per (task, seed) + the evaluation-only part of every trial.
        ok = [r for r in rows if r["status"] == "ok" and r["train_seconds"] is not None]
        out["component_seconds_per_task_seed"] = shared
        out["mean_eval_seconds"] = statistics.mean(r["charged_seconds"] - r["train_seconds"] for r in ok) if ok else None
    return out


def shared_components(env_id: str, task: Any, seed: int) -> float | None:
    """Training seconds of the components a build trains once per (task, seed), or ``None`` (AutoFeature)."""
    from agenticrs.envs.backends.function import task_data
    from agenticrs.recsys.pipeline import ComponentSpec, fit_component

    if ENVS[env_id] == "compose":
        from agenticrs.envs.compose import COMPONENT_PARAMS, FULL_EPOCHS

        specs = [ComponentSpec.make(m, epochs=FULL_EPOCHS, **p) for m, p in COMPONENT_PARAMS.items()]
    elif ENVS[env_id] == "autoperf":
        from agenticrs.envs.autoperf import BASE_EPOCHS

        specs = [ComponentSpec.make("sasrec", epochs=BASE_EPOCHS, loss="ce")]
    else:
        return None
    dataset, split = task_data(task)
    return sum(fit_component(dataset, split, s, seed).train_seconds for s in specs)  # cached ones cost nothing now


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", default="synthetic")
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--table", action="append", default=[], metavar="ENV=PATH", help="a table for an env id")
    ap.add_argument("--envs", nargs="+", default=list(ENVS))
    ap.add_argument("--live", type=int, default=0, help="live trials per env and task (timing)")
    ap.add_argument("--live-tasks", nargs="+", default=["syn-sequential", "syn-popular"])
    ap.add_argument("--workers", type=int, default=2, help="workers assumed by the build-time estimate")
    ap.add_argument("--out", default=str(RESULTS_DIR / "env_best_configs.json"))
    args = ap.parse_args(argv)
    given = dict(t.split("=", 1) for t in args.table)
    out: dict[str, Any] = {"header": run_header(), "suite": args.suite, "envs": {}}
    for env_id in args.envs:
        row: dict[str, Any] = {}
        path = given.get(env_id) or table_path(ENVS[env_id], args.suite)
        env = describe_env(env_id, args.suite)
        n_trials = len(env.action_space.enumerate()) * len(env.suite.tasks) * 3
        row["table_trials"] = n_trials
        if path and __import__("pathlib").Path(path).exists():
            table = load_table(path)
            best = best_per_task(table)
            row["table"] = str(path)
            row["best_per_task"] = best
            row["distinct_best_configs"] = len({b["key"] for b in best.values()})
            row["best_differs_across_tasks"] = row["distinct_best_configs"] > 1
            row["build"] = table.header.get("build")
            limits = env_limits(env)
            if limits is not None:
                feasible = best_per_task(table, limits=limits)
                row["limits"] = limits
                row["best_feasible_per_task"] = feasible
                row["distinct_best_feasible_configs"] = len({b["key"] for b in feasible.values()})
        else:
            table = stand_in_table(env_id, args.suite)
            row["table"] = None
            row["best_per_task"] = "skipped: no table (build one with agenticrs build-table)"
        row["table_steps_per_second"] = steps_per_second(env_id, table, args.steps)
        row["steps_measured_on"] = "table" if row["table"] else "stand-in table (same shape, hashed values)"
        if args.live:
            live = live_timing(env_id, args.live_tasks, args.live)
            row["live"] = live
            if live.get("mean_eval_seconds") is not None:
                fixed = live["component_seconds_per_task_seed"] * len(env.suite.tasks) * 3
                row["estimated_build_hours"] = (fixed + live["mean_eval_seconds"] * n_trials) / args.workers / 3600
            else:
                row["estimated_build_hours"] = live["mean_wall_seconds"] * n_trials / args.workers / 3600
        out["envs"][env_id] = row
        print(env_id, {k: v for k, v in row.items() if k not in ("live", "best_per_task")}, flush=True)
        if args.live:
            print("  live best-of-sample:", row["live"]["best_of_sample"], "mean trial s:",
                  round(row["live"]["mean_wall_seconds"], 2), flush=True)
    write_json_atomic(args.out, out)
    return out


if __name__ == "__main__":
    main()
