"""The table backend: precomputed live results, looked up NAS-Bench style.

File format (``.jsonl.gz``, or plain ``.jsonl``): the first line is a header object
``{"format": "agenticrs.table", "version": 1, "env": ..., "suite": ..., "build": {...},
"tasks": {name: {"data": uri, "metric": ..., "meta": {stats}}}}``; every further line is one
:meth:`TrialResult.to_dict` (one seed of one trial). Shipped tables live in
``agenticrs/envs/tables/{env}__{suite}.jsonl.gz`` (:func:`table_path`).

An *entry* is ``(task, config key, fidelity)`` and holds the results of every seed it was
run with (>= 3 for shipped tables). :meth:`TableBackend.evaluate` returns one of the
repeats, chosen by a hash of ``(seed, task, config key, fidelity)``: the same seed always
gives the same result, different seeds sample the seed variance. Lookups are dict hits on
a per-process cache of the parsed table (tens of thousands of lookups per second).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from agenticrs.envs.core import Task, TrialConfig, TrialResult

FORMAT = "agenticrs.table"
VERSION = 1
TABLES_DIR = Path(__file__).resolve().parent.parent / "tables"
"""Where shipped tables live (package data ``agenticrs.envs: tables/*.jsonl.gz``)."""

_MASK = (1 << 64) - 1


def table_path(env: str = "autotrain", suite: str = "default") -> Path:
    """The shipped table of ``env`` (short name, e.g. ``autotrain``) on ``suite``."""
    return TABLES_DIR / f"{env.lower()}__{suite.lower()}.jsonl.gz"


def fidelity_key(fidelity: float) -> float:
    """Fidelities are compared after rounding to 6 decimals (0.1 + 0.2 finds 0.3)."""
    return round(float(fidelity), 6)


def entry_salt(task: str, config_key: str, fidelity: float) -> int:
    """A stable 64-bit number per entry (``hash()`` of strings differs between processes)."""
    digest = hashlib.blake2b(f"{task}|{config_key}|{fidelity_key(fidelity)!r}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def repeat_index(seed: int, salt: int, n: int) -> int:
    """Which of ``n`` repeats ``seed`` draws: splitmix64 of ``seed`` mixed with the entry salt."""
    z = (salt ^ ((int(seed) + 1) * 0x9E3779B97F4A7C15)) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return (z ^ (z >> 31)) % n


class MissingEntryError(KeyError):
    """The table has no result for a (task, config, fidelity); the surrogate covers those."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0])


class Table:
    """An in-memory table: ``entries[(task, config_key, fidelity_key)] -> results sorted by seed``.

    Args:
        results: trial results (any status, any source); stored with ``source="table"``.
        header: file header (env, suite, build metadata, task meta-features).
    """

    def __init__(self, results: Iterable[TrialResult], header: Mapping[str, Any] | None = None):
        self.header: dict[str, Any] = {"format": FORMAT, "version": VERSION, **dict(header or {})}
        grouped: dict[tuple[str, str, float], dict[int, TrialResult]] = {}
        self.configs: dict[str, TrialConfig] = {}
        for r in results:
            key = r.config.key()
            self.configs.setdefault(key, r.config)
            r = r if r.source == "table" else dataclasses.replace(r, source="table")
            # A later result of the same seed replaces an earlier one (a re-run).
            grouped.setdefault((r.task, key, fidelity_key(r.fidelity)), {})[r.seed] = r
        self.entries: dict[tuple[str, str, float], tuple[TrialResult, ...]] = {
            k: tuple(v[s] for s in sorted(v)) for k, v in grouped.items()
        }
        self.lookups: dict[tuple[str, TrialConfig, float], tuple[int, tuple[TrialResult, ...]]] = {}
        """``(task, config, fidelity) -> (entry salt, repeats)`` of every :class:`TableBackend` on this
        table (one object per file and process, :func:`load_table`): the vector envs of one process
        share it, so each entry's config key and salt are computed once, not once per env."""

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "lookups": {}}  # derived: rebuilt on use

    # ------------------------------------------------------------------ contents
    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, key: tuple[str, str, float]) -> bool:
        task, config_key, fidelity = key
        return (task, config_key, fidelity_key(fidelity)) in self.entries

    def results(self) -> Iterator[TrialResult]:
        for rs in self.entries.values():
            yield from rs

    @property
    def tasks(self) -> list[str]:
        return sorted({k[0] for k in self.entries})

    @property
    def fidelities(self) -> list[float]:
        return sorted({k[2] for k in self.entries})

    @property
    def path(self) -> str | None:
        return self.header.get("_path")

    def task_meta(self, task: str) -> dict[str, float]:
        """Meta-features of ``task`` recorded by the builder (empty if none)."""
        return dict(self.header.get("tasks", {}).get(task, {}).get("meta", {}))

    def lookup(self, task: str, config: TrialConfig, fidelity: float, config_key: str | None = None
               ) -> tuple[TrialResult, ...]:
        """Every repeat of one entry; :class:`MissingEntryError` (a KeyError) if absent."""
        key = (task, config_key or config.key(), fidelity_key(fidelity))
        try:
            return self.entries[key]
        except KeyError:
            raise MissingEntryError(
                f"table {self.path or '<in memory>'} has no entry for task {task!r}, config "
                f"{config.to_dict()} (key {key[1]}), fidelity {fidelity:g}; it covers tasks {self.tasks} "
                f"at fidelities {self.fidelities}. Use the surrogate backend for configurations outside the table."
            ) from None

    def filter(self, keep: Callable[[TrialResult], bool]) -> "Table":
        """A new table with the results ``keep`` accepts (e.g. to hold out configs for a surrogate)."""
        header = {k: v for k, v in self.header.items() if k != "_path"}
        return Table((r for r in self.results() if keep(r)), header)

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically (temporary file, fsync, ``os.replace``): never a half-written table."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        header = {k: v for k, v in self.header.items() if k != "_path"}
        header["entries"], header["results"] = len(self.entries), sum(len(v) for v in self.entries.values())

        def write(stream: Any) -> None:
            stream.write((json.dumps(header, sort_keys=True) + "\n").encode())
            for _, rs in sorted(self.entries.items()):
                for r in rs:
                    stream.write((json.dumps(r.to_dict(), sort_keys=True) + "\n").encode())

        try:
            with open(tmp, "wb") as raw:
                if path.name.endswith(".gz"):
                    # No name, mtime=0: the same results give byte-identical files (diff-able package data).
                    with gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
                        write(gz)
                else:
                    write(raw)
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Table":
        """Parse a table file; a bad line is reported with the file and line number."""
        path = Path(path)
        if not path.exists():
            shipped = sorted(p.name for p in TABLES_DIR.glob("*.jsonl*")) if TABLES_DIR.exists() else []
            hint = f" (shipped tables: {shipped})" if shipped else ""
            raise FileNotFoundError(f"no table at {path}{hint}; build one with `agenticrs build-table`")
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            lines = iter(enumerate(f, 1))
            header = _parse(path, *next(lines, (1, "")))
            if header.get("format") != FORMAT:
                raise ValueError(f"{path}:1: not an agenticrs table (header format {header.get('format')!r})")
            if int(header.get("version", 0)) > VERSION:
                raise ValueError(f"{path}:1: table version {header['version']} is newer than supported ({VERSION})")
            results = []
            for lineno, line in lines:
                if line.strip():
                    try:
                        results.append(TrialResult.from_dict(_parse(path, lineno, line)))
                    except (KeyError, TypeError, ValueError) as e:
                        raise ValueError(f"{path}:{lineno}: bad trial result: {e}") from None
        header["_path"] = str(path)
        return cls(results, header)


def _parse(path: Path, lineno: int, line: str) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{lineno}: invalid JSON ({e.msg})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}:{lineno}: expected a JSON object")
    return obj


_CACHE: dict[tuple[str, int, int], Table] = {}


def load_table(path: str | os.PathLike[str]) -> Table:
    """:meth:`Table.load` cached per process (keyed by path, size and mtime: a rebuilt file reloads)."""
    p = Path(path).resolve()
    try:
        st = p.stat()
    except FileNotFoundError:
        return Table.load(p)  # raises the helpful error
    key = (str(p), st.st_size, st.st_mtime_ns)
    table = _CACHE.get(key)
    if table is None:
        table = _CACHE[key] = Table.load(p)
    return table


class TableBackend:
    """Backend ``kind="table"``: evaluate = look up a precomputed live result.

    Args:
        table: a :class:`Table`, or the path of a table file (loaded lazily, cached per process).

    ``evaluate`` returns the stored result of one repeat (``source="table"``, the repeat's own
    ``seed``, the live run's ``cost``) and raises :class:`MissingEntryError` (a ``KeyError``
    naming task, config and fidelity) for configurations the table lacks. A path-based
    backend pickles as its path. Every caller gets the same stored result object: it is
    immutable (a frozen :class:`TrialResult` whose metric and cost maps are read-only), so
    editing ``info["result"]`` raises instead of changing later lookups.
    """

    kind = "table"

    def __init__(self, table: Table | str | os.PathLike[str]):
        if isinstance(table, Table):
            self._path, self._table = table.path, table
        else:
            self._path, self._table = str(table), None
        # Hot-path memo: (task, TrialConfig, fidelity) -> (salt, repeats). Avoids re-hashing
        # the config key (sha256 of JSON) on every step.
        self._memo: dict[tuple[str, TrialConfig, float], tuple[int, tuple[TrialResult, ...]]] = {}

    @property
    def table(self) -> Table:
        if self._table is None:
            self._table = load_table(self._path)  # type: ignore[arg-type]
        return self._table

    def __getstate__(self) -> dict[str, Any]:
        if self._path is not None and Path(self._path).exists():
            return {"_path": self._path, "_table": None, "_memo": {}}
        return {"_path": self._path, "_table": self._table, "_memo": {}}

    def __repr__(self) -> str:
        return f"TableBackend({self._path or '<in memory>'!r})"

    def repeats(self, task: Task | str, config: TrialConfig, fidelity: float) -> tuple[TrialResult, ...]:
        """All stored seeds of one entry."""
        return self._entry(task if isinstance(task, str) else task.name, config, fidelity)[1]

    def _entry(self, name: str, config: TrialConfig, fidelity: float) -> tuple[int, tuple[TrialResult, ...]]:
        memo_key = (name, config, fidelity)
        hit = self._memo.get(memo_key)
        if hit is None:
            table = self.table
            hit = table.lookups.get(memo_key)  # another backend on the same table may have looked it up
            if hit is None:
                key = config.key()
                repeats = table.lookup(name, config, fidelity, key)
                hit = table.lookups[memo_key] = (entry_salt(name, key, fidelity), repeats)
            self._memo[memo_key] = hit
        return hit

    def evaluate(self, task: Task | str, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
        salt, repeats = self._entry(task if isinstance(task, str) else task.name, config, fidelity)
        return repeats[repeat_index(seed, salt, len(repeats))]
