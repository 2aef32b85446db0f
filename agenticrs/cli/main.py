"""Entry point of the ``agenticrs`` console script."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from agenticrs import __version__
from agenticrs.cli import bench, build_table, envs, evaluate, evolve, knowledge, quickstart, recsys, train, validate
from agenticrs.cli import paper_autotrain
from agenticrs.cli import autotune
from agenticrs.cli.errors import CLIError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agenticrs", description="Recommender systems that evolve themselves: envs, policies, recsys core."
    )
    parser.add_argument("--version", action="version", version=f"agenticrs {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("recsys", help="recommender commands (train)")
    recsys.add_train_parser(rec.add_subparsers(dest="recsys_command", required=True))
    recsys.add_datasets_parser(sub)
    quickstart.add_parser(sub)
    for module in (envs, build_table, knowledge, validate, train, evaluate, bench, evolve, paper_autotrain, autotune):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CLIError as e:  # a user-fixable problem: one line, no traceback (argparse's style and status)
        print(f"agenticrs {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
