"""Policy training throughput: env steps per second, RLlib (0/1/2 env runners) and SB3, on every
registered single-agent table env and on ``CartPole-v1`` with the same settings in the same run.

RLlib: PPO built by :func:`agenticrs.policies.rllib_adapter.build_config` (the package's module,
distribution, callbacks, one torch thread per process), ``algo.train()`` iterations of
``--batch`` env steps; the rate is steps / wall time of an iteration (sampling + learning; the
first iteration is warm-up and excluded), median over ``--iterations`` (every iteration's rate is
kept in ``iteration_steps_per_s``). SB3: PPO (``sb3_adapter.DEFAULTS``), ``model.learn`` of
``--sb3-steps`` after a warm-up rollout. ``ratio_to_cartpole`` divides each env's median rate by
CartPole's at the same framework, runner count and envs per runner, measured in the same run with
the envs' iterations interleaved (the load of a shared machine moves all of them alike);
``paired_ratio_to_cartpole`` is the median over rounds of the ratio to CartPole's iteration of the
same round (robust to load that changes between rounds). ``cpu_steps_per_s`` divides the steps by
the CPU seconds the iteration took in this thread (the learner; the env runner too with 0 runners)
and in the remote env runners' processes, so it and ``cpu_ratio_to_cartpole`` are nearly free of
the machine's load (Ray's own background threads are left out). Our envs use their shipped tables.

    python -m agenticrs.benchmarks.policy_throughput [--envs autotrain,cartpole] [--runners 0,1,2]
        [--envs-per-runner 1,4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

from agenticrs.benchmarks.common import RESULTS_DIR, run_header, write_json_atomic

CARTPOLE = "CartPole-v1"
ENVS = {
    "autotrain": ("agenticrs/AutoTrain-v0", {"backend": "table"}),
    "autofeature": ("agenticrs/AutoFeature-v0", {"backend": "table"}),
    "autoperf": ("agenticrs/AutoPerf-v0", {"backend": "table"}),
    "compose": ("agenticrs/Compose-v0", {"backend": "table"}),
    "cartpole": (CARTPOLE, {}),
}
"""Every registered single-agent env with a table backend (the multi-agent ``AgenticRS-v0`` and
the live-only ids are not throughput targets), and the reference."""


def build_rllib(env_id: str, env_kwargs: dict[str, Any], runners: int, batch: int, envs_per_runner: int) -> Any:
    from agenticrs.policies.rllib_adapter import build_config
    from agenticrs.policies.training import TrainSpec

    spec = TrainSpec(env_id=env_id, env_kwargs=env_kwargs, num_env_runners=runners,
                     num_envs_per_env_runner=envs_per_runner,
                     hparams={"train_batch_size_per_learner": batch, "minibatch_size": min(125, batch)})
    return build_config(spec).build_algo()


def _runner_cpu(env_runner: Any) -> float:
    return time.process_time()


def cpu_seconds(algo: Any, runners: int) -> float:
    """CPU seconds so far of this thread (the learner, and the env runner when there are 0) plus
    every remote env runner's process."""
    if not runners:
        return time.thread_time()
    return time.thread_time() + sum(algo.env_runner_group.foreach_env_runner(_runner_cpu, local_env_runner=False))


def measure_rllib(names: list[str], runners: int, iterations: int, batch: int,
                  envs_per_runner: int) -> list[dict[str, Any]]:
    """Every env's algorithm is built first, then their iterations are interleaved (env A, B, ...,
    A, B, ...), so a change of the machine's load hits every env alike."""
    algos = {n: build_rllib(*ENVS[n], runners, batch, envs_per_runner) for n in names}
    rates: dict[str, list[float]] = {n: [] for n in names}
    cpu_rates: dict[str, list[float]] = {n: [] for n in names}
    loads: list[float] = []
    try:
        for i in range(iterations + 1):
            for name, algo in algos.items():
                c0 = cpu_seconds(algo, runners)
                t0 = time.perf_counter()
                result = algo.train()
                dt = time.perf_counter() - t0
                busy = cpu_seconds(algo, runners) - c0
                if i:  # the first iteration builds and warms caches (RLlib's own timers keep it: not used)
                    steps = result["env_runners"]["num_env_steps_sampled"]
                    rates[name].append(steps / dt)
                    cpu_rates[name].append(steps / max(busy, 1e-9))
            loads.append(os.getloadavg()[0])
    finally:
        for algo in algos.values():
            algo.stop()
    ref, cpu_ref = rates.get("cartpole"), cpu_rates.get("cartpole")

    def cpu(n: str) -> dict[str, Any]:
        if not cpu_ref:
            return {}
        med = statistics.median(cpu_rates[n])
        return {"cpu_steps_per_s": round(med, 1), "cpu_ratio_to_cartpole": round(med / statistics.median(cpu_ref), 2)}

    return [{"env": n, "env_id": ENVS[n][0], "framework": "rllib", "env_runners": runners,
             "envs_per_runner": envs_per_runner, "steps_per_s": round(statistics.median(rates[n]), 1),
             "iteration_steps_per_s": [round(r, 1) for r in rates[n]],
             "paired_ratio_to_cartpole": round(statistics.median(a / b for a, b in zip(rates[n], ref)), 2)
             if ref else None,
             "load_average_1m": round(statistics.mean(loads), 2), **cpu(n)} for n in names]


def measure_sb3(env_id: str, env_kwargs: dict[str, Any], steps: int) -> dict[str, Any]:
    from stable_baselines3 import PPO

    from agenticrs.policies.sb3_adapter import DEFAULTS, make_vec_env
    from agenticrs.policies.training import TrainSpec, use_policy_threads

    spec = TrainSpec(env_id=env_id, env_kwargs=env_kwargs, framework="sb3")
    use_policy_threads(spec.threads)
    hp = dict(DEFAULTS)
    net_arch = hp.pop("net_arch")
    venv = make_vec_env(spec)
    try:
        model = PPO("MlpPolicy", venv, seed=0, device="cpu", verbose=0, policy_kwargs={"net_arch": net_arch}, **hp)
        model.learn(hp["n_steps"])  # warm-up rollout and update
        t0 = time.perf_counter()
        model.learn(steps, reset_num_timesteps=False)
        return {"framework": "sb3", "env_runners": 0, "envs_per_runner": 1,
                "steps_per_s": round(steps / (time.perf_counter() - t0), 1)}
    finally:
        venv.close()


def with_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Adds ``ratio_to_cartpole`` (steps/s over CartPole's at the same framework, runners and envs per runner)."""
    def key(r: dict[str, Any]) -> tuple[str, int, int]:
        return r["framework"], r["env_runners"], r["envs_per_runner"]

    ref = {key(r): r["steps_per_s"] for r in rows if r["env"] == "cartpole"}
    for r in rows:
        base = ref.get(key(r))
        r["ratio_to_cartpole"] = round(r["steps_per_s"] / base, 2) if base else None
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--envs", default=",".join(ENVS), help=f"comma-separated, from {','.join(ENVS)}")
    ap.add_argument("--runners", default="0,1,2", help="comma-separated RLlib env runner counts")
    ap.add_argument("--iterations", type=int, default=3, help="measured RLlib iterations (after one warm-up)")
    ap.add_argument("--batch", type=int, default=500, help="RLlib train_batch_size_per_learner")
    ap.add_argument("--envs-per-runner", default="1", help="comma-separated num_envs_per_env_runner values")
    ap.add_argument("--sb3-steps", type=int, default=512, help="SB3 env steps measured (0: skip SB3)")
    ap.add_argument("--out", default=str(RESULTS_DIR / "policy_throughput.json"))
    args = ap.parse_args(argv)

    import ray

    from agenticrs.policies.ray_util import init_ray

    names = [n.strip() for n in args.envs.split(",") if n.strip()]
    unknown = sorted(set(names) - set(ENVS))
    if unknown:
        raise SystemExit(f"--envs: unknown {unknown}; choose from {sorted(ENVS)}")
    if "cartpole" not in names:
        names.append("cartpole")  # the reference of every ratio
    counts = [int(r) for r in args.runners.split(",")]
    vector = [int(v) for v in args.envs_per_runner.split(",")]
    load = os.getloadavg()
    # Logical CPUs for every env's runners at once (they are interleaved, never all busy).
    init_ray(num_cpus=max(2, len(names) * max(counts) + 1))
    rows: list[dict[str, Any]] = []
    try:
        for envs in vector:
            for runners in counts:
                for row in measure_rllib(names, runners, args.iterations, args.batch, envs):
                    rows.append(row)
                    print(f"rllib {runners} runners x {envs} envs {row['env']:12s} {row['steps_per_s']:8,.0f} steps/s",
                          flush=True)
    finally:
        ray.shutdown()
    if args.sb3_steps:
        for name in names:
            env_id, kwargs = ENVS[name]
            row = measure_sb3(env_id, kwargs, args.sb3_steps)
            rows.append({"env": name, "env_id": env_id, **row, "load_average_1m": os.getloadavg()[0]})
            print(f"sb3             {name:12s} {row['steps_per_s']:8,.0f} steps/s", flush=True)
    with_ratios(rows)
    out = {**run_header(), "settings": vars(args), "load_average_before": load, "load_average_after": os.getloadavg(),
           "results": rows}
    write_json_atomic(args.out, out)
    for r in rows:
        ratio, paired = r["ratio_to_cartpole"], r.get("paired_ratio_to_cartpole")
        print(f"{r['framework']:5s} {r['env_runners']} runners x {r['envs_per_runner']} envs  {r['env']:12s} "
              f"{r['steps_per_s']:8,.0f} steps/s  x{ratio if ratio is not None else float('nan'):.2f} CartPole"
              + (f" (paired x{paired:.2f})" if paired is not None else "")
              + (f" (CPU time x{r['cpu_ratio_to_cartpole']:.2f})" if "cpu_ratio_to_cartpole" in r else ""))
    print(f"load average {load[0]:.1f} -> {out['load_average_after'][0]:.1f}; written to {args.out}")
    return out


if __name__ == "__main__":
    main()
