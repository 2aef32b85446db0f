"""RLlib PPO training throughput on AutoTrain (table backend): env steps per second.

Trains PPO (the action-masking module, default hyperparameters of
``agenticrs.policies.rllib_adapter``) for a few iterations with 0 env runners (sampling in
the driver) and with N remote env runners, and reports env steps sampled per wall second
of ``algo.train()`` (sampling + learning; the first iteration is warm-up and excluded).
Uses the shipped table when it exists, else an in-memory stand-in of the same shape (lookup
speed does not depend on the values).

    python -m agenticrs.benchmarks.policy_throughput [--runners 0,2] [--iterations 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from agenticrs.benchmarks.common import RESULTS_DIR, run_header, write_json_atomic


def measure(runners: int, iterations: int, table: str, batch: int, envs_per_runner: int) -> dict[str, Any]:
    from agenticrs.policies.rllib_adapter import build_config
    from agenticrs.policies.training import TrainSpec

    spec = TrainSpec(env_kwargs={"backend": "table", "backend_kwargs": {"table": table}},
                     num_env_runners=runners, num_envs_per_env_runner=envs_per_runner,
                     hparams={"train_batch_size_per_learner": batch})
    algo = build_config(spec).build_algo()
    try:
        rates, sample_rates = [], []
        for i in range(iterations + 1):
            t0 = time.perf_counter()
            result = algo.train()
            dt = time.perf_counter() - t0
            steps = result["env_runners"]["num_env_steps_sampled"]
            if i:  # the first iteration compiles and warms caches
                rates.append(steps / dt)
                sample_t = result.get("timers", {}).get("env_runner_sampling_timer")
                if sample_t:
                    sample_rates.append(steps / sample_t)
        return {"env_runners": runners, "envs_per_runner": envs_per_runner, "train_batch_size": batch,
                "iterations": iterations, "steps_per_s": statistics.median(rates),
                "sampling_only_steps_per_s": statistics.median(sample_rates) if sample_rates else None}
    finally:
        algo.stop()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runners", default="0,2", help="comma-separated env runner counts")
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--batch", type=int, default=1000, help="train_batch_size_per_learner")
    ap.add_argument("--envs-per-runner", type=int, default=1)
    ap.add_argument("--out", default=str(RESULTS_DIR / "policy_throughput.json"))
    args = ap.parse_args(argv)

    import ray

    from agenticrs.envs.backends import table_path

    shipped = table_path("autotrain", "synthetic")
    tmp = None
    if shipped.exists():
        table, table_note = str(shipped), str(shipped)
    else:
        from agenticrs.benchmarks.env_speed import stand_in_table

        tmp = tempfile.TemporaryDirectory()
        table = str(Path(tmp.name) / "standin.jsonl.gz")
        stand_in_table().save(table)
        table_note = "in-memory stand-in (shipped table not built yet)"
    counts = [int(r) for r in args.runners.split(",")]
    load = os.getloadavg()[0]
    from agenticrs.policies.ray_util import init_ray

    init_ray(num_cpus=max(2, max(counts) + 1))
    try:
        rows = [measure(n, args.iterations, table, args.batch, args.envs_per_runner) for n in counts]
    finally:
        ray.shutdown()
        if tmp is not None:
            tmp.cleanup()
    out = {**run_header(), "table": table_note, "load_average_before_after": [load, os.getloadavg()[0]],
           "results": rows}
    write_json_atomic(args.out, out)
    for r in rows:
        print(f"RLlib PPO, {r['env_runners']} env runners x {r['envs_per_runner']} envs: "
              f"{r['steps_per_s']:,.0f} env steps/s (train iteration), "
              f"sampling alone {r['sampling_only_steps_per_s'] or float('nan'):,.0f} steps/s")
    print(f"load average {out['load_average_before_after'][0]:.1f} -> {out['load_average_before_after'][1]:.1f}; "
          f"written to {args.out}")
    return out


if __name__ == "__main__":
    main()
