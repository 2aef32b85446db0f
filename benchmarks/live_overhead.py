"""Live-trial overhead: wall time of ``LiveBackend.evaluate`` beyond the trial's own work.

A trial's own work is ``result.cost["seconds"]`` (training plus test evaluation, measured in
the worker); the overhead is everything else the caller waits for: the worker's start-up, the
request's pickling and pipe, dataset loading (cached per worker), model look-up. Measured, in
this process, with the default isolation (a worker subprocess from the shared warm pool):

* ``pool_start_s``: creating the first ``LiveBackend`` prestarts a worker; seconds until it is
  ready (the forkserver imports torch and the trainer once per process);
* ``first``: the first trial, requested as soon as the pool is ready (pays the dataset load);
* ``warm``: ``--trials`` more trials on the same backend (median overhead and its share);
* ``new_backend``: the first trial of a second backend (a new env, a clone per build thread):
  it takes the pooled worker, so it pays neither start-up nor the dataset load again.

    python -m agenticrs.benchmarks.live_overhead [--trials 4] [--epochs 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

from agenticrs.benchmarks.common import RESULTS_DIR, run_header, write_json_atomic

TASK_DATA = "synthetic:users=350,items=300,seed=13,skew=1.0,seq_strength=0.5,text_signal=0.0,mean_length=8"
"""The ``syn-sparse`` task of the embedded suite."""


def timed(backend: Any, task: Any, config: Any, seed: int) -> dict[str, float]:
    t0 = time.perf_counter()
    result = backend.evaluate(task, config, 1.0, seed)
    wall = time.perf_counter() - t0
    if not result.ok:
        raise RuntimeError(f"trial failed: {result.reason}")
    own = float(result.cost["seconds"])
    return {"wall_s": round(wall, 3), "own_s": round(own, 3), "overhead_s": round(wall - own, 3),
            "overhead_share": round((wall - own) / own, 3)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=4, help="warm trials measured")
    ap.add_argument("--epochs", type=int, default=16, help="SASRec epochs per trial (sets the trial's length)")
    ap.add_argument("--out", default=str(RESULTS_DIR / "live_overhead.json"))
    args = ap.parse_args(argv)

    from agenticrs.envs.backends.live import POOL, LiveBackend
    from agenticrs.envs.core import Task, TrialConfig

    load = os.getloadavg()
    task = Task("syn-sparse", TASK_DATA)
    config = TrialConfig.make("sasrec", embedding_dim=32, epochs=args.epochs)
    t0 = time.perf_counter()
    backend = LiveBackend(timeout_s=600)  # prestarts a pooled worker in the background
    POOL.release(POOL.acquire((), 600.0), ())  # waits for that worker (it stays idle in the pool)
    pool_start = time.perf_counter() - t0
    first = timed(backend, task, config, 0)
    warm = [timed(backend, task, config, seed) for seed in range(1, args.trials + 1)]
    backend.close()  # its worker goes back to the pool
    with LiveBackend(timeout_s=600) as second:
        new_backend = timed(second, task, config, 99)
    out = {
        **run_header(), "settings": vars(args), "load_average_before": load, "load_average_after": os.getloadavg(),
        "pool_start_s": round(pool_start, 2), "first": first, "warm": warm, "new_backend": new_backend,
        "warm_median_overhead_s": statistics.median(w["overhead_s"] for w in warm),
        "warm_median_overhead_share": statistics.median(w["overhead_share"] for w in warm),
        "workers_started": POOL.started,
    }
    write_json_atomic(args.out, out)
    print(f"pool start-up {pool_start:.1f} s (once per process); first trial: own {first['own_s']:.2f} s, "
          f"overhead {first['overhead_s']:.2f} s; warm trials: median overhead {out['warm_median_overhead_s']:.3f} s "
          f"({100 * out['warm_median_overhead_share']:.1f}% of a {statistics.median(w['own_s'] for w in warm):.2f} s "
          f"trial); new backend's first trial: overhead {new_backend['overhead_s']:.3f} s; "
          f"{POOL.started} worker(s) started; load average {load[0]:.1f} -> {os.getloadavg()[0]:.1f}")
    return out


if __name__ == "__main__":
    main()
