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

Schema (version :data:`SCHEMA_VERSION`, kept in table ``schema_version``):

* ``runs(run_id, started, meta)``
* ``trials(id, run_id, agent, env, task, config_key, config, fidelity, seed, status, reason,
  valid, test, cost, reward_terms, source, created)``
* ``decisions(id, run_id, agent, env, task, step, action, info, created)``

``config``, ``valid``, ``test``, ``cost``, ``reward_terms``, ``meta``, ``action`` and ``info``
are JSON text; ``created`` / ``started`` are Unix seconds.
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

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started REAL NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}'
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
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_run ON decisions (run_id, step);
"""

# Fidelities are floats chosen from a small grid; equality within this tolerance.
_FIDELITY_TOL = 1e-9


def _dumps(value: Any) -> str:
    """JSON that also accepts numpy scalars and arrays (env infos contain them)."""

    def default(o: Any) -> Any:
        if hasattr(o, "tolist"):  # numpy array or scalar
            return o.tolist()
        if isinstance(o, (set, frozenset, tuple)):
            return list(o)
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "run_id": self.run_id, "agent": self.agent, "env": self.env, "task": self.task,
            "step": self.step, "action": self.action, "info": dict(self.info), "created": self.created,
        }


class KnowledgeStore:
    """A durable, queryable record of runs, trials and decisions in one SQLite file.

    Args:
        path: the database file (created with its parent folder if missing).
        busy_timeout_s: how long a writer waits for another process's transaction.

    Example::

        store = KnowledgeStore("runs/knowledge.sqlite")
        run = store.start_run({"env": "agenticrs/AutoTrain-v0"})
        store.add_trial(result, run_id=run, agent="ppo", env="agenticrs/AutoTrain-v0")
        store.find_trial("syn-skewed", config, fidelity=1.0, seed=0)   # warm start
        store.export("trials.csv", fmt="csv")
    """

    def __init__(self, path: str | os.PathLike[str], busy_timeout_s: float = 30.0):
        self.path = Path(path)
        self.busy_timeout_s = float(busy_timeout_s)
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._init_schema()

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
            # One immediate transaction, so concurrent first openers cannot both insert a version.
            conn.execute("BEGIN IMMEDIATE")
            for stmt in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(stmt)
            row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
            version = row[0]
            if version is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path}: knowledge store schema version {version} is newer than this agenticrs "
                    f"supports ({SCHEMA_VERSION}); upgrade agenticrs"
                )

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("SELECT max(version) FROM schema_version").fetchone()[0])

    # ------------------------------------------------------------------ writes
    def start_run(self, meta: Mapping[str, Any] | None = None, run_id: str | None = None) -> str:
        """Register a run (an experiment, a training job) and return its id."""
        run_id = run_id or f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        with self.conn as conn:
            conn.execute(
                "INSERT INTO runs (run_id, started, meta) VALUES (?, ?, ?) "
                "ON CONFLICT(run_id) DO UPDATE SET meta = excluded.meta",
                (run_id, time.time(), _dumps(dict(meta or {}))),
            )
        return run_id

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
        ids: list[int] = []
        with self.conn as conn:
            if run_id is not None:
                conn.execute("INSERT OR IGNORE INTO runs (run_id, started, meta) VALUES (?, ?, '{}')", (run_id, now))
            for r, t in zip(results, terms):
                cur = conn.execute(
                    "INSERT INTO trials (run_id, agent, env, task, config_key, config, fidelity, seed, status, "
                    "reason, valid, test, cost, reward_terms, source, created) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id, agent, env, r.task, r.config.key(), _dumps(r.config.to_dict()), float(r.fidelity),
                        int(r.seed), r.status, r.reason, _dumps(dict(r.valid)), _dumps(dict(r.test)),
                        _dumps(dict(r.cost)), _dumps(dict(t)), r.source, now,
                    ),
                )
                ids.append(int(cur.lastrowid))
        return ids

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
        """Record one agent decision (an env step's action and info) and return its row id."""
        now = time.time()
        with self.conn as conn:
            if run_id is not None:
                conn.execute("INSERT OR IGNORE INTO runs (run_id, started, meta) VALUES (?, ?, '{}')", (run_id, now))
            cur = conn.execute(
                "INSERT INTO decisions (run_id, agent, env, task, step, action, info, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, agent, env, task, int(step), _dumps(action), _dumps(dict(info or {})), now),
            )
        return int(cur.lastrowid)

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
                        json.loads(row["action"]), json.loads(row["info"]), row["created"])

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
            "SELECT r.run_id, r.started, r.meta, "
            "(SELECT count(*) FROM trials t WHERE t.run_id = r.run_id) AS trials, "
            "(SELECT count(*) FROM decisions d WHERE d.run_id = r.run_id) AS decisions "
            "FROM runs r ORDER BY r.started"
        )
        return [{"run_id": r["run_id"], "started": r["started"], "meta": json.loads(r["meta"]),
                 "trials": r["trials"], "decisions": r["decisions"]} for r in rows]

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
                lines.append(f"  {r['run_id']}  {started}  trials={r['trials']} decisions={r['decisions']}")
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
