"""The KnowledgeStore: the shared coordination and knowledge layer (one SQLite file).

Every evaluated trial (negative results too) and every agent decision is recorded, so
agents, backends and reports share one history and nothing is explored twice: the live
backend asks :meth:`KnowledgeStore.find_trial` before training.

Durability and sharing:

* WAL mode and a ``busy_timeout``: many readers and one writer at a time, across processes.
* Every write is one transaction (``with conn:``): a process killed mid-write leaves the
  previous state, never a torn row.
* Each process and thread opens its own connection lazily; the store pickles as its path,
  so it can be handed to subprocesses, vector envs and Ray workers.

* An env step is recorded by :meth:`KnowledgeStore.add_step`: the trial and the decision that
  chose it in one transaction, the decision naming its trial (``trial_id``), so a killed
  process never leaves a trial without its decision.

Recording a run (what a command line does with ``--knowledge PATH``)::

    with open_run(args.knowledge, "train", meta=vars(args)) as run:   # a no-op Run without a path
        env = gymnasium.make(env_id, **run.env_kwargs())              # {"store": "<path>", "run_id": ...}
        ...                                                            # finished: status ok / failed / interrupted

Schema (version :data:`SCHEMA_VERSION`, kept in table ``schema_version``; a version-1 file is
upgraded in place when opened):

* ``runs(run_id, started, meta, finished, status)``
* ``trials(id, run_id, agent, env, task, config_key, config, fidelity, seed, status, reason,
  valid, test, cost, reward_terms, source, created)``
* ``decisions(id, run_id, agent, env, task, step, action, info, created, trial_id)``

``config``, ``valid``, ``test``, ``cost``, ``reward_terms``, ``meta``, ``action`` and ``info``
are JSON text; ``created`` / ``started`` / ``finished`` are Unix seconds; a run's ``status`` is
``running``, ``ok``, ``failed`` or ``interrupted`` (empty for runs only named by a trial).
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from agenticrs.envs.core import Task, TrialConfig, TrialResult

SCHEMA_VERSION = 2
"""2: ``decisions.trial_id`` (the trial a step's decision chose), ``runs.finished`` and ``runs.status``."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started REAL NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}',
    finished REAL,
    status TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT,
    agent TEXT NOT NULL DEFAULT '',
    env TEXT NOT NULL DEFAULT '',
    task TEXT NOT NULL,
    config_key TEXT NOT NULL,
    config TEXT NOT NULL,
    fidelity REAL NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    valid TEXT NOT NULL DEFAULT '{}',
    test TEXT NOT NULL DEFAULT '{}',
    cost TEXT NOT NULL DEFAULT '{}',
    reward_terms TEXT NOT NULL DEFAULT '{}',
    source TEXT NOT NULL DEFAULT 'live',
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS trials_lookup ON trials (task, config_key, seed);
CREATE INDEX IF NOT EXISTS trials_run ON trials (run_id);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT,
    agent TEXT NOT NULL DEFAULT '',
    env TEXT NOT NULL DEFAULT '',
    task TEXT NOT NULL DEFAULT '',
    step INTEGER NOT NULL,
    action TEXT NOT NULL DEFAULT 'null',
    info TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL,
    trial_id INTEGER REFERENCES trials (id)
);
"""

# Columns added after version 1 (ALTER TABLE on an old file), then indexes that may use them.
_ADDED_COLUMNS = (
    ("decisions", "trial_id", "INTEGER REFERENCES trials (id)"),
    ("runs", "finished", "REAL"),
    ("runs", "status", "TEXT NOT NULL DEFAULT ''"),
)
_INDEXES = """
CREATE INDEX IF NOT EXISTS decisions_run ON decisions (run_id, step);
CREATE INDEX IF NOT EXISTS decisions_trial ON decisions (trial_id);
"""
RUN_STATUSES = ("running", "ok", "failed", "interrupted")


class KnowledgeStoreError(RuntimeError):
    """A knowledge store that cannot be opened or used (the message names the file and the problem)."""

# Fidelities are floats chosen from a small grid; equality within this tolerance.
_FIDELITY_TOL = 1e-9


def _dumps(value: Any) -> str:
    """JSON that also accepts numpy scalars and arrays (env infos contain them)."""

    def default(o: Any) -> Any:
        if hasattr(o, "tolist"):  # numpy array or scalar
            return o.tolist()
        if isinstance(o, (set, frozenset, tuple)):
            return list(o)
        if isinstance(o, os.PathLike):  # command-line arguments in a run's meta
            return os.fspath(o)
        raise TypeError(f"{type(o).__name__} is not JSON serialisable")

    return json.dumps(value, sort_keys=True, default=default)


@dataclass(frozen=True)
class StoredTrial:
    """A trial row: the :class:`TrialResult` plus who evaluated it, when, and its reward terms."""

    id: int
    run_id: str | None
    agent: str
    env: str
    created: float
    result: TrialResult
    reward_terms: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Flat row for export: config and metric dicts stay nested."""
        r = self.result
        return {
            "id": self.id, "run_id": self.run_id, "agent": self.agent, "env": self.env, "task": r.task,
            "config_key": r.config.key(), "config": r.config.to_dict(), "fidelity": r.fidelity, "seed": r.seed,
            "status": r.status, "reason": r.reason, "valid": dict(r.valid), "test": dict(r.test),
            "cost": dict(r.cost), "reward_terms": dict(self.reward_terms), "source": r.source,
            "created": self.created,
        }


@dataclass(frozen=True)
class Decision:
    """One agent decision: the action it took at ``step`` and the info it got back."""

    id: int
    run_id: str | None
    agent: str
    env: str
    task: str
    step: int
    action: Any
    info: Mapping[str, Any]
    created: float
    trial_id: int | None = None
    """The trial this decision chose (:meth:`KnowledgeStore.add_step`); ``None`` for a bare decision."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "run_id": self.run_id, "agent": self.agent, "env": self.env, "task": self.task,
            "step": self.step, "action": self.action, "info": dict(self.info), "created": self.created,
            "trial_id": self.trial_id,
        }


class KnowledgeStore:
    """A durable, queryable record of runs, trials and decisions in one SQLite file.

    Args:
        path: the database file (created with its parent folder if missing).
        busy_timeout_s: how long a writer waits for another process's transaction.

    Raises:
        KnowledgeStoreError: the path is a folder, cannot be created or written, is not a
            knowledge store (not SQLite, or SQLite without our tables' shape), or has a newer schema.

    Example::

        store = KnowledgeStore.open("runs/knowledge.sqlite")
        with store.run("train", meta={"env": "agenticrs/AutoTrain-v0"}) as run:
            env = gymnasium.make("agenticrs/AutoTrain-v0", **run.env_kwargs())  # records every step
        store.add_trial(result, run_id=run.run_id, agent="ppo", env="agenticrs/AutoTrain-v0")
        store.find_trial("syn-skewed", config, fidelity=1.0, seed=0)   # warm start
        store.export("trials.csv", fmt="csv")
    """

    def __init__(self, path: str | os.PathLike[str], busy_timeout_s: float = 30.0):
        self.path = Path(path)
        self.busy_timeout_s = float(busy_timeout_s)
        self._local = threading.local()
        if self.path.is_dir():
            raise KnowledgeStoreError(f"{self.path}: is a folder; give the knowledge store a file path "
                                      f"(e.g. {self.path / 'knowledge.sqlite'})")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._init_schema()
        except (OSError, sqlite3.Error) as e:
            self.close()
            raise KnowledgeStoreError(f"{self.path}: cannot open the knowledge store: {e}") from None

    @classmethod
    def open(cls, path: "str | os.PathLike[str] | KnowledgeStore", busy_timeout_s: float = 30.0) -> "KnowledgeStore":
        """The store at ``path`` (created if missing; a store passes through), or one-line
        :class:`KnowledgeStoreError`. ``KnowledgeStore.open(args.knowledge)`` in a command."""
        if isinstance(path, KnowledgeStore):
            return path
        return cls(path, busy_timeout_s)

    # ------------------------------------------------------------------ connections
    def __getstate__(self) -> dict[str, Any]:
        # Connections cannot cross processes: the store travels as its path.
        return {"path": str(self.path), "busy_timeout_s": self.busy_timeout_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = Path(state["path"])
        self.busy_timeout_s = state["busy_timeout_s"]
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"KnowledgeStore({str(self.path)!r})"

    @property
    def conn(self) -> sqlite3.Connection:
        """This process's and thread's connection (opened on first use, reopened after fork)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL is durable against process crashes in WAL mode (only power loss can drop
            # the last commits, never corrupt the file) and much faster than FULL.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close when their thread or process ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None

    def _init_schema(self) -> None:
        conn = self.conn
        with conn:
            # One immediate transaction, so concurrent first openers cannot both insert a version
            # (or both upgrade an old file).
            conn.execute("BEGIN IMMEDIATE")
            for stmt in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(stmt)
            row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
            version = row[0]
            if version is not None and version > SCHEMA_VERSION:
                raise KnowledgeStoreError(
                    f"{self.path}: knowledge store schema version {version} is newer than this agenticrs "
                    f"supports ({SCHEMA_VERSION}); upgrade agenticrs"
                )
            for table, column, decl in _ADDED_COLUMNS:  # version 1 -> 2
                have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
            for stmt in filter(str.strip, _INDEXES.split(";")):
                conn.execute(stmt)
            if version is None or version < SCHEMA_VERSION:
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("SELECT max(version) FROM schema_version").fetchone()[0])

    # ------------------------------------------------------------------ runs
    def start_run(self, meta: Mapping[str, Any] | None = None, run_id: str | None = None) -> str:
        """Register a run (an experiment, a training job) with status ``running`` and return its id."""
        run_id = run_id or f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        with self.conn as conn:
            conn.execute(
                "INSERT INTO runs (run_id, started, meta, status) VALUES (?, ?, ?, 'running') "
                "ON CONFLICT(run_id) DO UPDATE SET meta = excluded.meta, status = 'running', finished = NULL",
                (run_id, time.time(), _dumps(dict(meta or {}))),
            )
        return run_id

    def finish_run(self, run_id: str, status: str = "ok", summary: Mapping[str, Any] | None = None) -> None:
        """Mark a run finished (``ok``, ``failed`` or ``interrupted``); ``summary`` is merged into its meta."""
        if status not in RUN_STATUSES[1:]:
            raise ValueError(f"finish_run: status must be one of {RUN_STATUSES[1:]}, got {status!r}")
        with self.conn as conn:
            row = conn.execute("SELECT meta FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise KeyError(f"finish_run: no run {run_id!r} in {self.path}")
            meta = {**json.loads(row["meta"]), **dict(summary or {})}
            conn.execute("UPDATE runs SET finished = ?, status = ?, meta = ? WHERE run_id = ?",
                         (time.time(), status, _dumps(meta), run_id))

    def run(self, command: str = "", meta: Mapping[str, Any] | None = None, run_id: str | None = None) -> "Run":
        """Start a run and return it as a context manager that records how it ended (see :class:`Run`).

        ``command`` (``"train"``, ``"evolve"``...) is stored in the meta with ``meta``.
        """
        full = {**({"command": command} if command else {}), **dict(meta or {})}
        return Run(self, self.start_run(full, run_id))

    # ------------------------------------------------------------------ writes
    def add_step(
        self,
        result: TrialResult,
        *,
        step: int,
        action: Any,
        run_id: str | None = None,
        agent: str = "",
        env: str = "",
        task: str | None = None,
        reward_terms: Mapping[str, float] | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> tuple[int, int]:
        """Record one env step, its trial and the decision that chose it, in one transaction.

        A process killed at any moment leaves both rows or neither. Returns
        ``(trial id, decision id)``; the decision's ``trial_id`` is the trial's id.
        """
        now = time.time()
        trial_row = self._trial_row(result, run_id, agent, env, reward_terms or {}, now)
        decision_row = self._decision_row(run_id, agent, env, task if task is not None else result.task, step,
                                          action, info or {}, now)
        with self.conn as conn:
            self._ensure_run(conn, run_id, now)
            trial_id = int(conn.execute(_INSERT_TRIAL, trial_row).lastrowid)
            decision_id = int(conn.execute(_INSERT_DECISION, (*decision_row, trial_id)).lastrowid)
        return trial_id, decision_id

    def add_trial(
        self,
        result: TrialResult,
        *,
        run_id: str | None = None,
        agent: str = "",
        env: str = "",
        reward_terms: Mapping[str, float] | None = None,
    ) -> int:
        """Record one evaluated trial (any status) and return its row id."""
        return self.add_trials([result], run_id=run_id, agent=agent, env=env,
                               reward_terms=[reward_terms or {}])[0]

    def add_trials(
        self,
        results: Sequence[TrialResult],
        *,
        run_id: str | None = None,
        agent: str = "",
        env: str = "",
        reward_terms: Sequence[Mapping[str, float]] | None = None,
    ) -> list[int]:
        """Record several trials in one transaction (all or none)."""
        terms = list(reward_terms) if reward_terms is not None else [{}] * len(results)
        if len(terms) != len(results):
            raise ValueError(f"add_trials: {len(results)} results but {len(terms)} reward_terms")
        now = time.time()
        rows = [self._trial_row(r, run_id, agent, env, t, now) for r, t in zip(results, terms)]
        with self.conn as conn:
            self._ensure_run(conn, run_id, now)
            return [int(conn.execute(_INSERT_TRIAL, row).lastrowid) for row in rows]

    @staticmethod
    def _ensure_run(conn: sqlite3.Connection, run_id: str | None, now: float) -> None:
        if run_id is not None:
            conn.execute("INSERT OR IGNORE INTO runs (run_id, started, meta) VALUES (?, ?, '{}')", (run_id, now))

    @staticmethod
    def _trial_row(r: TrialResult, run_id: str | None, agent: str, env: str, terms: Mapping[str, float],
                   now: float) -> tuple[Any, ...]:
        """The ``_INSERT_TRIAL`` parameters (JSON encoded before the transaction starts)."""
        return (run_id, agent, env, r.task, r.config.key(), _dumps(r.config.to_dict()), float(r.fidelity),
                int(r.seed), r.status, r.reason, _dumps(dict(r.valid)), _dumps(dict(r.test)), _dumps(dict(r.cost)),
                _dumps(dict(terms)), r.source, now)

    @staticmethod
    def _decision_row(run_id: str | None, agent: str, env: str, task: str, step: int, action: Any,
                      info: Mapping[str, Any], now: float) -> tuple[Any, ...]:
        """The ``_INSERT_DECISION`` parameters but the trial id."""
        return (run_id, agent, env, task, int(step), _dumps(action), _dumps(dict(info)), now)

    def add_decision(
        self,
        *,
        run_id: str | None,
        step: int,
        action: Any,
        info: Mapping[str, Any] | None = None,
        agent: str = "",
        env: str = "",
        task: str = "",
    ) -> int:
        """Record one agent decision that has no trial of its own and return its row id.

        An env step that evaluated a trial records both with :meth:`add_step` (one transaction).
        """
        now = time.time()
        row = self._decision_row(run_id, agent, env, task, step, action, info or {}, now)
        with self.conn as conn:
            self._ensure_run(conn, run_id, now)
            return int(conn.execute(_INSERT_DECISION, (*row, None)).lastrowid)

    # ------------------------------------------------------------------ queries
    @staticmethod
    def _trial(row: sqlite3.Row) -> StoredTrial:
        result = TrialResult(
            config=TrialConfig.from_dict(json.loads(row["config"])), task=row["task"], fidelity=row["fidelity"],
            seed=row["seed"], status=row["status"], valid=json.loads(row["valid"]), test=json.loads(row["test"]),
            cost=json.loads(row["cost"]), reason=row["reason"], source=row["source"],
        )
        return StoredTrial(row["id"], row["run_id"], row["agent"], row["env"], row["created"], result,
                           json.loads(row["reward_terms"]))

    @staticmethod
    def _decision(row: sqlite3.Row) -> Decision:
        return Decision(row["id"], row["run_id"], row["agent"], row["env"], row["task"], row["step"],
                        json.loads(row["action"]), json.loads(row["info"]), row["created"], row["trial_id"])

    def trials(
        self,
        *,
        task: str | Task | None = None,
        env: str | None = None,
        status: str | Sequence[str] | None = None,
        config_key: str | None = None,
        run_id: str | None = None,
        agent: str | None = None,
        limit: int | None = None,
    ) -> list[StoredTrial]:
        """Trials matching every given filter, oldest first (``limit`` keeps the newest)."""
        where, args = self._where(task=task, env=env, status=status, config_key=config_key, run_id=run_id,
                                  agent=agent)
        sql = f"SELECT * FROM trials{where} ORDER BY id"
        if limit is not None:
            sql = f"SELECT * FROM ({sql} DESC LIMIT {int(limit)}) ORDER BY id"
        return [self._trial(r) for r in self.conn.execute(sql, args)]

    def decisions(self, *, run_id: str | None = None, agent: str | None = None, env: str | None = None,
                  task: str | Task | None = None) -> list[Decision]:
        """Decisions matching every given filter, in recording order."""
        where, args = self._where(run_id=run_id, agent=agent, env=env, task=task)
        return [self._decision(r) for r in self.conn.execute(f"SELECT * FROM decisions{where} ORDER BY id", args)]

    @staticmethod
    def _where(**filters: Any) -> tuple[str, list[Any]]:
        clauses, args = [], []
        for col, value in filters.items():
            if value is None:
                continue
            if isinstance(value, Task):
                value = value.name
            if isinstance(value, (list, tuple, set, frozenset)):
                clauses.append(f"{col} IN ({', '.join('?' * len(value))})")
                args.extend(value)
            else:
                clauses.append(f"{col} = ?")
                args.append(value)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), args

    def find_trial(
        self,
        task: str | Task,
        config: TrialConfig,
        fidelity: float,
        seed: int,
        status: str | Sequence[str] | None = "ok",
    ) -> TrialResult | None:
        """The newest recorded result of exactly this trial (warm start), or ``None``.

        Trials are matched by task *name*, config key, fidelity and seed; ``status=None``
        accepts any status.
        """
        name = task.name if isinstance(task, Task) else task
        where, args = self._where(task=name, config_key=config.key(), seed=int(seed), status=status)
        row = self.conn.execute(
            f"SELECT * FROM trials{where} AND abs(fidelity - ?) < ? ORDER BY id DESC LIMIT 1",
            [*args, float(fidelity), _FIDELITY_TOL],
        ).fetchone()
        return self._trial(row).result if row is not None else None

    def best(self, task: str | Task, metric: str = "ndcg@10", split: str = "valid") -> StoredTrial | None:
        """The finished trial with the highest ``split`` (``valid``/``test``) ``metric`` on ``task``."""
        if split not in ("valid", "test"):
            raise ValueError(f"best: split must be 'valid' or 'test', got {split!r}")
        name = task.name if isinstance(task, Task) else task
        path = "$." + json.dumps(metric)  # quoted key: metric names contain '@'
        row = self.conn.execute(
            f"SELECT * FROM trials WHERE task = ? AND status = 'ok' AND json_extract({split}, ?) IS NOT NULL "
            f"ORDER BY json_extract({split}, ?) DESC, id LIMIT 1",
            (name, path, path),
        ).fetchone()
        return self._trial(row) if row is not None else None

    def history(self, run_id: str) -> list[StoredTrial | Decision]:
        """Everything a run recorded (trials and decisions), in the order it was recorded."""
        events: list[StoredTrial | Decision] = [*self.trials(run_id=run_id), *self.decisions(run_id=run_id)]
        return sorted(events, key=lambda e: (e.created, isinstance(e, StoredTrial), e.id))

    def runs(self) -> list[dict[str, Any]]:
        """Every run with its metadata and how many trials and decisions it recorded."""
        rows = self.conn.execute(
            "SELECT r.run_id, r.started, r.meta, r.finished, r.status, "
            "(SELECT count(*) FROM trials t WHERE t.run_id = r.run_id) AS trials, "
            "(SELECT count(*) FROM decisions d WHERE d.run_id = r.run_id) AS decisions "
            "FROM runs r ORDER BY r.started"
        )
        return [{"run_id": r["run_id"], "started": r["started"], "finished": r["finished"], "status": r["status"],
                 "meta": json.loads(r["meta"]), "trials": r["trials"], "decisions": r["decisions"]} for r in rows]

    def counts(self) -> dict[str, int]:
        c = self.conn
        return {
            "runs": c.execute("SELECT count(*) FROM runs").fetchone()[0],
            "trials": c.execute("SELECT count(*) FROM trials").fetchone()[0],
            "decisions": c.execute("SELECT count(*) FROM decisions").fetchone()[0],
        }

    # ------------------------------------------------------------------ reports
    def show(self, *, run_id: str | None = None, task: str | None = None, metric: str = "ndcg@10",
             limit: int = 10) -> str:
        """A human-readable summary (``agenticrs knowledge show``): counts, runs, per-task status
        counts and best configuration, and the latest ``limit`` trials."""
        lines = [f"knowledge store {self.path} (schema v{self.schema_version})"]
        lines.append("  " + ", ".join(f"{k}: {v}" for k, v in self.counts().items()))
        runs = [r for r in self.runs() if run_id is None or r["run_id"] == run_id]
        if runs:
            lines.append("runs:")
            for r in runs[-limit:]:
                started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["started"]))
                ended = f" {r['status']}" if r["status"] else ""
                if r["finished"] is not None:
                    ended += f" after {r['finished'] - r['started']:.0f}s"
                command = f"  {r['meta']['command']}" if r["meta"].get("command") else ""
                lines.append(f"  {r['run_id']}  {started}{command}{ended}  trials={r['trials']} "
                             f"decisions={r['decisions']}")
        where, args = self._where(run_id=run_id, task=task)
        per_task = self.conn.execute(
            f"SELECT task, status, count(*) AS n FROM trials{where} GROUP BY task, status ORDER BY task, status", args
        ).fetchall()
        if per_task:
            lines.append(f"tasks (best valid {metric}):")
            by_task: dict[str, dict[str, int]] = {}
            for r in per_task:
                by_task.setdefault(r["task"], {})[r["status"]] = r["n"]
            for name, statuses in by_task.items():
                best = self.best(name, metric)
                best_s = (f"{best.result.valid[metric]:.4f} {best.result.config.model} "
                          f"{best.result.config.param_dict} @ fidelity {best.result.fidelity:g}") if best else "-"
                counts = " ".join(f"{s}={n}" for s, n in sorted(statuses.items()))
                lines.append(f"  {name}: {counts}; best {best_s}")
        latest = self.trials(run_id=run_id, task=task, limit=limit)
        if latest:
            lines.append(f"latest {len(latest)} trials:")
            for t in latest:
                r = t.result
                val = f"{r.valid[metric]:.4f}" if metric in r.valid else r.reason[:60] or "-"
                lines.append(f"  #{t.id} {r.task} {r.config.model} {r.config.param_dict} fid={r.fidelity:g} "
                             f"seed={r.seed} {r.status} {val} ({r.cost.get('seconds', 0):.1f}s, {r.source})")
        return "\n".join(lines)

    def export(self, path: str | os.PathLike[str], fmt: str | None = None, *, table: str = "trials",
               **filters: Any) -> int:
        """Write trials (or ``table="decisions"``) to JSON lines or CSV; returns the row count.

        ``fmt`` defaults from the suffix (``.csv`` -> csv, else jsonl). CSV flattens the metric,
        cost and reward dicts into ``valid.ndcg@10``-style columns. ``filters`` go to
        :meth:`trials` / :meth:`decisions`. The file is written atomically.
        """
        path = Path(path)
        fmt = fmt or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
        if fmt not in ("jsonl", "csv"):
            raise ValueError(f"export: fmt must be 'jsonl' or 'csv', got {fmt!r}")
        if table == "trials":
            rows = [t.to_dict() for t in self.trials(**filters)]
        elif table == "decisions":
            rows = [d.to_dict() for d in self.decisions(**filters)]
        else:
            raise ValueError(f"export: table must be 'trials' or 'decisions', got {table!r}")
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(tmp, "w", newline="") as f:
                if fmt == "jsonl":
                    for row in rows:
                        f.write(_dumps(row) + "\n")
                else:
                    flat = [_flatten(row) for row in rows]
                    columns = list(dict.fromkeys(k for row in flat for k in row))
                    writer = csv.DictWriter(f, fieldnames=columns)
                    writer.writeheader()
                    writer.writerows(flat)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return len(rows)

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check``: ``"ok"`` for a healthy file."""
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])


_INSERT_TRIAL = (
    "INSERT INTO trials (run_id, agent, env, task, config_key, config, fidelity, seed, status, reason, valid, test, "
    "cost, reward_terms, source, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_DECISION = (
    "INSERT INTO decisions (run_id, agent, env, task, step, action, info, created, trial_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class Run:
    """A recorded run: where an env or backend writes (``env_kwargs()``) and how the run ended.

    As a context manager it marks the run ``ok`` on a normal exit, ``interrupted`` on
    Ctrl-C and ``failed`` (with the error in its meta) on an exception, which it lets through.
    Without a store (``open_run(None, ...)``) it records nothing and ``env_kwargs()`` is ``{}``.

    Attributes:
        store: the :class:`KnowledgeStore`, or ``None``.
        run_id: the run's id, or ``None`` without a store.
        summary: merged into the run's meta when it finishes (final metrics, paths...).
    """

    def __init__(self, store: KnowledgeStore | None, run_id: str | None):
        self.store, self.run_id = store, run_id
        self.summary: dict[str, Any] = {}
        self.status: str | None = None if store is not None else "ok"

    def env_kwargs(self) -> dict[str, Any]:
        """``{"store": "<path>", "run_id": run_id}`` for ``gymnasium.make`` (``{}`` without a store).

        JSON-able (the store as its path, which every agenticrs env opens), so it can go into a
        run.json, an RLlib ``env_config`` or vector-env workers. Backends take ``run.store``.
        """
        return {} if self.store is None else {"store": str(self.store.path), "run_id": self.run_id}

    def finish(self, status: str = "ok", **summary: Any) -> None:
        """Record how the run ended (once; later calls only merge ``summary`` into the next one)."""
        self.summary.update(summary)
        if self.status is not None or self.store is None:
            return
        self.store.finish_run(self.run_id, status, self.summary)  # type: ignore[arg-type]
        self.status = status

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.finish("ok")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.finish("interrupted")
        else:
            self.finish("failed", error=f"{exc_type.__name__}: {exc}"[:2000])

    def __repr__(self) -> str:
        return f"Run({self.run_id!r}, store={self.store!r})"


def open_run(path: "str | os.PathLike[str] | KnowledgeStore | None", command: str = "",
             meta: Mapping[str, Any] | None = None, run_id: str | None = None) -> Run:
    """The one line a command needs for ``--knowledge PATH``: a started :class:`Run` in the store
    at ``path`` (opened or created), or a :class:`Run` that records nothing when ``path`` is
    ``None``. Raises :class:`KnowledgeStoreError` (one line) for a path that cannot be a store."""
    if path is None:
        return Run(None, None)
    return KnowledgeStore.open(path).run(command, meta, run_id)


def _flatten(row: Mapping[str, Any]) -> dict[str, Any]:
    """One level of ``{"valid": {"ndcg@10": x}}`` -> ``{"valid.ndcg@10": x}``; config stays JSON."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if k in ("config", "action", "info"):
            out[k] = _dumps(v)
        elif isinstance(v, Mapping):
            out.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        else:
            out[k] = v
    return out


def iter_results(trials: Iterable[StoredTrial]) -> Iterator[TrialResult]:
    """The plain results of stored trials (to build tables or fit surrogates from a store)."""
    return (t.result for t in trials)
