"""Training speed of the generative models: what length bucketing and bf16 buy, per training target.

One process, one model initialisation per variant, the same dataset and batch size; each
variant trains ``--batches`` batches (forward, backward, gradient clip, Adam step) taken from
the start of an epoch of the model's own batch iterator, after ``--warmup`` batches that
are not timed. Variants:

* ``reference``: random batches (every history padded to the batch's longest), fp32;
* ``bucketed``: batches of similar history length (``bucket_by_length=True``), fp32;
* ``bucketed_bf16``: the same under ``torch.autocast`` bfloat16 (``TrainConfig.precision``).

Reported as milliseconds per training target and as speed-ups over ``reference`` measured
in the same run, so the ratios hold on a loaded machine better than the absolute times.
Run it on an idle machine for absolute numbers:

    python -m agenticrs.benchmarks.generative_speed --data beauty --models tiger,lwgr --threads 1
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agenticrs.benchmarks.common import RESULTS_DIR, run_header, write_json_atomic

VARIANTS: dict[str, dict[str, Any]] = {
    "reference": {"bucket_by_length": False, "precision": "fp32"},
    "bucketed": {"bucket_by_length": True, "precision": "fp32"},
    "bucketed_bf16": {"bucket_by_length": True, "precision": "bf16"},
}


def time_variant(dataset: Any, split: Any, model_name: str, config: dict[str, Any], precision: str,
                 batches: int, warmup: int, batch_size: int, seed: int) -> dict[str, float]:
    """Train ``warmup + batches`` batches; the time of the last ``batches`` per target."""
    from agenticrs.recsys.models import build_config, get_model
    from agenticrs.recsys.training import seed_everything

    seed_everything(seed)
    cls = get_model(model_name)
    model = cls(dataset.n_items, dataset.n_users, build_config(cls, config), dataset)
    model.fit(split)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
    it = model.batches(split.train, batch_size, np.random.default_rng(seed))
    targets, start = 0, 0.0
    for i in range(warmup + batches):
        batch = next(it, None)
        if batch is None:
            raise SystemExit(f"--warmup + --batches ({warmup + batches}) exceed one epoch of {model_name}")
        if i == warmup:
            start = time.perf_counter()
        with autocast:
            loss = model.loss(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        if i >= warmup:
            targets += len(batch.targets)
    seconds = time.perf_counter() - start
    return {"ms_per_target": 1000 * seconds / targets, "targets": targets, "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    from agenticrs.recsys.data import load_dataset

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="beauty")
    p.add_argument("--models", default="tiger,lwgr")
    p.add_argument("--batches", type=int, default=40)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--set", action="append", default=["dropout=0"], metavar="KEY=VALUE",
                   help="model config override (default: dropout=0, as in the committed generative runs)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(Path(RESULTS_DIR) / "generative_speed.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    overrides = dict(item.split("=", 1) for item in args.set)
    header = run_header()
    dataset = load_dataset(args.data)
    split = dataset.split()
    results: dict[str, dict[str, Any]] = {}
    for name in [m.strip() for m in args.models.split(",")]:
        results[name] = {}
        for variant, v in VARIANTS.items():
            config = {**overrides, "bucket_by_length": v["bucket_by_length"]}
            results[name][variant] = time_variant(dataset, split, name, config, v["precision"], args.batches,
                                                  args.warmup, args.batch_size, args.seed)
            print(f"{name:6s} {variant:14s} {results[name][variant]['ms_per_target']:.2f} ms/target", flush=True)
        ref = results[name]["reference"]["ms_per_target"]
        for variant in VARIANTS:
            results[name][variant]["speedup"] = ref / results[name][variant]["ms_per_target"]
    write_json_atomic(Path(args.out), {**header, "data": args.data, "batch_size": args.batch_size,
                                       "batches": args.batches, "overrides": overrides, "results": results})
    print("\n| model | " + " | ".join(VARIANTS) + " |\n|---|" + "---|" * len(VARIANTS))
    for name, r in results.items():
        print(f"| {name} | " + " | ".join(f"{r[v]['ms_per_target']:.2f} ms ({r[v]['speedup']:.2f}x)"
                                         for v in VARIANTS) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
