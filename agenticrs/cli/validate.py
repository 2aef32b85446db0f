"""``agenticrs validate EPISODE.json``: replay a recorded episode and check that its rewards reproduce.

Exit status: 0 when every reward reproduces within tolerance, 1 when they do not (or the
replay fails), 2 for bad input (missing or malformed file, unknown env).

Table and surrogate backends must reproduce exactly (default tolerance 1e-9). A live
replay retrains every trial: metrics move with training noise and the cost term with the
machine's speed, so ``--backend live`` defaults to ``--rtol 0.1 --atol 0.01``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from agenticrs.cli.envs import UnknownEnvError, env_record

EXACT = (1e-9, 1e-12)
LIVE = (0.1, 0.01)
"""Default ``(rtol, atol)`` for exact (table, surrogate) and live replays."""
TABLE_KINDS = {"table", "surrogate"}
"""Backend kinds built from a table: switching between them keeps the recorded ``backend_kwargs``."""


class LiveLikeTable:
    """The live backend, with the reward scale of a table episode (its table's best known metric).

    ``AutoTrainEnv`` normalises metrics by the task's best known value; a table episode got
    it from its table, a plain live env from the shipped table. Replaying a table episode
    live must use the recording's scale, or the rewards differ by that factor alone.
    """

    kind = "live"

    def __init__(self, table: str, **live_kwargs: Any):
        from agenticrs.envs.backends import LiveBackend

        self.table = table
        self.live = LiveBackend(**live_kwargs)

    def evaluate(self, task: Any, config: Any, fidelity: float, seed: int) -> Any:
        return self.live.evaluate(task, config, fidelity, seed)

    def best_known(self, task: Any, metric: str) -> float | None:
        from agenticrs.envs.autotrain import best_known_in_table
        from agenticrs.envs.backends import load_table

        return best_known_in_table(load_table(self.table), task.name, metric)

    def close(self) -> None:
        self.live.close()


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="replay a recorded episode and report whether its rewards reproduce",
                       description="Exit status 0: the rewards reproduce; 1: they do not; 2: bad input. "
                                   "Live replays default to --rtol 0.1 --atol 0.01, others to exact.")
    p.add_argument("episode", metavar="EPISODE.json", help="an episode saved by record_episode / Episode.save")
    p.add_argument("--backend", default=None,
                   help="replay on this backend kind (table, live, surrogate, ...) instead of the recorded one")
    p.add_argument("--table", default=None, metavar="PATH", help="table file for a table or surrogate replay")
    p.add_argument("--rtol", type=float, default=None, help="relative tolerance per reward")
    p.add_argument("--atol", type=float, default=None, help="absolute tolerance per reward")
    p.add_argument("--json", default=None, metavar="OUT", help="also write the report as JSON to OUT")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from agenticrs.envs.replay import Episode, replay
    from agenticrs.io import write_json_atomic

    try:
        episode = Episode.load(args.episode)
        env_record(episode.env_id)
        if args.table is not None and not Path(args.table).is_file():
            raise FileNotFoundError(f"no table at {args.table}")
    except (FileNotFoundError, ValueError, UnknownEnvError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    backend = args.backend or episode.kwargs.get("backend")
    live = isinstance(backend, str) and backend.lower() == "live"
    rtol = args.rtol if args.rtol is not None else (LIVE if live else EXACT)[0]
    atol = args.atol if args.atol is not None else (LIVE if live else EXACT)[1]
    recorded_table = (episode.kwargs.get("backend_kwargs") or {}).get("table")
    table = args.table or recorded_table
    kwargs: dict[str, Any] = {}
    replay_backend: Any = args.backend
    recorded_live = str(episode.kwargs.get("backend")).lower() == "live"
    if live and table is not None:
        # The live backend takes no table; keep the recording's reward scale.
        replay_backend = LiveLikeTable(table)
        kwargs["backend_kwargs"] = {}
    elif live and not recorded_live:
        kwargs["backend_kwargs"] = {}  # the recorded ones belong to the recorded backend kind
    elif args.table is not None:
        kwargs["backend_kwargs"] = {**(episode.kwargs.get("backend_kwargs") or {}), "table": args.table}
    elif args.backend is not None and not {str(backend).lower(), str(episode.kwargs.get("backend"))} <= TABLE_KINDS:
        kwargs["backend_kwargs"] = {}  # the recorded ones belong to the recorded backend kind
    print(f"replaying {args.episode}: {episode.env_id}, task {episode.task}, seed {episode.seed}, "
          f"{len(episode.actions)} actions, backend {backend}", flush=True)
    try:
        report = replay(episode, backend=replay_backend, rtol=rtol, atol=atol, kwargs=kwargs)
    finally:
        if hasattr(replay_backend, "close"):
            replay_backend.close()
    print(report)
    if args.json:
        write_json_atomic(args.json, report.to_dict())
    return 0 if report.ok else 1
