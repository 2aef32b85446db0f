"""Task suites: named train / test tasks an evolution policy is trained and judged on.

* ``synthetic`` (the embedded default): small generated datasets whose structure differs
  (size, popularity skew, sequential strength, item-text signal) so the best configuration
  differs between tasks; a live trial on one takes seconds.
* ``beauty`` / ``scientific``: disjoint user subsamples of the real Amazon datasets,
  registered only when the data is found (``$AGENTICRS_DATA`` or ``../shared/data``). They
  use the ``subsample:URI?users=N,part=P,seed=S`` dataset scheme this module registers.

Register your own::

    register_suite(TaskSuite("mine", train=(Task("a", "csv:a.csv"),), test=(Task("b", "csv:b.csv"),)))

Task meta-features (:func:`task_stats`) never need the data when they are known in advance:
a backend may provide them (``backend.task_stats(task)``), suites ship them
(``register_suite(..., stats=...)`` and ``suite_stats.json`` next to this file), and anything
else is computed once from the dataset and cached in memory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from agenticrs.envs.core import Task, TaskSuite
from agenticrs.recsys.data.dataset import Dataset

_SUITES: dict[str, TaskSuite | Callable[[], TaskSuite]] = {}
_STATS: dict[str, dict[str, float]] = {}
"""Dataset URI -> ``Dataset.stats()``, from suites, the shipped file, or computed once."""

STATS_FILE = Path(__file__).with_name("suite_stats.json")
"""Precomputed ``Dataset.stats()`` of the embedded suites' datasets, keyed by URI."""


# ---------------------------------------------------------------------- registry
def register_suite(
    suite: TaskSuite | Callable[[], TaskSuite],
    name: str | None = None,
    *,
    stats: Mapping[str, Mapping[str, float]] | None = None,
    overwrite: bool = False,
) -> None:
    """Register a suite (or a zero-argument factory, built on first :func:`get_suite`).

    Args:
        suite: the suite or a factory.
        name: defaults to ``suite.name`` (required for factories).
        stats: optional precomputed ``Dataset.stats()`` per dataset URI, so task
            meta-features are available without loading the data.
        overwrite: replace an existing suite of the same name.
    """
    if name is None:
        if not isinstance(suite, TaskSuite):
            raise ValueError("register_suite: a factory needs an explicit name")
        name = suite.name
    if isinstance(suite, TaskSuite):
        _check_suite(suite)
    if not overwrite and name in _SUITES:
        raise ValueError(f"task suite {name!r} is already registered")
    _SUITES[name] = suite
    for uri, s in (stats or {}).items():
        _STATS[uri] = {k: float(v) for k, v in s.items()}


def get_suite(name: str | TaskSuite) -> TaskSuite:
    """Resolve a registered suite name (building a lazy one), or pass a TaskSuite through."""
    if isinstance(name, TaskSuite):
        return name
    if name not in _SUITES:
        raise KeyError(f"unknown task suite {name!r}; registered: {', '.join(sorted(_SUITES))}")
    suite = _SUITES[name]
    if not isinstance(suite, TaskSuite):
        suite = suite()
        _check_suite(suite)
        _SUITES[name] = suite
    return suite


def list_suites() -> list[str]:
    return sorted(_SUITES)


def _check_suite(suite: TaskSuite) -> None:
    names = [t.name for t in suite.tasks]
    if not suite.train:
        raise ValueError(f"task suite {suite.name!r} has no train tasks")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"task suite {suite.name!r} has duplicate task names {dup}")
    for t in suite.tasks:
        if t.max_trials < 1:
            raise ValueError(f"task {t.name!r}: max_trials must be >= 1, got {t.max_trials}")
        if t.max_seconds is not None and not t.max_seconds > 0:
            raise ValueError(f"task {t.name!r}: max_seconds must be > 0 or None, got {t.max_seconds}")


# ---------------------------------------------------------------------- meta-features
def task_stats(task: Task, backend: Any = None) -> dict[str, float]:
    """``Dataset.stats()`` of the task's data, loading the data only as a last resort.

    Order: ``backend.task_stats(task)`` (a table backend ships them), stats registered with a
    suite or shipped in :data:`STATS_FILE`, then ``load_dataset(task.data).stats()``.
    """
    fn = getattr(backend, "task_stats", None)
    if fn is not None:
        s = fn(task)
        if s:
            return dict(s)
    if task.data not in _STATS:
        _load_stats_file()
    if task.data not in _STATS:
        from agenticrs.recsys.data import load_dataset  # imports the data stack only when needed

        _STATS[task.data] = load_dataset(task.data).stats()
    return dict(_STATS[task.data])


_stats_file_loaded: list[bool] = []


def _load_stats_file() -> None:
    if _stats_file_loaded or not STATS_FILE.exists():
        return
    _stats_file_loaded.append(True)
    for uri, s in json.loads(STATS_FILE.read_text()).items():
        _STATS.setdefault(uri, s)


def write_stats_file(suites: list[str] | None = None, path: Path = STATS_FILE) -> dict[str, dict[str, float]]:
    """Compute ``stats()`` of every dataset in ``suites`` (default: the embedded ones) and write them."""
    from agenticrs.recsys.data import load_dataset

    out: dict[str, dict[str, float]] = {}
    for name in suites or ["synthetic"]:
        for t in get_suite(name).tasks:
            if t.data not in out:
                out[t.data] = load_dataset(t.data).stats()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)  # atomic: never a half-written stats file
    _STATS.update(out)
    return out


# ---------------------------------------------------------------------- built-in suites
def _syn(users: int, items: int, seed: int, skew: float, seq: float, text: float, length: int) -> str:
    return (f"synthetic:users={users},items={items},seed={seed},skew={skew},seq_strength={seq},"
            f"text_signal={text},mean_length={length}")


SYNTHETIC = TaskSuite(
    "synthetic",
    # Small on purpose: the shipped table trains every configuration of every task 3 times
    # (about an hour on 2 cores); a live trial on one takes 0.1-5 seconds.
    train=(
        # Strong item-to-item transitions: sequential models (SASRec, GRU4Rec) should win.
        Task("syn-sequential", _syn(450, 400, 11, 0.8, 0.9, 0.3, 20)),
        # Heavy popularity skew, little order: Pop / ItemKNN are hard to beat.
        Task("syn-popular", _syn(500, 400, 12, 1.6, 0.1, 0.3, 12)),
        # Few users, short sequences: small, regularised models should win.
        Task("syn-sparse", _syn(350, 300, 13, 1.0, 0.5, 0.0, 8)),
        # Long histories: max_len and depth matter.
        Task("syn-long", _syn(300, 250, 14, 0.6, 0.7, 0.6, 30)),
    ),
    test=(
        Task("syn-mixed", _syn(400, 400, 15, 1.2, 0.5, 0.5, 15)),
        Task("syn-textual", _syn(550, 500, 16, 0.9, 0.3, 0.9, 12)),
    ),
)


# ---------------------------------------------------------------------- real-data subsamples
def subsample(dataset: Dataset, users: int, part: int = 0, seed: int = 0) -> Dataset:
    """Users ``part * users .. (part + 1) * users`` of a seeded permutation, items re-indexed.

    Different ``part`` values (same ``seed``) are disjoint user sets, so train and test tasks
    cut from one dataset share no user. Item ids are made dense again over the items the
    chosen users touch; text and attributes follow their items.

    Raises:
        ValueError: ``users < 1``, ``part < 0``, or fewer than ``(part + 1) * users`` users.
    """
    if users < 1 or part < 0:
        raise ValueError(f"subsample: users must be >= 1 and part >= 0, got users={users}, part={part}")
    if (part + 1) * users > dataset.n_users:
        raise ValueError(f"subsample: {dataset.name} has {dataset.n_users} users, fewer than "
                         f"(part + 1) * users = {(part + 1) * users}")
    perm = np.random.default_rng(seed).permutation(dataset.n_users)
    chosen = np.sort(perm[part * users : (part + 1) * users])  # keep the original user order
    seqs = [dataset.sequence(int(u)) for u in chosen]
    old = np.unique(np.concatenate(seqs))  # sorted original item ids that remain
    new_id = np.zeros(dataset.n_items + 1, dtype=np.int64)
    new_id[old] = np.arange(1, len(old) + 1)
    keep = np.concatenate([[0], old])
    ts = None
    if dataset.timestamps is not None:
        ts = [dataset.timestamps[dataset.offsets[u] : dataset.offsets[u + 1]] for u in chosen]
    return Dataset.from_sequences(
        [new_id[s] for s in seqs], len(old), name=f"{dataset.name}[users={users},part={part},seed={seed}]",
        user_ids=dataset.user_ids[chosen], item_ids=dataset.item_ids[keep],
        item_text=[dataset.item_text[i] for i in keep] if dataset.item_text is not None else None,
        item_attributes=[dataset.item_attributes[i] for i in keep] if dataset.item_attributes is not None else None,
        timestamps=ts,
    )


def _load_subsample(arg: str) -> Dataset:
    """``subsample:INNER_URI?users=N,part=P,seed=S`` (the loader behind the scheme)."""
    from agenticrs.recsys.data.registry import load_dataset

    inner, sep, options = arg.rpartition("?")
    if not sep or not inner:
        raise ValueError(f"subsample URI needs 'subsample:URI?users=N[,part=P][,seed=S]', got {arg!r}")
    kw: dict[str, int] = {}
    for pair in filter(None, (p.strip() for p in options.split(","))):
        name, _, raw = pair.partition("=")
        if name not in ("users", "part", "seed") or not raw.strip().lstrip("-").isdigit():
            raise ValueError(f"subsample option {pair!r}: expected users=N, part=P or seed=S (integers)")
        kw[name] = int(raw)
    if "users" not in kw:
        raise ValueError(f"subsample URI {arg!r} has no users=N option")
    return subsample(load_dataset(inner), **kw)


def _real_suite(name: str, source: str, users: int) -> TaskSuite:
    """Train and test tasks are disjoint user subsamples (``part`` 0..4) of one real dataset."""

    def task(part: int) -> Task:
        return Task(f"{name}-u{users}-p{part}", f"subsample:{source}?users={users},part={part},seed=0")

    return TaskSuite(name, train=tuple(task(i) for i in range(3)), test=tuple(task(i) for i in range(3, 5)))


def _register_builtin() -> None:
    from agenticrs.recsys.data.registry import data_roots, register_dataset

    register_dataset("subsample", _load_subsample, replace=True,
                     description="user subsample of another dataset: subsample:URI?users=N,part=P,seed=S")
    register_suite(SYNTHETIC, overwrite=True)
    roots = data_roots()
    # Beauty has 22,363 users and Scientific 8,442: five disjoint parts of 2,000 / 1,500 users each.
    if any((r / "amazon-beauty").is_dir() for r in roots):
        register_suite(lambda: _real_suite("beauty", "beauty", 2000), "beauty", overwrite=True)
    if any((r / "amazon-scientific").is_dir() for r in roots):
        register_suite(lambda: _real_suite("scientific", "scientific", 1500), "scientific", overwrite=True)


_register_builtin()
