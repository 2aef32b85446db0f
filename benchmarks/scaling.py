"""Scaling: table-build trial throughput and RLlib env steps/s with 1 and 2 workers, and an estimate
for 10- and 100-node clusters (``benchmarks/results/scaling.md``).

Measured here:

* **table build**: ``build_table`` of a small live scope (one task, one seed, closed-form and
  BPR-MF configurations, real trials in the warm worker pool) with ``workers`` = 1 and 2,
  after a discarded warm-up build, in the order 1, 2, 2, 1 (means): trials per second and the
  ratio to linear (``rate(2) / (2 * rate(1))``);
* **driver ceiling**: the same builder with an instant backend (every trial returns at once):
  the trials per second the driver itself can journal (one fsynced line per trial) and hand
  out, i.e. the build's rate when trials cost nothing;
* **RLlib**: PPO on AutoTrain (table backend) with 1 and 2 env runners: env steps/s, and the
  learner's share of an iteration (what more runners cannot shrink).

The estimate combines these with the shipped tables' own per-trial costs (their headers).

    python -m agenticrs.benchmarks.scaling [--trials 8] [--iterations 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from agenticrs.benchmarks.common import RESULTS_DIR, run_header, write_json_atomic, write_text_atomic

CORES_PER_NODE = 16
"""Cores per node in the estimate (the lent GPU machines have 16)."""


def _scope(limit: int) -> tuple[list[Any], list[Any]]:
    from agenticrs.cli.build_table import select_pairs
    from agenticrs.cli.envs import env_action_space
    from agenticrs.envs.suites import get_suite

    pairs = select_pairs(env_action_space("agenticrs/AutoTrain-v0"), ["pop", "itemknn", "bprmf"], None, limit)
    return pairs, [get_suite("synthetic").task("syn-sparse")]


def table_rate(workers: int, limit: int, folder: Path) -> dict[str, Any]:
    """Trials per second of a live build of ``limit`` configurations with ``workers`` at once."""
    from agenticrs.envs.backends.live import POOL, LiveBackend, trial_threads
    from agenticrs.envs.table_builder import build_table

    pairs, tasks = _scope(limit)
    threads = trial_threads(workers)
    for _ in range(workers):  # warm pool workers first: the rate is the steady state, not start-up
        POOL.prestart((), 600.0)
    warm = [POOL.acquire((), 600.0) for _ in range(workers)]
    for w in warm:
        POOL.release(w, ())
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"w{workers}.jsonl.gz"
    t0 = time.perf_counter()
    summary = build_table(pairs, tasks, [0], out, workers=workers, progress=False, task_meta=None,
                          backend=lambda: LiveBackend(timeout_s=600, threads=threads, prestart=False))
    wall = time.perf_counter() - t0
    return {"workers": workers, "threads_per_trial": threads, "trials": summary.total, "wall_s": round(wall, 2),
            "trials_per_s": round(summary.total / wall, 3), "load_average_1m": os.getloadavg()[0]}


class _Instant:
    """A backend whose trials cost nothing: what is left is the builder's own work per trial."""

    kind = "instant"

    def evaluate(self, task: Any, config: Any, fidelity: float, seed: int) -> Any:
        from agenticrs.envs.core import TrialResult

        return TrialResult(config, task.name, fidelity, seed, "ok", {"ndcg@10": 0.1}, {"ndcg@10": 0.1},
                           {"seconds": 0.0})


def driver_ceiling(folder: Path, seeds: int = 8) -> dict[str, Any]:
    from agenticrs.cli.envs import env_action_space
    from agenticrs.envs.suites import get_suite
    from agenticrs.envs.table_builder import build_table

    pairs = list(env_action_space("agenticrs/AutoTrain-v0").enumerate())
    tasks = [get_suite("synthetic").task("syn-sparse")]
    t0 = time.perf_counter()
    summary = build_table(pairs, tasks, range(seeds), folder / "instant.jsonl.gz", workers=2, progress=False,
                          task_meta=None, backend=_Instant())
    wall = time.perf_counter() - t0
    return {"trials": summary.total, "wall_s": round(wall, 2), "trials_per_s": round(summary.total / wall, 1)}


def rllib_rates(iterations: int, batch: int) -> list[dict[str, Any]]:
    from agenticrs.benchmarks.policy_throughput import build_rllib, ENVS

    rows = []
    for runners in (1, 2):
        algo = build_rllib(*ENVS["autotrain"], runners, batch, 1)
        try:
            rates, learn_share = [], []
            for i in range(iterations + 1):
                t0 = time.perf_counter()
                result = algo.train()
                dt = time.perf_counter() - t0
                if i:
                    rates.append(result["env_runners"]["num_env_steps_sampled"] / dt)
                    timers = result.get("timers", {})  # RLlib's smoothed per-iteration timers
                    if timers.get("training_iteration"):
                        learn_share.append(timers.get("learner_update_timer", 0.0) / timers["training_iteration"])
            rows.append({"env_runners": runners, "steps_per_s": round(statistics.median(rates), 1),
                         "learner_share": round(statistics.median(learn_share), 3) if learn_share else 0.0,
                         "load_average_1m": os.getloadavg()[0]})
        finally:
            algo.stop()
    return rows


def shipped_costs() -> dict[str, dict[str, float]]:
    """Per table: trials, summed trial seconds, longest trial (from the shipped tables)."""
    from agenticrs.envs.backends import Table, table_path

    out = {}
    for name in ("autotrain", "autofeature", "autoperf", "compose"):
        path = table_path(name, "synthetic")
        if not path.exists():
            continue
        table = Table.load(path)
        secs = [float(r.cost.get("seconds", 0.0)) for r in table.results()]
        out[name] = {"trials": len(secs), "trial_seconds": round(sum(secs), 1), "longest_s": round(max(secs), 1),
                     "built_with_workers": table.header.get("build", {}).get("workers")}
    return out


def estimate(nodes: int, costs: dict[str, float], efficiency: float, ceiling: float) -> float:
    """Hours to build a table on ``nodes`` x ``CORES_PER_NODE`` one-CPU trials: the larger of the
    compute (summed trial seconds / cores / efficiency), the longest trial, and the driver's
    journaling of every trial at its measured ceiling."""
    cores = nodes * CORES_PER_NODE
    compute = costs["trial_seconds"] / (cores * max(efficiency, 1e-3))
    return max(compute, costs["longest_s"], costs["trials"] / ceiling) / 3600.0


def write_markdown(out: dict[str, Any], path: Path) -> None:
    t1, t2 = out["table"]
    r1, r2 = out["rllib"]
    eff = out["table_ratio_to_linear"]
    largest = max(out["shipped"], key=lambda n: out["shipped"][n]["trial_seconds"])
    c = out["shipped"][largest]
    lines = [
        "# Scaling: measured on this machine, estimated for clusters",
        "",
        f"Measured {out['date']} on {out['machine']['cpu']} ({out['machine']['cores']} cores, shared with other "
        f"jobs: load average {out['load_average_before'][0]:.1f} before, {out['load_average_after'][0]:.1f} after). "
        f"Command: `{out['command']}`.",
        "",
        "| what | 1 worker | 2 workers | ratio to linear |",
        "|---|---|---|---|",
        f"| table build, live trials/s ({t1['trials']} trials) | {t1['trials_per_s']:.3f} | {t2['trials_per_s']:.3f} "
        f"| {eff:.2f} |",
        f"| RLlib PPO AutoTrain env steps/s (env runners) | {r1['steps_per_s']:.0f} | {r2['steps_per_s']:.0f} "
        f"| {out['rllib_ratio_to_linear']:.2f} |",
        "",
        f"Driver ceiling (instant trials, journal fsync per trial): {out['driver']['trials_per_s']:.0f} trials/s. "
        f"RLlib learner share of an iteration: {r1['learner_share']:.0%} (1 runner), {r2['learner_share']:.0%} "
        f"(2 runners). With 2 cores and other jobs running, 2 workers cannot reach 2x here; the ratios say how "
        f"much of the second core the second worker got, not how a cluster scales.",
        "",
        f"## Estimate for {CORES_PER_NODE}-core nodes (one CPU per trial)",
        "",
        "| table | trials | summed trial s | longest trial s | 1 node (h) | 10 nodes (h) | 100 nodes (h) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, costs in out["shipped"].items():
        hours = [estimate(n, costs, min(1.0, max(eff, 0.8)), out["driver"]["trials_per_s"]) for n in (1, 10, 100)]
        lines.append(f"| {name} | {costs['trials']} | {costs['trial_seconds']:.0f} | {costs['longest_s']:.1f} | "
                     + " | ".join(f"{h:.3f}" for h in hours) + " |")
    ceiling = out["driver"]["trials_per_s"]

    def parts(nodes: int) -> tuple[float, float, float]:
        """(compute s at 80% efficiency, driver journaling s, longest trial s) for the largest table."""
        return c["trial_seconds"] / (nodes * CORES_PER_NODE * 0.8), c["trials"] / ceiling, c["longest_s"]

    names = ("compute", "the head node's driver (table writer)", "the longest trial")
    lines.append("")
    for nodes in (10, 100):
        p = parts(nodes)
        lines.append(
            f"* **{nodes} nodes** ({nodes * CORES_PER_NODE} cores), largest table ({largest}, {c['trials']} trials, "
            f"{c['trial_seconds']:.0f} trial-seconds): compute {p[0]:.0f} s, driver {p[1]:.0f} s "
            f"({ceiling:.0f} trials/s: it hands out every trial and fsyncs one journal line per result), "
            f"longest trial {p[2]:.0f} s; bottleneck: **{names[p.index(max(p))]}** "
            f"(against {c['trial_seconds'] / 3600 / 2:.1f} h of compute on this 2-core machine). "
            f"`--workers` must be at least the cluster's cores: it bounds the trials in flight.")
    lines += [
        f"* Beyond ~100 nodes the driver is the limit: batch its journal fsyncs, or shard the build "
        f"(`--tasks` per driver) and merge tables. The object store is not a bottleneck while trials name "
        f"their dataset by URI (a request is a few KB); in-memory datasets (`LiveBackend(datasets=...)`) "
        f"travel with every request and would make it one.",
        f"* **RLlib**: the learner runs in the driver (`num_learners=0`) and took {r2['learner_share']:.0%} of an "
        f"iteration with 2 runners here; by Amdahl's law more env runners can shorten an iteration by at most "
        f"{1 / max(r2['learner_share'], 1e-3):.1f}x. At 10-100 nodes the **single learner** is the bottleneck: "
        f"use `num_learners` > 0 (GPUs) and a larger `train_batch_size_per_learner`; env runners (table-backed "
        f"envs cost 0.3-1.8 ms per step) scale with nodes until then.",
    ]
    write_text_atomic(path, "\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=12, help="live trials per table build")
    ap.add_argument("--iterations", type=int, default=2, help="measured RLlib iterations per runner count")
    ap.add_argument("--batch", type=int, default=500, help="RLlib train_batch_size_per_learner")
    ap.add_argument("--out", default=str(RESULTS_DIR / "scaling.json"))
    ap.add_argument("--markdown", default=str(RESULTS_DIR / "scaling.md"))
    args = ap.parse_args(argv)

    import ray

    from agenticrs.policies.ray_util import init_ray

    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        table_rate(2, args.trials, folder / "warm-up")  # both pool workers load the data and warm torch
        runs = [table_rate(w, args.trials, folder / f"run{i}") for i, w in enumerate((1, 2, 2, 1))]
        table = [{**[r for r in runs if r["workers"] == w][0],
                  "trials_per_s": round(statistics.mean(r["trials_per_s"] for r in runs if r["workers"] == w), 3),
                  "runs": [r["trials_per_s"] for r in runs if r["workers"] == w]} for w in (1, 2)]
        driver = driver_ceiling(folder)
    init_ray(num_cpus=3)
    try:
        rllib = rllib_rates(args.iterations, args.batch)
    finally:
        ray.shutdown()
    header = run_header()
    out = {**header, "cpu": header["machine"]["cpu"], "settings": vars(args), "load_average_before": load,
           "load_average_after": os.getloadavg(), "table": table, "driver": driver, "rllib": rllib,
           "table_ratio_to_linear": round(table[1]["trials_per_s"] / (2 * table[0]["trials_per_s"]), 2),
           "rllib_ratio_to_linear": round(rllib[1]["steps_per_s"] / (2 * rllib[0]["steps_per_s"]), 2),
           "shipped": shipped_costs(), "cores_per_node": CORES_PER_NODE}
    write_json_atomic(args.out, out)
    write_markdown(out, Path(args.markdown))
    print(Path(args.markdown).read_text())
    return out


if __name__ == "__main__":
    main()
