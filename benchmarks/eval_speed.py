"""Full-ranking evaluation speed on Amazon Beauty, against the bare scoring it cannot avoid.

Measured in one process on the same 64-dim SASRec and the same users:

* ``bare``: ``model.score`` for every test user (encoder forward + score matrix multiply)
  followed by ``torch.topk(k=20)`` — the least any full-ranking evaluation must do;
* ``matmul_topk``: only the final ``[users, dim] x [dim, items]`` multiply plus top-k, given
  precomputed user states (reported for context);
* ``evaluate``: :func:`agenticrs.recsys.evaluation.evaluate` over all users (padding,
  history masking, exact ranks, Recall/NDCG/MRR at 5/10/20).

Target (issue 2): ``evaluate`` takes at most 2x ``bare``. Also reports SASRec training
throughput (sequences/s) over one epoch.

    python -m agenticrs.benchmarks.eval_speed
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from agenticrs.benchmarks.common import RESULTS_DIR, run_header, write_json_atomic


def timed(fn, repeats: int) -> float:
    """Median wall seconds over ``repeats`` calls (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    from agenticrs.recsys.data import load_dataset
    from agenticrs.recsys.evaluation import evaluate
    from agenticrs.recsys.models import build_config, get_model, pad_histories
    from agenticrs.recsys.training import seed_everything

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="beauty")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--out", default=str(Path(RESULTS_DIR) / "eval_speed.json"))
    args = p.parse_args(argv)

    seed_everything(0)
    ds = load_dataset(args.data)
    split = ds.split()
    cls = get_model("sasrec")
    model = cls(ds.n_items, ds.n_users, build_config(cls, {"embedding_dim": 64}), ds).eval()
    hist = split.test.histories
    users = torch.from_numpy(split.test.users)
    bs = args.batch_size

    @torch.no_grad()
    def bare() -> None:
        for lo in range(0, len(hist), bs):
            inp = pad_histories(hist[lo : lo + bs], model.config.max_len)
            torch.topk(model.score(users[lo : lo + bs], inp), 20, dim=1)

    # User states for the matmul-only reference: the scores' left factor, from the same model.
    emb = torch.randn(len(hist), 64)
    items = torch.randn(ds.n_items + 1, 64)

    @torch.no_grad()
    def matmul_topk() -> None:
        for lo in range(0, len(hist), bs):
            torch.topk(emb[lo : lo + bs] @ items.T, 20, dim=1)

    def full() -> None:
        evaluate(model, split.test, (5, 10, 20), batch_size=bs)

    t_bare, t_mm, t_eval = timed(bare, args.repeats), timed(matmul_topk, args.repeats), timed(full, args.repeats)

    # Training throughput: one epoch of SASRec-CE and SASRec-BCE from the trainer's own counter.
    from agenticrs.recsys.training import TrainConfig, run_experiment

    throughput = {}
    for loss in ("bce", "ce"):
        r = run_experiment(ds, "sasrec", {"embedding_dim": 64, "loss": loss},
                           TrainConfig(epochs=1, progress=False, batch_size=256, valid_max_users=1000))
        throughput[f"sasrec_{loss}_sequences_per_second"] = r.train["history"][0]["time/sequences_per_second"]

    result = {
        **run_header("python -m agenticrs.benchmarks.eval_speed " + " ".join(argv or [])),
        "data": args.data,
        "users": len(hist),
        "items": ds.n_items,
        "seconds": {"bare_score_topk": t_bare, "matmul_topk": t_mm, "evaluate": t_eval},
        "ratio_evaluate_to_bare": t_eval / t_bare,
        "target_ratio": 2.0,
        "meets_target": t_eval / t_bare <= 2.0,
        **throughput,
    }
    write_json_atomic(args.out, result)
    print(f"{len(hist)} users x {ds.n_items} items: bare score+topk {t_bare:.2f}s, matmul+topk {t_mm:.2f}s, "
          f"evaluate {t_eval:.2f}s -> ratio {t_eval / t_bare:.2f} (target <= 2)")
    print(", ".join(f"{k} {v:.0f}" for k, v in throughput.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
