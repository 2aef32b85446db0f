"""``agenticrs bench evolution``: the evolution benchmark protocol (see agenticrs.benchmarks.evolution)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    from agenticrs.benchmarks import evolution

    p = sub.add_parser("bench", help="benchmarks (evolution: policies vs search baselines, regret curves)")
    kinds = p.add_subparsers(dest="bench_command", required=True)
    ev = kinds.add_parser("evolution", help="regret vs trials and compute on a suite's test tasks; JSON, table, PNG")
    evolution.add_arguments(ev)
    ev.set_defaults(func=lambda args: (evolution.run_from_args(args), 0)[1])
