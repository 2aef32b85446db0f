"""Backends of ``AgenticRS-v0``: ``cached`` (the default: real components, cached once) and ``live``.

**cached** (:class:`CachedBackend`). The joint space (16 rankers x 18 serving configs x 112
wirings per task) is never tabulated. What is cached is each *component's* per-user
statistics on the task, per (task, training seed): every recall source trained once and its
top-100 list per user; every ranker (model part x feature part) trained once and, for each
serving precision and refresh, the target's position among each distinct candidate set; the
standalone rankers' validation and test NDCG@10; the measured p99 time of each stage at each
request batch size and each component's memory (see :mod:`~agenticrs.envs.agentic.components`).
At step time the pipeline is assembled from those numbers with numpy
(:meth:`~agenticrs.envs.agentic.assemble.ComponentTables.assemble`): nothing is interpolated.

*When a cache is built.* Files are looked up in the package (``envs/agentic/cache/``: the
embedded ``synthetic`` suite at training seed 0 ships, built by ``python -m
agenticrs.envs.agentic.backend --suite synthetic --out envs/agentic/cache``), then in
``$AGENTICRS_CACHE/agentic`` (default ``~/.cache/agenticrs/agentic``). A missing one is built
on first use of that (task, seed) -- 20 components trained, a tqdm bar over them; 57 s of
wall time for ``syn-sparse`` and 1.5-5 minutes per task on a shared, loaded 2-core machine --
resumably (one part file per component, atomically
written; an interrupted build continues where it stopped) and written atomically (a file is
complete or absent). ``build=False`` raises instead.

**live** (:class:`LiveAgenticBackend`). Every evaluation trains the pipeline's components for
real (cached per worker process), computes the same statistics for that one pipeline and
measures its costs, in an isolated worker process with the
:class:`~agenticrs.envs.backends.function.FunctionBackend`'s timeout and failure handling: a
crash or timeout becomes a ``failed`` / ``timeout`` :class:`PipelineResult`, never an exception.

Both run the same code on the same seeds, so on one machine they agree exactly on every
quality metric and on memory (checked in ``tests/envs/test_agentic_backends.py``; on
``syn-sparse``: default pipeline valid NDCG@10 0.07829 both ways, p99 16.6 ms live vs 17.7 ms
cached, measured at different times); only the measured latencies differ.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from agenticrs.envs.agentic.assemble import ComponentTables, PipelineResult, position_metrics
from agenticrs.envs.agentic.components import (
    BATCH_SIZES,
    GRID_VERSION,
    WAIT_QUANTILE,
    PRECISIONS,
    REFRESHES,
    full_rank_ndcg,
    merge_cost_ms,
    merged_candidates,
    order_positions,
    ranked_positions,
    ranker_cost_ms,
    ranker_grid,
    ranker_memory_mb,
    ranker_spec,
    recall_configs,
    recall_cost_ms,
    recall_lists,
    recall_spec,
    variant_scores,
)
from agenticrs.envs.agentic.spaces import AGENTS, RECALL_SOURCES, JointConfig
from agenticrs.envs.core import Task, TrialConfig, TrialResult

PACKAGE_CACHE = Path(__file__).with_name("cache")
"""Shipped component tables (the embedded suite, training seed 0)."""


def cache_name(task: Task, seed: int) -> str:
    """``{task}__{hash(data, grid version)}__seed{seed}.npz``: a task renamed or re-gridded never matches."""
    digest = hashlib.sha256(f"{task.data}|{GRID_VERSION}".encode()).hexdigest()[:10]
    return f"{task.name}__{digest}__seed{int(seed)}.npz"


def user_cache_dir() -> Path:
    """``$AGENTICRS_CACHE/agentic`` (default ``~/.cache/agenticrs/agentic``)."""
    from agenticrs.recsys.text.cache import cache_root

    return cache_root() / "agentic"


def _save_npz(path: Path, arrays: Mapping[str, np.ndarray], compressed: bool = True) -> None:
    from agenticrs.io import write_bytes_atomic

    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    write_bytes_atomic(path, buf.getvalue())


# ---------------------------------------------------------------------- building
def _recall_part(dataset: Any, split: Any, seed: int) -> dict[str, np.ndarray]:
    """Recall sources: order positions of every recall configuration, distinct candidate sets, costs."""
    from agenticrs.envs.agentic.components import fit

    fitted = {s: fit(dataset, split, recall_spec(s), seed) for s in RECALL_SOURCES}
    lists = {sp: {s: recall_lists(f.model, getattr(split, sp)) for s, f in fitted.items()} for sp in ("valid", "test")}
    out: dict[str, np.ndarray] = {}
    keys: dict[bytes, int] = {}
    set_of, sets_v, sets_t = [], [], []
    orders: dict[str, list[np.ndarray]] = {"valid": [], "test": []}
    for cfg in recall_configs():
        cands = {sp: merged_candidates(lists[sp], cfg, dataset.n_items) for sp in ("valid", "test")}
        for sp in ("valid", "test"):
            orders[sp].append(order_positions(cands[sp], getattr(split, sp).targets))
        # Candidate *sets* (order-free) decide re-ranked positions: configurations sharing one share a row.
        key = b"".join(np.sort(cands[sp].numpy(), 1).tobytes() for sp in ("valid", "test"))
        if key not in keys:
            keys[key] = len(keys)
            sets_v.append(_pad(cands["valid"].numpy()))
            sets_t.append(_pad(cands["test"].numpy()))
        set_of.append(keys[key])
    out["order_pos_valid"], out["order_pos_test"] = np.stack(orders["valid"]), np.stack(orders["test"])
    out["set_of_config"] = np.asarray(set_of, dtype=np.int16)
    out["sets_valid"], out["sets_test"] = np.stack(sets_v), np.stack(sets_t)
    out["recall_ms"] = np.asarray([[recall_cost_ms(fitted[s].model, split.test, b) for b in BATCH_SIZES]
                                       for s in RECALL_SOURCES])
    a, b = (lists["test"][s] for s in RECALL_SOURCES[:2])
    out["merge_ms"] = np.asarray([merge_cost_ms(a, b, dataset.n_items, size) for size in BATCH_SIZES])
    out["recall_mb"] = np.asarray([fitted[s].params * 4 / 2**20 for s in RECALL_SOURCES])
    out["recall_train_s"] = np.asarray([fitted[s].train_seconds for s in RECALL_SOURCES])
    return out


def _pad(x: np.ndarray, width: int = 100) -> np.ndarray:
    out = np.zeros((x.shape[0], width), dtype=np.int32)
    out[:, : x.shape[1]] = x
    return out


def _ranker_part(dataset: Any, split: Any, seed: int, params: Mapping[str, Any], sets: Mapping[str, np.ndarray]
                 ) -> dict[str, np.ndarray]:
    """One ranker: re-ranked positions for every (precision, refresh) and candidate set, NDCG, costs."""
    import torch

    from agenticrs.envs.agentic.components import fit

    f = fit(dataset, split, ranker_spec(params), seed)
    pos: dict[str, list[np.ndarray]] = {"valid": [], "test": []}
    ndcg = {}
    p99, mem = [], []
    for precision in PRECISIONS:
        for refresh in REFRESHES:
            for sp in ("valid", "test"):
                ev = getattr(split, sp)
                scores = variant_scores(f.model, ev, precision, refresh, seed)
                if precision == "fp32" and refresh == 0:
                    ndcg[sp] = full_rank_ndcg(scores, ev.targets)
                cands = torch.from_numpy(sets[sp].astype(np.int64))
                pos[sp].append(np.stack([ranked_positions(scores, c, ev.targets) for c in cands]))
            p99.append([ranker_cost_ms(f.model, split.test, precision, refresh, b) for b in BATCH_SIZES])
            mem.append(ranker_memory_mb(f.model, precision, refresh, dataset.n_users))
    return {"ranked_pos_valid": np.stack(pos["valid"]), "ranked_pos_test": np.stack(pos["test"]),
            "ranker_ndcg_valid": np.asarray([ndcg["valid"]]), "ranker_ndcg_test": np.asarray([ndcg["test"]]),
            "ranker_ms": np.asarray(p99), "ranker_mb": np.asarray(mem),
            "ranker_train_s": np.asarray([f.train_seconds])}


def build_tables(task: Task, seed: int, out: Path, progress: bool = True) -> Path:
    """Train every component of the grid on ``task`` and write its :class:`ComponentTables` to ``out``.

    Resumable: each component's statistics go to ``{out}.parts/`` as soon as they exist;
    a rerun skips the parts already written. The final file is written atomically and the
    parts are then removed.
    """
    import torch
    from tqdm.auto import tqdm

    from agenticrs.envs.backends.function import task_data

    parts = out.with_name(out.name + ".parts")
    parts.mkdir(parents=True, exist_ok=True)
    grid = ranker_grid()
    names = ["recall"] + [f"ranker{i:02d}" for i in range(len(grid))]
    dataset = split = None
    loaded: dict[str, dict[str, np.ndarray]] = {}
    bar = tqdm(names, desc=f"AgenticRS cache {task.name} seed {seed}", disable=not progress, unit="component")
    for name in bar:
        path = parts / f"{name}.npz"
        if path.exists():
            try:
                with np.load(path) as z:
                    loaded[name] = {k: z[k] for k in z.files}
                continue
            except (OSError, ValueError):
                path.unlink(missing_ok=True)  # a torn part (should not happen: parts are atomic) is rebuilt
        if dataset is None:
            dataset, split = task_data(task)
        torch.manual_seed(seed)
        if name == "recall":
            arrays = _recall_part(dataset, split, seed)
        else:
            r = loaded["recall"]
            arrays = _ranker_part(dataset, split, seed, grid[int(name[6:])],
                                  {"valid": r["sets_valid"], "test": r["sets_test"]})
        _save_npz(path, arrays, compressed=False)
        loaded[name] = arrays
    rec = loaded["recall"]
    rankers = [loaded[n] for n in names[1:]]
    arrays = {k: rec[k] for k in ("order_pos_valid", "order_pos_test", "set_of_config", "recall_ms",
                                  "merge_ms", "recall_mb", "recall_train_s")}
    for key in ("ranked_pos_valid", "ranked_pos_test", "ranker_ms", "ranker_mb"):
        arrays[key] = np.concatenate([r[key] for r in rankers])  # rankers are variant-major: r * 6 + q
    for key in ("ranker_ndcg_valid", "ranker_ndcg_test", "ranker_train_s"):
        arrays[key] = np.concatenate([r[key] for r in rankers])
    for key in ("ranked_pos_valid", "ranked_pos_test", "order_pos_valid", "order_pos_test"):
        arrays[key] = arrays[key].astype(np.uint8)
    for key in ("recall_ms", "merge_ms", "ranker_ms", "recall_mb", "ranker_mb", "recall_train_s",
                "ranker_train_s", "ranker_ndcg_valid", "ranker_ndcg_test"):
        arrays[key] = arrays[key].astype(np.float32)
    meta = {"task": task.name, "data": task.data, "seed": int(seed), "grid_version": GRID_VERSION,
            "built": time.strftime("%Y-%m-%d %H:%M:%S"), "torch": torch.__version__}
    ComponentTables(arrays, meta)  # validate before writing
    _save_npz(out, {**arrays, "meta": np.asarray(json.dumps(meta))})
    for p in parts.glob("*.npz"):
        p.unlink()
    parts.rmdir()
    return out


# ---------------------------------------------------------------------- backends
class CachedBackend:
    """``kind = "cached"``: assemble pipelines from cached component tables (see the module docstring).

    Args:
        train_seeds: the training seeds whose caches are used; an evaluation's ``seed`` picks
            ``train_seeds[seed % len(train_seeds)]`` (default ``(0,)``: the shipped cache).
        cache_dir: where built caches go (default :func:`user_cache_dir`).
        build: build a missing cache on first use (else ``FileNotFoundError``).
        progress: show the build's progress bar.
    """

    kind = "cached"

    def __init__(self, train_seeds: Sequence[int] = (0,), cache_dir: str | os.PathLike[str] | None = None,
                 build: bool = True, progress: bool = True):
        if not train_seeds:
            raise ValueError("CachedBackend: train_seeds must not be empty")
        self.train_seeds = tuple(int(s) for s in train_seeds)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.build, self.progress = bool(build), bool(progress)
        self._tables: dict[tuple[str, str, int], ComponentTables] = {}
        self._memo: dict[tuple[str, int, JointConfig], PipelineResult] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_memo"] = {}  # memo and tables reload lazily in a copy (cheap, and keeps pickles small)
        state["_tables"] = {}
        return state

    def path(self, task: Task, seed: int) -> Path:
        """Where the cache of (task, seed) is (the package's, else the user cache dir's)."""
        name = cache_name(task, seed)
        shipped = PACKAGE_CACHE / name
        if shipped.exists() and self.cache_dir is None:
            return shipped
        return (self.cache_dir or user_cache_dir()) / name

    def tables(self, task: Task, seed: int) -> ComponentTables:
        """The component tables of (task, training seed), loaded once (built first if missing)."""
        key = (task.name, task.data, int(seed))
        hit = self._tables.get(key)
        if hit is None:
            path = self.path(task, seed)
            if not path.exists():
                if not self.build:
                    raise FileNotFoundError(f"no AgenticRS component cache for task {task.name!r} seed {seed} at "
                                            f"{path}; pass build=True or run `python -m agenticrs.envs.agentic.backend "
                                            f"--tasks {task.name}`")
                build_tables(task, seed, path, self.progress)
            hit = self._tables[key] = ComponentTables.load(path)
        return hit

    def train_seed(self, seed: int) -> int:
        return self.train_seeds[int(seed) % len(self.train_seeds)]

    def evaluate(self, task: Task, joint: JointConfig, seed: int) -> PipelineResult:
        """The pipeline ``joint`` on ``task`` (components trained with ``train_seed(seed)``)."""
        s = self.train_seed(seed)
        key = (task.name, s, joint)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self.tables(task, s).assemble(joint)
        return hit


def joint_trial_config(joint: JointConfig) -> TrialConfig:
    """A joint config as a flat :class:`TrialConfig` (``model="agentic"``, params ``agent.choice``)."""
    return TrialConfig.make("agentic", **{f"{a}.{k}": v for a in AGENTS for k, v in joint.part(a).items()})


def joint_from_trial_config(config: TrialConfig) -> JointConfig:
    parts: dict[str, dict[str, Any]] = {a: {} for a in AGENTS}
    for key, value in config.param_dict.items():
        agent, _, name = key.partition(".")
        parts[agent][name] = value
    return JointConfig.make(**parts)


def run_agentic_trial(task: Task, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
    """Live trial: train the pipeline's components (cached per process), assemble, measure.

    Valid / test metrics as :class:`PipelineResult`; cost: ``seconds`` (training of every
    component, charged whether cached or not, plus evaluation), ``train_seconds``,
    ``p99_latency_ms``, ``memory_mb``.
    """
    from agenticrs.envs.agentic.components import fit
    from agenticrs.envs.backends.function import task_data

    start = time.perf_counter()
    joint = joint_from_trial_config(config)
    comp, serving = joint.part("composer"), joint.part("serving")
    dataset, split = task_data(task)
    batch = int(serving["batch_size"])
    sources = [comp["recall_a"]] + ([comp["recall_b"]] if comp.get("recall_b", "none") != "none" else [])
    fitted = {s: fit(dataset, split, recall_spec(s), seed) for s in sources}
    ranker = fit(dataset, split, ranker_spec(joint.ranker_params()), seed)
    cfg = (comp["recall_a"], comp.get("recall_b", "none"), int(comp["quota"]), comp.get("merge", ""))
    metrics, lists = {}, {}
    for sp in ("valid", "test"):
        ev = getattr(split, sp)
        lists[sp] = {s: recall_lists(f.model, ev) for s, f in fitted.items()}
        cands = merged_candidates(lists[sp], cfg, dataset.n_items)
        if comp["ranker"]:
            scores = variant_scores(ranker.model, ev, serving["precision"], int(serving["refresh"]), seed)
            pos = ranked_positions(scores, cands, ev.targets)
        else:
            pos = order_positions(cands, ev.targets)
        metrics[sp] = position_metrics(pos, sp == "test")
        metrics[sp]["ranker_ndcg@10"] = full_rank_ndcg(variant_scores(ranker.model, ev, "fp32", 0, seed), ev.targets)
    p99 = WAIT_QUANTILE * (batch - 1) + sum(recall_cost_ms(f.model, split.test, batch) for f in fitted.values())
    mem = sum(f.params * 4 / 2**20 for f in fitted.values())
    train_s = sum(f.train_seconds for f in fitted.values())
    if len(sources) > 1:
        p99 += merge_cost_ms(lists["test"][sources[0]], lists["test"][sources[1]], dataset.n_items, batch)
    if comp["ranker"]:
        p99 += ranker_cost_ms(ranker.model, split.test, serving["precision"], int(serving["refresh"]), batch)
        mem += ranker_memory_mb(ranker.model, serving["precision"], int(serving["refresh"]), dataset.n_users)
        train_s += ranker.train_seconds
    cost = {"seconds": train_s + time.perf_counter() - start, "train_seconds": train_s, "p99_latency_ms": p99,
            "memory_mb": mem}
    return TrialResult(config, task.name, fidelity, seed, "ok", metrics["valid"], metrics["test"], cost, "", "live")


class LiveAgenticBackend:
    """``kind = "live"``: every pipeline trained and measured for real in an isolated worker.

    Keyword arguments go to :class:`~agenticrs.envs.backends.function.FunctionBackend`
    (``timeout_s`` default 600, ``isolate`` default True, ``store``, ``threads``...).
    """

    kind = "live"

    def __init__(self, **kwargs: Any):
        from agenticrs.envs.backends.function import FunctionBackend

        kwargs.setdefault("agent", "agentic")
        self.inner = FunctionBackend("agenticrs.envs.agentic.backend:run_agentic_trial", **kwargs)

    def evaluate(self, task: Task, joint: JointConfig, seed: int) -> PipelineResult:
        r = self.inner.evaluate(task, joint_trial_config(joint), 1.0, int(seed))
        if not r.ok:
            return PipelineResult(r.status, train_seconds=float(r.cost.get("seconds", 0.0)), reason=r.reason,
                                  source="live")
        return PipelineResult("ok", dict(r.valid), dict(r.test), float(r.cost["p99_latency_ms"]),
                              float(r.cost["memory_mb"]), float(r.cost["train_seconds"]), source="live")

    def close(self) -> None:
        self.inner.close()


BACKENDS = ("cached", "live")


def make_agentic_backend(backend: Any = "cached", **kwargs: Any) -> Any:
    """``"cached"`` / ``"live"`` (with kwargs) or an object with ``evaluate(task, joint, seed)``."""
    if not isinstance(backend, str):
        if kwargs:
            raise TypeError("backend_kwargs were given with a ready backend instance")
        if not callable(getattr(backend, "evaluate", None)):
            raise TypeError(f"backend must be one of {BACKENDS} or have evaluate(task, joint, seed), "
                            f"got {type(backend).__name__}")
        return backend
    if backend == "cached":
        return CachedBackend(**kwargs)
    if backend == "live":
        return LiveAgenticBackend(**kwargs)
    raise ValueError(f"AgenticRS backend must be one of {BACKENDS} or an instance, got {backend!r}")


# ---------------------------------------------------------------------- command line
def main(argv: Sequence[str] | None = None) -> int:
    """Build component caches: ``python -m agenticrs.envs.agentic.backend --suite synthetic --out envs/agentic/cache``."""
    import torch

    from agenticrs.envs.suites import get_suite

    p = argparse.ArgumentParser(prog="python -m agenticrs.envs.agentic.backend", description=main.__doc__)
    p.add_argument("--suite", default="synthetic")
    p.add_argument("--tasks", nargs="*", help="task names (default: every task of the suite)")
    p.add_argument("--seeds", nargs="*", type=int, default=[0])
    p.add_argument("--out", type=Path, default=None, help="folder (default: $AGENTICRS_CACHE/agentic)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    suite = get_suite(args.suite)
    tasks = [suite.task(n) for n in args.tasks] if args.tasks else list(suite.tasks)
    out_dir = args.out or user_cache_dir()
    for task in tasks:
        for seed in args.seeds:
            path = out_dir / cache_name(task, seed)
            if path.exists():
                print(f"{path} exists")
                continue
            t = time.perf_counter()
            build_tables(task, seed, path)
            print(f"{path}: {path.stat().st_size / 1e6:.2f} MB in {time.perf_counter() - t:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
