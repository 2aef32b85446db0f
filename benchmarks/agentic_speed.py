"""AgenticRS-v0 env speed: agent-steps per second of random joint actions on the default (cached) backend.

An *agent-step* is one agent's action in one round (a round of the four agents = 4
agent-steps), what RLlib counts as ``num_agent_steps_sampled``. The env is stepped through
its RLlib face (``make_from_config``, what an env runner steps) and its PettingZoo face, with
pre-sampled random joint actions over the embedded suite's train tasks, resets included, for
the default coupling (``layered``, with every mode reported) and ``difference``; the
median over rounds of wall and CPU time (``time.process_time``: meaningful on a loaded,
shared machine) is reported beside CartPole-v1 stepped in the same process, and the load
average.

Target (issue 27): the default backend lets RL training run >= 2,000 agent-steps/s on a
2-core machine.

    python -m agenticrs.benchmarks.agentic_speed [--rounds-per-run 5000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any, Callable

import numpy as np

from agenticrs.benchmarks.common import RESULTS_DIR, run_header, write_json_atomic

TARGET = 2000.0


def time_rounds(env: Any, n_rounds: int, seed: int = 0) -> tuple[float, float]:
    """``(wall, cpu)`` seconds per round over ``n_rounds`` random joint actions (resets included)."""
    rng = np.random.default_rng(seed)
    agents = list(env.possible_agents)
    spaces = {a: env.action_spaces[a] for a in agents}
    pool = [{a: rng.integers(0, spaces[a].nvec) for a in agents} for _ in range(1024)]
    env.reset(seed=seed)
    t, c = time.perf_counter(), time.process_time()
    for i in range(n_rounds):
        if not env.agents:
            env.reset()
        env.step(pool[i % len(pool)])
    return (time.perf_counter() - t) / n_rounds, (time.process_time() - c) / n_rounds


def measure(make: Callable[[], Any], n_rounds: int, runs: int) -> dict[str, float]:
    env = make()
    time_rounds(env, max(n_rounds // 5, 100), seed=99)  # warm-up: component tables loaded
    res = [time_rounds(env, n_rounds, seed=r) for r in range(runs)]
    wall, cpu = statistics.median(r[0] for r in res), statistics.median(r[1] for r in res)
    n = len(env.possible_agents)
    return {"agent_steps_per_s_wall": n / wall, "agent_steps_per_s_cpu": n / cpu, "us_per_round_wall": 1e6 * wall,
            "us_per_round_cpu": 1e6 * cpu}


def cartpole(n_steps: int, runs: int) -> dict[str, float]:
    import gymnasium as gym

    env = gym.make("CartPole-v1")
    env.action_space.seed(0)
    acts = [env.action_space.sample() for _ in range(1024)]
    out = []
    for _ in range(runs):
        env.reset(seed=0)
        t, c = time.perf_counter(), time.process_time()
        for i in range(n_steps):
            if any(env.step(acts[i % 1024])[2:4]):
                env.reset()
        out.append(((time.perf_counter() - t) / n_steps, (time.process_time() - c) / n_steps))
    return {"steps_per_s_wall": 1.0 / statistics.median(o[0] for o in out),
            "steps_per_s_cpu": 1.0 / statistics.median(o[1] for o in out)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds-per-run", type=int, default=5000, help="env rounds (4 agent-steps each) per run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=str(RESULTS_DIR / "agentic_speed.json"))
    args = ap.parse_args(argv)

    import agenticrs  # noqa: F401
    from agenticrs.envs.agentic import parallel_env
    from agenticrs.envs.registration import make_from_config

    load_before = os.getloadavg()
    results: dict[str, Any] = {}
    for coupling in ("layered", "difference"):
        results[f"rllib/{coupling}"] = measure(
            lambda: make_from_config("agenticrs/AgenticRS-v0", {"coupling": coupling}), args.rounds_per_run, args.runs)
        results[f"pettingzoo/{coupling}"] = measure(lambda: parallel_env(coupling=coupling), args.rounds_per_run,
                                                    args.runs)
    results["rllib/layered_dict_obs"] = measure(
        lambda: make_from_config("agenticrs/AgenticRS-v0", {"obs_mode": "dict"}), args.rounds_per_run, args.runs)
    ref = cartpole(4 * args.rounds_per_run, args.runs)
    default = results["rllib/layered"]
    out = {
        **run_header(), "backend": "cached (shipped component tables, training seed 0)",
        "tasks": "synthetic suite, train split", "rounds_per_run": args.rounds_per_run, "runs": args.runs,
        "load_average_before_after": [load_before[0], os.getloadavg()[0]], "results": results,
        "cartpole_v1_reference": ref, "target_agent_steps_per_s": TARGET,
        "meets_target_wall": bool(default["agent_steps_per_s_wall"] >= TARGET),
        "meets_target_cpu": bool(default["agent_steps_per_s_cpu"] >= TARGET),
    }
    write_json_atomic(args.out, out)
    for name, r in results.items():
        print(f"{name:28s} {r['agent_steps_per_s_wall']:>8,.0f} agent-steps/s wall  "
              f"{r['agent_steps_per_s_cpu']:>8,.0f} per CPU second  ({r['us_per_round_wall']:.0f} us/round)")
    print(f"CartPole-v1 reference        {ref['steps_per_s_wall']:>8,.0f} steps/s wall  "
          f"{ref['steps_per_s_cpu']:>8,.0f} per CPU second")
    verdict = {True: "met", False: "NOT met"}
    print(f"target >= {TARGET:,.0f} agent-steps/s (rllib/layered): wall {verdict[out['meets_target_wall']]}, "
          f"CPU time {verdict[out['meets_target_cpu']]}; load average "
          f"{load_before[0]:.1f} -> {out['load_average_before_after'][1]:.1f}; written to {args.out}")
    return out


if __name__ == "__main__":
    main()
