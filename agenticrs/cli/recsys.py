"""``agenticrs recsys train`` and ``agenticrs datasets``."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from typing import Any, Iterator

from agenticrs.cli.table import format_table, metrics_table
from agenticrs.io import write_json_atomic


def parse_sets(pairs: list[str]) -> dict[str, str]:
    """``["lr=0.01", "loss=ce"]`` -> ``{"lr": "0.01", "loss": "ce"}``; values are typed later per field."""
    out: dict[str, str] = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"error: --set expects key=value, got {p!r}")
        out[key.strip()] = value.strip()
    return out


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train and evaluate one recommender, print its metrics table")
    p.add_argument("--data", default="synthetic:", help="dataset URI or name (default: the embedded synthetic data)")
    p.add_argument("--model", required=True, help="registered model name (pop, itemknn, bprmf, gru4rec, sasrec, ...)")
    p.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: TrainConfig.epochs)")
    p.add_argument("--max-seconds", type=float, default=None,
                   help="wall-clock budget of the whole run in seconds: loading the data, building the model "
                        "(semantic ids), training and the final evaluation; training stops early enough for "
                        "the evaluation to fit")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--logdir", default=None, help="TensorBoard log directory")
    p.add_argument("--checkpoint", default=None, metavar="PATH",
                   help="save the training state to PATH after every epoch; the same command after an "
                        "interruption resumes from the last finished epoch (deleted once the run succeeds)")
    p.add_argument("--json", default=None, metavar="OUT", help="write the result as JSON to OUT")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a model or training field (repeatable), e.g. --set loss=ce --set lr=0.001")
    p.add_argument("--no-progress", action="store_true",
                   help="print no progress (default: a bar on a terminal, else a line per epoch on stderr)")
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    started = time.perf_counter()  # --max-seconds counts from here: data loading is part of the wait
    from agenticrs.recsys.data import load_dataset
    from agenticrs.recsys.models import get_model
    from agenticrs.recsys.training import build_train_config, run_experiment, split_overrides
    from agenticrs.recsys.training.checkpoint import remove as remove_checkpoint

    overrides = parse_sets(args.set)
    try:
        cls = get_model(args.model)
        model_over, train_over = split_overrides(cls, overrides)
        base: dict[str, Any] = {"seed": args.seed, "device": args.device, "logdir": args.logdir,
                                "checkpoint": args.checkpoint,
                                "progress": not args.no_progress}
        if args.epochs is not None:
            base["epochs"] = args.epochs
        if args.max_seconds is not None:
            base["max_seconds"] = args.max_seconds
        tc = build_train_config(train_over, **base)
        dataset = load_dataset(args.data)
        deadline = started + args.max_seconds if args.max_seconds is not None else None
        with _info_lines(enabled=not args.no_progress):  # e.g. "building semantic ids for 4382 items"
            result = run_experiment(dataset, cls, model_over, tc, deadline=deadline)
    except (KeyError, ValueError) as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    print(f"data: {args.data}  ({dataset.n_users} users, {dataset.n_items} items)  "
          f"stopped: {result.train['stopped_because']} after {result.cost['epochs']} epochs  "
          f"wall time: {time.perf_counter() - started:.0f}s")
    print(metrics_table([result]))
    if args.json:
        write_json_atomic(args.json, {k: v for k, v in result.to_dict().items() if k != "train"}
                   | {"train": {k: v for k, v in result.train.items() if k != "history"}})
        print(f"wrote {args.json}")
    remove_checkpoint(args.checkpoint)  # the result is printed and written: nothing left to resume
    return 0


@contextlib.contextmanager
def _info_lines(enabled: bool) -> Iterator[None]:
    """Show the recsys package's INFO log records (long preparatory steps) as plain stderr lines."""
    if not enabled:
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("agenticrs.recsys")
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def add_datasets_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("datasets", help="list known datasets and their statistics")
    p.set_defaults(func=cmd_datasets)


def cmd_datasets(args: argparse.Namespace) -> int:
    from agenticrs.recsys.data import list_datasets

    rows = []
    for d in list_datasets():
        s = d.get("stats") or {}
        rows.append([d["name"], d["uri"], "yes" if d.get("available") else "no",
                     int(s.get("users", 0)) if s else "-", int(s.get("items", 0)) if s else "-",
                     int(s.get("interactions", 0)) if s else "-",
                     f"{s['mean_length']:.1f}" if s else "-", f"{s['text_coverage']:.2f}" if s else "-"])
    print(format_table(["name", "uri", "available", "users", "items", "interactions", "mean len", "text"], rows))
    return 0
