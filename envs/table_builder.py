"""Build a results table for the table backend: resumable, parallel, with progress.

``build_table`` evaluates every ``(task, config, fidelity, seed)`` (the cross product of the
given configs, tasks and seeds) that is not done yet and writes the table file
(:mod:`agenticrs.envs.backends.table` format) when all are done.

Resumable: each finished trial is appended as one JSON line to the journal
``OUT.partial.jsonl`` (flushed and fsynced per line), so an interrupted build (Ctrl-C, kill,
crash, power loss) loses at most the trials in flight. A rerun reads the journal (and an
existing ``OUT`` table), skips what is done, drops a torn last line and continues. The final
table is written atomically, then the journal is removed.

Parallel: ``workers`` threads each drive their own backend; the live backend runs its trials
in its own worker subprocess (or as Ray tasks with ``ray_address``), so ``workers`` trials
train at once. Journal lines are ``{"kind": "result", "t": unix_time, "result": {...}}`` and
``{"kind": "session", "t": ..., "workers": ..., ...}`` (one per start, to sum wall time).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import platform
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from agenticrs.envs.backends.table import Table, fidelity_key
from agenticrs.envs.core import Backend, Task, TrialConfig, TrialResult

log = logging.getLogger(__name__)

TrialKey = tuple[str, str, float, int]
"""(task name, config key, fidelity key, seed)."""


@dataclass(frozen=True)
class BuildSummary:
    """What a build did: ``ran`` trials now, ``skipped`` already done, and the totals."""

    path: Path
    total: int
    ran: int
    skipped: int
    failed: int
    timeout: int
    wall_seconds: float


def journal_path(out_path: str | os.PathLike[str]) -> Path:
    return Path(str(out_path) + ".partial.jsonl")


def trial_key(result_or_task: TrialResult | str, config: TrialConfig | None = None, fidelity: float = 0.0,
              seed: int = 0) -> TrialKey:
    if isinstance(result_or_task, TrialResult):
        r = result_or_task
        return (r.task, r.config.key(), fidelity_key(r.fidelity), int(r.seed))
    assert config is not None
    return (result_or_task, config.key(), fidelity_key(fidelity), int(seed))


def read_journal(path: Path) -> tuple[list[TrialResult], list[dict[str, Any]]]:
    """Results and session records of a journal; a torn last line is cut off the file.

    Raises:
        ValueError: a line other than the last is not valid (named with file and line).
    """
    if not path.exists():
        return [], []
    data = path.read_bytes()
    results: list[TrialResult] = []
    events: list[dict[str, Any]] = []
    pos, lineno = 0, 0
    while pos < len(data):
        lineno += 1
        nl = data.find(b"\n", pos)
        if nl == -1:  # no newline: the process died while writing this line
            log.warning("%s:%d: ignoring a torn last line (its trial will be re-run)", path, lineno)
            break
        raw = data[pos:nl]
        if raw.strip():
            try:
                obj = json.loads(raw)
                if obj.get("kind") == "result":
                    results.append(TrialResult.from_dict(obj["result"]))
                events.append(obj)
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                if data[nl + 1 :].strip():
                    raise ValueError(
                        f"{path}:{lineno}: corrupt journal line ({e}); delete that line (its trial will be re-run)"
                    ) from None
                log.warning("%s:%d: ignoring a torn last line (its trial will be re-run)", path, lineno)
                break
        pos = nl + 1
    if pos < len(data):  # cut the torn tail, so the next append starts on a fresh line
        with open(path, "r+b") as f:
            f.truncate(pos)
    return results, events


def _machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                            "python": platform.python_version(), "processor": platform.processor()}
    try:
        import torch

        info["torch"] = torch.__version__
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        pass
    return info


def default_task_meta(task: Task) -> dict[str, float]:
    """The task dataset's ``stats()`` (meta-features for the surrogate and env observations)."""
    try:
        from agenticrs.recsys.data import load_dataset

        return dict(load_dataset(task.data).stats())
    except Exception as e:  # noqa: BLE001 -- meta-features are optional; the build goes on without
        log.warning("no meta-features for task %s (%s): %s", task.name, task.data, e)
        return {}


def _wall_seconds(events: list[dict[str, Any]]) -> float:
    """Sum over past sessions of (last journal line - session start): survives kills."""
    total, start, last = 0.0, None, None
    for e in events:
        if e.get("kind") == "session":
            if start is not None and last is not None:
                total += max(last - start, 0.0)
            start, last = e["t"], e["t"]
        elif e.get("t") is not None:
            last = e["t"]
    if start is not None and last is not None:
        total += max(last - start, 0.0)
    return total


def build_table(
    configs: Iterable[tuple[TrialConfig, float]],
    tasks: Iterable[Task],
    seeds: Iterable[int] = (0, 1, 2),
    out_path: str | os.PathLike[str] = "table.jsonl.gz",
    workers: int = 2,
    backend: Backend | Callable[[], Backend] | None = None,
    progress: bool = True,
    *,
    ray_address: str | None = None,
    env: str = "",
    suite: str = "",
    timeout_s: float | None = 600.0,
    full_epochs: int | None = None,
    retry: Iterable[str] = (),
    task_meta: Callable[[Task], Mapping[str, float]] | None = default_task_meta,
    header: Mapping[str, Any] | None = None,
) -> BuildSummary:
    """Evaluate every missing trial and write the table; safe to interrupt and rerun.

    Args:
        configs: ``(TrialConfig, fidelity)`` pairs (the action space's enumeration).
        tasks: the suite's tasks.
        seeds: seeds per entry (>= 3 for shipped tables).
        out_path: the table file (``.jsonl.gz``); the journal is ``out_path + ".partial.jsonl"``.
        workers: trials run at once (one backend per worker thread).
        backend: a Backend (cloned per worker if it has ``clone()``, else shared), a
            zero-argument factory, or ``None`` for ``LiveBackend(timeout_s, full_epochs,
            use_ray=ray_address is not None, ray_address, threads=trial_threads(workers))``.
        progress: show a tqdm bar.
        ray_address: run trials as Ray tasks on this cluster (``"auto"``, ``"ray://host:10001"``).
        env, suite: recorded in the header (which env and suite the table covers).
        retry: statuses (``"timeout"``, ``"failed"``) of journaled trials to run again.
        task_meta: meta-features per task for the header (``None``: none).
        header: extra header fields (e.g. the action-space description).

    Returns:
        A :class:`BuildSummary`. Exceptions from the backend (or Ctrl-C) stop the build after
        journaling what finished; rerun to continue.
    """
    out = Path(out_path)
    seeds = [int(s) for s in seeds]
    tasks = list(tasks)
    pairs: dict[tuple[str, float], tuple[TrialConfig, float]] = {}
    for config, fidelity in configs:
        pairs.setdefault((config.key(), fidelity_key(fidelity)), (config, float(fidelity)))
    wanted: dict[TrialKey, tuple[Task, TrialConfig, float, int]] = {}
    for seed in seeds:  # seed-major: an interrupted build has complete early seeds
        for task in tasks:
            for (ckey, fkey), (config, fidelity) in pairs.items():
                wanted[(task.name, ckey, fkey, seed)] = (task, config, fidelity, seed)

    journal = journal_path(out)
    done: dict[TrialKey, TrialResult] = {}
    previous_wall = 0.0
    if out.exists():  # extending an existing table: its results count as done
        old = Table.load(out)
        previous_wall = float(old.header.get("build", {}).get("wall_seconds", 0.0))
        done.update((trial_key(r), r) for r in old.results())
    journaled, events = read_journal(journal)
    done.update((trial_key(r), r) for r in journaled)
    retry = set(retry)
    pending = [k for k in wanted if k not in done or done[k].status in retry]
    skipped = len(wanted) - len(pending)
    extra = len(set(done) - set(wanted))
    if extra:
        log.info("%d journaled/table trials are outside this build's configs, tasks or seeds; not in the output", extra)

    factory = _backend_factory(backend, ray_address, timeout_s, full_epochs, workers)
    session = {"kind": "session", "t": time.time(), "workers": workers, "pending": len(pending),
               "machine": _machine()}
    journal.parent.mkdir(parents=True, exist_ok=True)
    counts = {"ran": 0, "failed": 0, "timeout": 0}
    if pending:
        with open(journal, "a", encoding="utf-8") as jf:

            def record(result: TrialResult) -> None:
                events.append(_append(jf, {"kind": "result", "t": time.time(), "result": result.to_dict()}))
                done[trial_key(result)] = result

            events.append(_append(jf, session))
            _run(pending, wanted, workers, factory, progress, out.name, counts, record)
    wall = previous_wall + _wall_seconds(events)

    results = [done[k] for k in wanted]
    meta = {t.name: {"data": t.data, "metric": t.metric,
                     "meta": dict(task_meta(t)) if task_meta is not None else {}} for t in tasks}
    statuses = [r.status for r in results]
    table_header = {
        **dict(header or {}),
        "env": env, "suite": suite, "tasks": meta, "seeds": seeds,
        "fidelities": sorted({fk for _, fk in pairs}),
        "configs": len({ck for ck, _ in pairs}),
        "build": {
            "wall_seconds": round(wall, 3),
            "trial_seconds": round(sum(float(r.cost.get("seconds", 0.0)) for r in results), 3),
            "sessions": sum(1 for e in events if e.get("kind") == "session"),
            "workers": workers, "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": _machine(), "seeds": seeds, "trials": len(results),
            "failed": statuses.count("failed"), "timeout": statuses.count("timeout"),
            "ray_address": ray_address,
        },
    }
    Table(results, table_header).save(out)
    journal.unlink(missing_ok=True)
    return BuildSummary(out, len(wanted), counts["ran"], skipped, statuses.count("failed"),
                        statuses.count("timeout"), wall)


def _append(f: Any, obj: dict[str, Any]) -> dict[str, Any]:
    """One line per record, on disk before the next (a crash tears at most this line)."""
    f.write(json.dumps(obj, sort_keys=True) + "\n")
    f.flush()
    os.fsync(f.fileno())
    return obj


def _backend_factory(backend: Any, ray_address: str | None, timeout_s: float | None,
                     full_epochs: int | None, workers: int = 1) -> Callable[[], tuple[Backend, bool]]:
    """Returns ``make() -> (backend, owned)``; owned backends are closed by the builder."""
    if backend is None:
        from agenticrs.envs.backends.live import DEFAULT_FULL_EPOCHS, LiveBackend, trial_threads

        # Local: the cores split among the workers (capped, see trial_threads). Ray: one CPU per trial.
        threads = 1 if ray_address is not None else trial_threads(workers)
        kwargs = {"timeout_s": timeout_s, "full_epochs": full_epochs or DEFAULT_FULL_EPOCHS,
                  "use_ray": ray_address is not None, "ray_address": ray_address, "threads": threads}
        return lambda: (LiveBackend(**kwargs), True)
    if hasattr(backend, "evaluate") and not isinstance(backend, type):
        if hasattr(backend, "clone"):
            return lambda: (backend.clone(), True)
        return lambda: (backend, False)
    if callable(backend):
        return lambda: (backend(), True)
    raise TypeError(f"build_table: backend must be a Backend, a factory or None, got {type(backend).__name__}")


def _run(pending: list[TrialKey], wanted: Mapping[TrialKey, tuple[Task, TrialConfig, float, int]], workers: int,
         factory: Callable[[], tuple[Backend, bool]], progress: bool, name: str, counts: dict[str, int],
         record: Callable[[TrialResult], Any]) -> None:
    """Evaluate ``pending`` on ``workers`` threads; ``record`` (main thread) journals each result."""
    from tqdm.auto import tqdm

    local = threading.local()
    made: list[tuple[Backend, bool]] = []
    made_lock = threading.Lock()
    stop = threading.Event()

    def evaluate(key: TrialKey) -> TrialResult | None:
        if stop.is_set():
            return None
        if not hasattr(local, "backend"):
            local.backend, owned = factory()
            with made_lock:
                made.append((local.backend, owned))
        task, config, fidelity, seed = wanted[key]
        return local.backend.evaluate(task, config, fidelity, seed)

    bar = tqdm(total=len(pending), desc=f"build {name}", unit="trial", disable=not progress, smoothing=0.05)
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="build-table")
    it = iter(pending)
    running: set[Future] = set()
    try:
        # Keep only ``workers`` trials submitted, so an interruption loses at most those.
        for key in it:
            running.add(pool.submit(evaluate, key))
            if len(running) >= workers:
                break
        while running:
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                result = fut.result()  # a backend exception stops the build here
                if result is None:
                    continue
                record(result)
                counts["ran"] += 1
                if result.status in ("failed", "timeout"):
                    counts[result.status] += 1
                bar.update(1)
                bar.set_postfix(failed=counts["failed"], timeout=counts["timeout"])
                nxt = next(it, None)
                if nxt is not None:
                    running.add(pool.submit(evaluate, nxt))
    finally:
        stop.set()
        bar.close()
        # Interrupted: kill in-flight live trials (their workers) so threads return promptly.
        for b, owned in made:
            if owned and hasattr(b, "close"):
                b.close()
        pool.shutdown(wait=True, cancel_futures=True)
