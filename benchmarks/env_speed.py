"""Table-backend env speed of every registered single-agent env, against CartPole-v1 in the same process.

Each env and CartPole are built with ``gymnasium.make`` (same wrapper stack) and stepped with
pre-sampled random actions, resets included, in alternating rounds; the median wall and CPU
time per step of each is reported (CPU time: meaningful on a loaded shared machine), plus the
unwrapped envs for context, and the load average.

Targets (issue 3, AutoTrain-v0): at least 50,000 steps/s and at most 3x CartPole's time per step.

AutoTrain-v0 uses the shipped table (``envs/tables/autotrain__synthetic.jsonl.gz``) when it
exists, otherwise an in-memory stand-in table of the same shape (every canonical configuration
x fidelity x task of the embedded suite, 3 seeds) — lookup speed does not depend on the
values. The other envs use their shipped tables (``backend="table"``).

    python -m agenticrs.benchmarks.env_speed [--envs ID,ID] [--steps 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import zlib
from typing import Any, Callable

import gymnasium as gym

import agenticrs  # noqa: F401  (registers the envs)
from agenticrs.benchmarks.common import RESULTS_DIR, run_header, write_json_atomic
from agenticrs.envs.core import TrialResult

ENV_ID = "agenticrs/AutoTrain-v0"


def stand_in_table() -> Any:
    """A Table covering the whole action space of the embedded suite, 3 seeds per entry."""
    from agenticrs.envs.backends.table import Table
    from agenticrs.envs.spaces import AutoTrainSpace
    from agenticrs.envs.suites import get_suite

    results = []
    for task in get_suite("synthetic").tasks:
        for config, fidelity in AutoTrainSpace().enumerate():
            for seed in range(3):
                u = zlib.crc32(f"{task.name}|{config.key()}|{fidelity}|{seed}".encode()) / 2**32
                results.append(TrialResult(
                    config, task.name, fidelity, seed, "ok", valid={"ndcg@10": 0.1 * u}, test={"ndcg@10": 0.09 * u},
                    cost={"seconds": 1.0 + 3.0 * fidelity}, source="table",
                ))
    return Table(results, {"env": "autotrain", "suite": "synthetic", "stand_in": True})


def time_per_step(env: gym.Env, actions: list[Any], n_steps: int) -> tuple[float, float]:
    """``(wall, cpu)`` seconds per step over ``n_steps`` steps (resets on episode end included).

    CPU time (``time.process_time``) excludes the time the process waits for a core, so it
    stays meaningful on a shared, loaded machine; wall time is what a user sees.
    """
    env.reset(seed=0)
    n_actions = len(actions)
    t, c = time.perf_counter(), time.process_time()
    for i in range(n_steps):
        _, _, terminated, truncated, _ = env.step(actions[i % n_actions])
        if terminated or truncated:
            env.reset()
    return (time.perf_counter() - t) / n_steps, (time.process_time() - c) / n_steps


def compare(make_a: Callable[[], gym.Env], make_b: Callable[[], gym.Env], steps: int, rounds: int
            ) -> dict[str, float]:
    """Median wall and CPU seconds per step of two envs measured in alternating rounds."""
    env_a, env_b = make_a(), make_b()
    env_a.action_space.seed(0)
    env_b.action_space.seed(0)
    acts_a = [env_a.action_space.sample() for _ in range(4096)]
    acts_b = [env_b.action_space.sample() for _ in range(4096)]
    time_per_step(env_a, acts_a, steps // 10)  # warm-up (caches, lazy table load)
    time_per_step(env_b, acts_b, steps // 10)
    runs_a, runs_b = [], []
    for _ in range(rounds):
        runs_a.append(time_per_step(env_a, acts_a, steps))
        runs_b.append(time_per_step(env_b, acts_b, steps))
    med = statistics.median
    return {"a_wall": med(r[0] for r in runs_a), "a_cpu": med(r[1] for r in runs_a),
            "b_wall": med(r[0] for r in runs_b), "b_cpu": med(r[1] for r in runs_b)}


def _summary(m: dict[str, float]) -> dict[str, float]:
    return {
        "steps_per_s": 1.0 / m["a_wall"], "cartpole_steps_per_s": 1.0 / m["b_wall"],
        "us_per_step": 1e6 * m["a_wall"], "cartpole_us_per_step": 1e6 * m["b_wall"],
        "ratio_to_cartpole": m["a_wall"] / m["b_wall"],
        "cpu_steps_per_s": 1.0 / m["a_cpu"], "cartpole_cpu_steps_per_s": 1.0 / m["b_cpu"],
        "cpu_us_per_step": 1e6 * m["a_cpu"], "ratio_to_cartpole_cpu": m["a_cpu"] / m["b_cpu"],
    }


def table_env_ids() -> list[str]:
    """Registered single-agent envs that accept the table backend (the ones with shipped tables)."""
    from agenticrs.envs.registration import _ENVS, list_env_ids

    return [i for i in list_env_ids(multi_agent=False) if "table" in _ENVS[i].backends]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--envs", default=None, help="comma-separated env ids (default: every registered table env)")
    ap.add_argument("--steps", type=int, default=20_000, help="steps per round and env")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(RESULTS_DIR / "env_speed.json"))
    args = ap.parse_args(argv)

    from agenticrs.envs.backends import TableBackend, table_path

    path = table_path("autotrain", "synthetic")
    autotrain_backend = TableBackend(path) if path.exists() else TableBackend(stand_in_table())
    table = str(path) if path.exists() else "in-memory stand-in (shipped table not built yet)"
    env_ids = args.envs.split(",") if args.envs else table_env_ids()

    def maker(env_id: str, unwrapped: bool) -> Callable[[], gym.Env]:
        def make() -> gym.Env:
            env = gym.make(env_id, backend=autotrain_backend) if env_id == ENV_ID else gym.make(env_id)
            return env.unwrapped if unwrapped else env
        return make

    def cartpole(unwrapped: bool = False) -> gym.Env:
        env = gym.make("CartPole-v1")
        return env.unwrapped if unwrapped else env

    load_before = os.getloadavg()
    envs: dict[str, Any] = {}
    for env_id in env_ids:
        envs[env_id] = {
            "gym_make": _summary(compare(maker(env_id, False), cartpole, args.steps, args.rounds)),
            "unwrapped": _summary(compare(maker(env_id, True), lambda: cartpole(True), args.steps, args.rounds)),
        }
        g = envs[env_id]["gym_make"]
        print(f"{env_id:28s} {g['steps_per_s']:9,.0f} steps/s wall ({g['us_per_step']:6.1f} us), "
              f"{g['cpu_steps_per_s']:9,.0f} of CPU time ({g['cpu_us_per_step']:6.1f} us); CartPole "
              f"{g['cartpole_cpu_steps_per_s']:,.0f}; ratio of time per step {g['ratio_to_cartpole']:.2f}x wall, "
              f"{g['ratio_to_cartpole_cpu']:.2f}x CPU", flush=True)
    out: dict[str, Any] = {
        **run_header(),
        "autotrain_table": table,
        "steps_per_round": args.steps,
        "rounds": args.rounds,
        "load_average_before_after": [load_before[0], os.getloadavg()[0]],
        "envs": envs,
        "targets": {"env": ENV_ID, "min_steps_per_s": 50_000, "max_ratio_to_cartpole": 3.0},
    }
    if ENV_ID in envs:
        g = envs[ENV_ID]["gym_make"]
        out["meets_targets_wall"] = bool(g["steps_per_s"] >= 50_000 and g["ratio_to_cartpole"] <= 3.0)
        out["meets_targets_cpu"] = bool(g["cpu_steps_per_s"] >= 50_000 and g["ratio_to_cartpole_cpu"] <= 3.0)
    write_json_atomic(args.out, out)
    print(f"load average {out['load_average_before_after'][0]:.1f} -> {out['load_average_before_after'][1]:.1f}; "
          f"AutoTrain table: {table}; written to {args.out}")
    return out


if __name__ == "__main__":
    main()
