"""``agenticrs quickstart``: the main job on the embedded default.

Trains the baseline recommenders on the package's synthetic dataset and prints one
metrics table, so a new user sees the whole recsys core work in about a minute.
"""

from __future__ import annotations

import argparse
import sys

from agenticrs.cli.table import metrics_table

DEFAULT_MODELS = "pop,itemknn,bprmf,gru4rec,sasrec,bert4rec"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quickstart", help="train the baselines on the embedded synthetic data and compare them")
    p.add_argument("--data", default="synthetic:", help="dataset URI (default: embedded synthetic)")
    p.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated registered model names")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--logdir", default="runs/quickstart", help="TensorBoard logs, one folder per model")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from agenticrs.recsys.data import load_dataset
    from agenticrs.recsys.training import TrainConfig, run_experiment

    dataset = load_dataset(args.data)
    split = dataset.split()
    print(f"dataset {args.data}: {dataset.n_users} users, {dataset.n_items} items, "
          f"{dataset.n_interactions} interactions", flush=True)
    results = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        tc = TrainConfig(epochs=args.epochs, seed=args.seed, patience=5, logdir=f"{args.logdir}/{name}",
                         progress=sys.stderr.isatty())
        r = run_experiment(dataset, name, None, tc, split=split)
        print(f"  {name}: valid ndcg@10 {r.valid['ndcg@10']:.4f} ({r.cost['train_seconds']:.1f}s)", flush=True)
        results.append(r)
    print("\ntest metrics (full ranking, leave-one-out, history excluded):")
    print(metrics_table(results))
    print(f"\nTensorBoard: tensorboard --logdir {args.logdir}")
    return 0
