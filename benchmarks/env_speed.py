"""Table-backend AutoTrain env speed, against CartPole-v1 in the same process.

Both envs are built with ``gymnasium.make`` (same wrapper stack) and stepped with
pre-sampled random actions, resets included, in alternating rounds; the median wall and
CPU time per step of each is reported (CPU time: meaningful on a loaded shared machine),
plus the unwrapped envs for context, and the load average.

Targets (issue 3): at least 50,000 AutoTrain steps/s and at most 3x CartPole's time per step.

The shipped table (``envs/tables/autotrain__synthetic.jsonl.gz``) is used when it exists;
otherwise an in-memory stand-in table of the same shape (every canonical configuration x
fidelity x task of the embedded suite, 3 seeds) — lookup speed does not depend on the values.

    python -m agenticrs.benchmarks.env_speed [--steps 200000] [--rounds 5]
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
        "autotrain_steps_per_s": 1.0 / m["a_wall"], "cartpole_steps_per_s": 1.0 / m["b_wall"],
        "autotrain_us_per_step": 1e6 * m["a_wall"], "cartpole_us_per_step": 1e6 * m["b_wall"],
        "ratio_to_cartpole": m["a_wall"] / m["b_wall"],
        "autotrain_cpu_steps_per_s": 1.0 / m["a_cpu"], "cartpole_cpu_steps_per_s": 1.0 / m["b_cpu"],
        "ratio_to_cartpole_cpu": m["a_cpu"] / m["b_cpu"],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=200_000, help="steps per round and env")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=str(RESULTS_DIR / "env_speed.json"))
    args = ap.parse_args(argv)

    from agenticrs.envs.backends import TableBackend, table_path

    path = table_path("autotrain", "synthetic")
    backend = TableBackend(path) if path.exists() else TableBackend(stand_in_table())
    table = str(path) if path.exists() else "in-memory stand-in (shipped table not built yet)"

    def autotrain(unwrapped: bool = False) -> gym.Env:
        env = gym.make(ENV_ID, backend=backend)
        return env.unwrapped if unwrapped else env

    def cartpole(unwrapped: bool = False) -> gym.Env:
        env = gym.make("CartPole-v1")
        return env.unwrapped if unwrapped else env

    load_before = os.getloadavg()
    wrapped = _summary(compare(autotrain, cartpole, args.steps, args.rounds))
    unwrapped = _summary(compare(lambda: autotrain(True), lambda: cartpole(True), args.steps, args.rounds))
    out = {
        **run_header(),
        "table": table,
        "steps_per_round": args.steps,
        "rounds": args.rounds,
        "load_average_before_after": [load_before[0], os.getloadavg()[0]],
        "gym_make": wrapped,
        "unwrapped": unwrapped,
        "targets": {"min_steps_per_s": 50_000, "max_ratio_to_cartpole": 3.0},
    }
    out["meets_targets_wall"] = bool(wrapped["autotrain_steps_per_s"] >= 50_000 and wrapped["ratio_to_cartpole"] <= 3.0)
    out["meets_targets_cpu"] = bool(wrapped["autotrain_cpu_steps_per_s"] >= 50_000
                                    and wrapped["ratio_to_cartpole_cpu"] <= 3.0)
    write_json_atomic(args.out, out)
    g = out["gym_make"]
    print(f"AutoTrain-v0 (table, gym.make): {g['autotrain_steps_per_s']:,.0f} steps/s wall "
          f"({g['autotrain_us_per_step']:.1f} us/step), {g['autotrain_cpu_steps_per_s']:,.0f} steps/s of CPU time")
    print(f"CartPole-v1   (gym.make):       {g['cartpole_steps_per_s']:,.0f} steps/s wall "
          f"({g['cartpole_us_per_step']:.1f} us/step), {g['cartpole_cpu_steps_per_s']:,.0f} steps/s of CPU time")
    print(f"ratio to CartPole: {g['ratio_to_cartpole']:.2f}x wall, {g['ratio_to_cartpole_cpu']:.2f}x CPU "
          f"(unwrapped: {out['unwrapped']['ratio_to_cartpole']:.2f}x); load average "
          f"{out['load_average_before_after'][0]:.1f} -> {out['load_average_before_after'][1]:.1f}")
    print(f"targets >= 50,000 steps/s and <= 3x CartPole: wall {'met' if out['meets_targets_wall'] else 'NOT met'}, "
          f"CPU time {'met' if out['meets_targets_cpu'] else 'NOT met'}")
    print(f"table: {table}; written to {args.out}")
    return out


if __name__ == "__main__":
    main()
