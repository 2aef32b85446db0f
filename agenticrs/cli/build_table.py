"""``agenticrs build-table``: precompute live results of an env's action space for the table backend.

Wraps :func:`agenticrs.envs.table_builder.build_table`: every canonical ``(config, fidelity)``
pair of the env's action space (``action_space.enumerate()``), on every task of the suite,
for ``--seeds`` seeds. Resumable (rerun the same command after an interruption: finished
trials are in ``OUT.partial.jsonl`` and are not run again), shows a progress bar, runs
``--workers`` trials at once, and runs them as Ray tasks on a cluster with ``--ray-address``.

    agenticrs build-table --env agenticrs/AutoTrain-v0 --suite synthetic \\
        --out envs/tables/autotrain__synthetic.jsonl.gz --seeds 3 --workers 2
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

from agenticrs.cli.envs import UnknownEnvError, env_action_space


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build-table", help="build a results table (table backend) for an env's action space on a task suite",
        description="Evaluate every canonical (config, fidelity) pair of the env's action space on every task "
                    "of the suite for --seeds seeds and write the table. Resumable: rerun the same command after "
                    "an interruption (finished trials are kept in OUT.partial.jsonl).",
    )
    p.add_argument("--env", required=True, help="registered env id, e.g. agenticrs/AutoTrain-v0")
    p.add_argument("--suite", required=True, help="registered task suite, e.g. synthetic")
    p.add_argument("--out", required=True, help="the table file to write (.jsonl.gz or .jsonl)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per entry, 0..N-1 (default 3: NAS-Bench style)")
    p.add_argument("--workers", type=int, default=2,
                   help="trials run at once (default 2); with --ray-address, Ray trial tasks in flight")
    p.add_argument("--ray-address", default=None, help="run trials as Ray tasks on this cluster ('auto', ray://...)")
    p.add_argument("--tasks", nargs="+", default=None, metavar="TASK", help="only these tasks of the suite")
    p.add_argument("--fidelities", nargs="+", type=float, default=None, metavar="F",
                   help="only these fidelities of the action space")
    p.add_argument("--families", nargs="+", default=None, metavar="MODEL",
                   help="only configurations of these model families")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="only the first N (config, fidelity) pairs (after --families/--fidelities): a small "
                        "scope, e.g. --tasks syn-mixed --seeds 1 --families pop itemknn --limit 4")
    p.add_argument("--timeout", type=float, default=600.0, help="live backend: seconds per trial before it is killed")
    p.add_argument("--full-epochs", type=int, default=None, help="live backend: epochs at fidelity 1.0")
    p.add_argument("--retry", nargs="+", default=(), choices=("failed", "timeout"),
                   help="run journaled trials with these statuses again")
    p.add_argument("--backend", default="live", help="backend kind that produces the results (default live)")
    p.add_argument("--backend-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="extra backend constructor argument (repeatable; VALUE parsed as JSON if it can be)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def parse_backend_args(pairs: list[str]) -> dict[str, Any]:
    """``["device=\\"cuda\\"", "threads=2"]`` -> ``{"device": "cuda", "threads": 2}`` (JSON, else string)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--backend-arg expects KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def select_pairs(space: Any, families: list[str] | None, fidelities: list[float] | None,
                 limit: int | None = None) -> list[tuple[Any, float]]:
    """The space's canonical ``(config, fidelity)`` pairs, restricted to ``families`` and
    ``fidelities``, then to the first ``limit``.

    Raises:
        ValueError: the env's space cannot be enumerated, or a family / fidelity is not in it.
    """
    if not callable(getattr(space, "enumerate", None)):
        raise ValueError(f"the env's action space ({type(space).__name__}) has no enumerate(): "
                         "only enumerable spaces (AutoTrainSpace) can be tabulated")
    pairs = list(space.enumerate())
    known_families = sorted({c.model for c, _ in pairs})
    known_fids = sorted({round(f, 6) for _, f in pairs})
    if families is not None:
        unknown = sorted(set(families) - set(known_families))
        if unknown:
            raise ValueError(f"--families {unknown} not in the env's action space; it has {known_families}")
        pairs = [(c, f) for c, f in pairs if c.model in families]
    if fidelities is not None:
        wanted = {round(f, 6) for f in fidelities}
        unknown_f = sorted(wanted - set(known_fids))
        if unknown_f:
            raise ValueError(f"--fidelities {unknown_f} not in the env's action space; it has {known_fids}")
        pairs = [(c, f) for c, f in pairs if round(f, 6) in wanted]
    if limit is not None:
        if limit < 1:
            raise ValueError(f"--limit must be >= 1, got {limit}")
        pairs = pairs[:limit]
    if not pairs:
        raise ValueError("no (config, fidelity) pair is left after --families / --fidelities")
    return pairs


def backend_factory(args: argparse.Namespace) -> Callable[[], Any]:
    """A zero-argument factory (one backend per worker thread) for ``--backend`` and its arguments."""
    from agenticrs.envs.backends import list_backends, make_backend

    kind = args.backend.lower()
    if kind not in list_backends():
        raise ValueError(f"unknown backend kind {args.backend!r}; registered: {', '.join(list_backends())}")
    kwargs: dict[str, Any] = {}
    if kind == "live":
        from agenticrs.envs.backends.live import DEFAULT_FULL_EPOCHS, trial_threads

        # Each trial's torch threads: this machine's cores split among --workers, capped at
        # MAX_TRIAL_THREADS (Ray: 1 per trial, which reserves that CPU); --backend-arg threads=N overrides.
        threads = 1 if args.ray_address is not None else trial_threads(args.workers)
        kwargs = {"timeout_s": args.timeout, "full_epochs": args.full_epochs or DEFAULT_FULL_EPOCHS,
                  "use_ray": args.ray_address is not None, "ray_address": args.ray_address, "threads": threads}
    kwargs.update(parse_backend_args(args.backend_arg))
    return lambda: make_backend(kind, **kwargs)


def run(args: argparse.Namespace) -> int:
    from agenticrs.envs.suites import get_suite
    from agenticrs.envs.table_builder import build_table, journal_path

    if args.seeds < 1 or args.workers < 1:
        return _error(f"--seeds and --workers must be >= 1, got {args.seeds} and {args.workers}")
    try:
        space = env_action_space(args.env)
        suite = get_suite(args.suite)
        tasks = [suite.task(n) for n in args.tasks] if args.tasks else list(suite.tasks)
        pairs = select_pairs(space, args.families, args.fidelities, args.limit)
        factory = backend_factory(args)
    except (UnknownEnvError, KeyError, ValueError, TypeError) as e:
        return _error(e.args[0] if e.args else e)

    seeds = list(range(args.seeds))
    total = len(pairs) * len(tasks) * len(seeds)
    try:
        where = _where(args)
    except RuntimeError as e:  # RayStartError: a wrong address, a node without agenticrs
        return _error(e)
    print(f"build-table {args.env} on suite {suite.name}: {len(pairs)} (config, fidelity) pairs x "
          f"{len(tasks)} tasks x {len(seeds)} seeds = {total} trials, {args.backend} backend, {where}", flush=True)
    header: dict[str, Any] = {"env_id": args.env}
    if callable(getattr(space, "describe", None)):
        header["space"] = space.describe()
    journal = journal_path(args.out)
    try:
        summary = build_table(
            pairs, tasks, seeds, args.out, workers=args.workers, backend=factory,
            progress=not args.no_progress, ray_address=args.ray_address, env=_short_name(args.env),
            suite=suite.name, timeout_s=args.timeout, full_epochs=args.full_epochs, retry=args.retry,
            header=header,
        )
    except KeyboardInterrupt:
        print(f"interrupted: finished trials are kept in {journal}; rerun the same command to continue",
              file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - a backend error stops the build; what finished is journaled
        print(f"error: build stopped by {type(e).__name__}: {e}\nfinished trials are kept in {journal}; "
              "rerun the same command to continue", file=sys.stderr)
        return 1
    print(f"wrote {summary.path}: {summary.total} trials ({summary.ran} run now, {summary.skipped} already done; "
          f"{summary.failed} failed, {summary.timeout} timed out), build wall time {summary.wall_seconds:.0f} s")
    return 0


def _where(args: argparse.Namespace) -> str:
    """Where the trials run, for the start-up line; joins (and checks) the cluster with ``--ray-address``.

    Raises:
        RayStartError: the cluster cannot be reached, or a node cannot import agenticrs (one line).
    """
    import os

    if args.ray_address is None:
        from agenticrs.envs.backends.live import trial_threads

        return (f"{args.workers} local worker processes x {trial_threads(args.workers)} torch thread(s) "
                f"on {os.cpu_count()} cores")
    from agenticrs.policies.ray_util import check_cluster_has_agenticrs, describe_ray, init_ray

    init_ray(args.ray_address)
    check_cluster_has_agenticrs()
    return f"{describe_ray(args.ray_address)}, up to {args.workers} trials in flight, 1 CPU each"


def _short_name(env_id: str) -> str:
    """``agenticrs/AutoTrain-v0`` -> ``autotrain`` (the name :func:`table_path` files use)."""
    return env_id.rsplit("/", 1)[-1].rsplit("-v", 1)[0].lower()


def _error(message: Any) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2
