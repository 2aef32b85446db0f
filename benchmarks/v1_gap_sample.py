"""A sampled estimate of AutoTrain-v1's default-order gap (no v1 table exists yet).

Trains a fixed random sample of v1 configurations (every closed-form one plus ``n_neural``
drawn uniformly from the trainable families, the same sample on every task) live on a few
synthetic suite tasks of different character, then applies
:func:`~agenticrs.benchmarks.default_gap.default_gap` to that small table. A sample can only
*under*-state a gap's ceiling and over-state how good the sampled best is, so read it as a
first look at whether the best configuration differs between tasks, not as the suite's
number. Results are appended to ``OUT/v1_sample.jsonl`` as they come (resumable).

    python -m agenticrs.benchmarks.v1_gap_sample --out DIR [--tasks syn-sparse,syn-sequential,syn-popular]
        [--n-neural 30] [--epochs 4]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np


def sample_configs(n_neural: int, seed: int = 0) -> list[Any]:
    """Every closed-form v1 configuration and ``n_neural`` trainable ones (seeded, uniform)."""
    from agenticrs.envs.spaces import CLOSED_FORM, SPACES, AutoTrainSpace

    configs = AutoTrainSpace(*SPACES["v1"]).configs()
    closed = [c for c in configs if c.model in CLOSED_FORM]
    neural = [c for c in configs if c.model not in CLOSED_FORM]
    pick = np.random.default_rng(seed).choice(len(neural), size=min(n_neural, len(neural)), replace=False)
    return closed + [neural[int(i)] for i in sorted(pick)]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from agenticrs.benchmarks.common import run_header, write_json_atomic, write_text_atomic
    from agenticrs.benchmarks.default_gap import default_gap, markdown
    from agenticrs.envs.backends.live import LiveBackend
    from agenticrs.envs.backends.table import Table
    from agenticrs.envs.core import TrialResult
    from agenticrs.envs.suites import get_suite

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--tasks", default="syn-sparse,syn-sequential,syn-popular")
    ap.add_argument("--n-neural", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=4)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "v1_sample.jsonl"
    done = {}
    if log.exists():
        for line in log.read_text().splitlines():
            r = TrialResult.from_dict(json.loads(line))
            done[(r.task, r.config)] = r
    suite = get_suite("synthetic")
    tasks = [suite.task(t) for t in args.tasks.split(",")]
    configs = sample_configs(args.n_neural)
    backend = LiveBackend(isolate=False, full_epochs=args.epochs, timeout_s=None)
    t0 = time.perf_counter()
    for task in tasks:
        for config in configs:
            if (task.name, config) in done:
                continue
            r = backend.evaluate(task, config, 1.0, 0)
            done[(task.name, config)] = r
            with log.open("a") as f:
                f.write(json.dumps(r.to_dict()) + "\n")
            print(f"{task.name} {config.model} {config.param_dict} -> {r.status} "
                  f"{r.valid.get('ndcg@10', float('nan')):.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    table = Table(done.values())
    names = [t.name for t in tasks]
    result = {**run_header(), "tasks": names, "configs": len(configs), "epochs": args.epochs,
              "seconds": round(time.perf_counter() - t0, 1),
              "in_sample": default_gap(table, names, names),
              "leave_one_out": {t: default_gap(table, [u for u in names if u != t], [t])["gap"][t] for t in names}}
    write_json_atomic(out / "v1_gap.json", result)
    text = markdown({**result, "train_to_test": result["in_sample"]},
                    f"AutoTrain-v1 sample ({len(configs)} configurations, tasks {', '.join(names)}, "
                    f"{args.epochs} epochs; date {result['date']})").split("## train -> test")[0]
    text += ("\n## leave one task out (default learned on the other tasks)\n\n| task | gap |\n|---|---|\n"
             + "".join(f"| {t} | {g:.4f} |\n" for t, g in result["leave_one_out"].items()))
    write_text_atomic(out / "v1_gap.md", text)
    print(text)
    return result


if __name__ == "__main__":
    main()
