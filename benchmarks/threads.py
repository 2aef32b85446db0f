"""Torch threads on a loaded machine: ``agenticrs evolve`` wall time, torch's default vs one thread.

Policy networks are tiny (two 64-unit layers): a forward/backward pass is microseconds of
arithmetic, so torch's default of one intra-op thread per core only adds synchronisation, and
when another process keeps the cores busy, every spin-wait of those threads competes with it.
Since the one-thread default (``TrainSpec.threads``, ``$AGENTICRS_TORCH_THREADS``) the default
should be the fast one. This runs a short ``agenticrs evolve`` twice per repeat, alternating
the order, with a second busy process (a pure-Python spin loop, one core) running meanwhile:

* ``default``: what a user gets (one torch thread);
* ``torch_default``: ``AGENTICRS_TORCH_THREADS=0`` (torch's own default, one thread per core).

``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` are removed from the children's environment so torch's
default really is one thread per core. Both runs produce identical results (same seeds).

    python -m agenticrs.benchmarks.threads [--timesteps 1024] [--seeds 2] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from agenticrs.benchmarks.common import RESULTS_DIR, run_header, write_json_atomic

MODES = {"default": None, "torch_default": "0"}
"""Mode -> ``$AGENTICRS_TORCH_THREADS`` (``None``: unset, the package default of one thread)."""

BUSY = "while True: pass"


def run_evolve(mode: str, args: argparse.Namespace, logdir: str) -> float:
    """Wall seconds of one ``agenticrs evolve`` in a fresh process under ``mode``."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env.pop("AGENTICRS_TORCH_THREADS", None)
    if MODES[mode] is not None:
        env["AGENTICRS_TORCH_THREADS"] = MODES[mode]
    cmd = [sys.executable, "-c", "import sys; from agenticrs.cli.main import main; sys.exit(main(sys.argv[1:]))",
           "evolve", "--timesteps", str(args.timesteps), "--seeds", str(args.seeds), "--budget", str(args.budget),
           "--baselines", "random", "--logdir", os.path.join(logdir, mode), "--no-progress"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"evolve ({mode}) failed:\n{proc.stderr[-3000:]}")
    return seconds


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--timesteps", type=int, default=1024, help="evolve --timesteps (PPO env steps)")
    ap.add_argument("--seeds", type=int, default=2, help="evolve --seeds (benchmark seeds per test task)")
    ap.add_argument("--budget", type=int, default=10, help="evolve --budget (trials per episode)")
    ap.add_argument("--repeats", type=int, default=1, help="pairs of runs (the order alternates)")
    ap.add_argument("--no-busy", action="store_true", help="without the second busy process")
    ap.add_argument("--out", default=str(RESULTS_DIR / "threads.json"))
    args = ap.parse_args(argv)

    busy = None if args.no_busy else subprocess.Popen([sys.executable, "-c", BUSY])
    load_before = os.getloadavg()
    runs: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as logdir:
            for r in range(args.repeats):
                order = list(MODES) if r % 2 == 0 else list(reversed(MODES))
                for mode in order:
                    seconds = run_evolve(mode, args, logdir)
                    runs.append({"mode": mode, "seconds": round(seconds, 2), "load_average_1m": os.getloadavg()[0]})
                    print(f"{mode:14s} {seconds:7.1f} s  (load average {os.getloadavg()[0]:.1f})", flush=True)
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    mean = {m: sum(x["seconds"] for x in runs if x["mode"] == m) / args.repeats for m in MODES}
    out = {**run_header(), "settings": vars(args), "second_busy_process": not args.no_busy,
           "load_average_before": load_before, "load_average_after": os.getloadavg(), "runs": runs,
           "mean_seconds": mean, "torch_default_over_default": round(mean["torch_default"] / mean["default"], 2)}
    write_json_atomic(args.out, out)
    print(f"torch's default threads / one thread: {out['torch_default_over_default']:.2f}x wall time; "
          f"written to {args.out}")
    return out


if __name__ == "__main__":
    main()
