"""``agenticrs knowledge show|export``: read a KnowledgeStore (the shared SQLite knowledge layer)."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path
from typing import Any

DEFAULT_DB = "knowledge.sqlite"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("knowledge", help="show or export the trials and decisions of a knowledge store")
    cmds = p.add_subparsers(dest="knowledge_command", required=True)

    show = cmds.add_parser("show", help="summary: counts, runs, per-task status and best config, latest trials")
    _common(show)
    show.add_argument("--metric", default="ndcg@10", help="metric the best configuration is chosen by")
    show.add_argument("--limit", type=int, default=10, help="latest trials (and runs) listed (default 10)")
    show.set_defaults(func=cmd_show)

    export = cmds.add_parser("export", help="write trials or decisions as JSON lines or CSV")
    _common(export)
    export.add_argument("--out", required=True, help="output file (.csv -> CSV, anything else -> JSON lines)")
    export.add_argument("--format", choices=("jsonl", "csv"), default=None, help="override the format")
    export.add_argument("--table", choices=("trials", "decisions"), default="trials")
    export.add_argument("--env", default=None, help="only this env id")
    export.add_argument("--agent", default=None, help="only this agent")
    export.add_argument("--status", nargs="+", default=None, choices=("ok", "failed", "timeout"),
                        help="only trials with these statuses")
    export.set_defaults(func=cmd_export)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=DEFAULT_DB, help=f"the store's SQLite file (default ./{DEFAULT_DB})")
    p.add_argument("--run-id", default=None, help="only this run")
    p.add_argument("--task", default=None, help="only this task")


def open_store(path: str) -> Any:
    """Open an *existing* store (``KnowledgeStore`` would create a missing file).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not an agenticrs knowledge store.
    """
    from agenticrs.envs.knowledge import KnowledgeStore

    if not Path(path).is_file():
        raise FileNotFoundError(f"no knowledge store at {path} (pass --db PATH)")
    try:
        return KnowledgeStore(path)
    except (sqlite3.DatabaseError, RuntimeError) as e:  # RuntimeError: KnowledgeStoreError, schema trouble
        reason = str(e).removeprefix(f"{path}: ")
        raise ValueError(f"{path} is not a knowledge store ({reason})") from None


def cmd_show(args: argparse.Namespace) -> int:
    if args.limit < 0:
        return _error(f"--limit must be >= 0, got {args.limit}")
    try:
        store = open_store(args.db)
        print(store.show(run_id=args.run_id, task=args.task, metric=args.metric, limit=args.limit))
    except (FileNotFoundError, ValueError, sqlite3.DatabaseError) as e:
        return _error(e)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    filters: dict[str, Any] = {"run_id": args.run_id, "task": args.task, "env": args.env, "agent": args.agent}
    if args.status is not None:
        if args.table != "trials":
            return _error("--status filters trials only (decisions have no status)")
        filters["status"] = args.status
    try:
        store = open_store(args.db)
        n = store.export(args.out, args.format, table=args.table, **filters)
    except (FileNotFoundError, ValueError, sqlite3.DatabaseError, OSError) as e:
        return _error(e)
    print(f"wrote {n} {args.table} to {args.out}")
    return 0


def _error(message: Any) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2
