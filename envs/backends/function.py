"""A live backend around any trial function, with the live backend's failure handling.

The Compose and AutoPerf envs evaluate things that are not one model training run (a wired
pipeline, a serving configuration), so their live mode calls a *trial function*::

    def run_my_trial(task: Task, config: TrialConfig, fidelity: float, seed: int, **kw) -> TrialResult

named as ``"module:function"``. Like :class:`~agenticrs.envs.backends.live.LiveBackend`:

* **Isolation**: by default trials run in one persistent worker process (``forkserver``, else
  ``spawn``), so per-process caches (fitted pipeline components, trained base models) are
  reused across trials, and a trial running past ``timeout_s`` is killed (the worker restarts).
* **Failures**: an exception, a dead worker, a non-finite metric (``diverged``) or anything
  else :func:`~agenticrs.envs.core.validate_result` rejects (``None``, negative costs, wrong
  types) become ``status="failed"`` with the reason; a killed trial ``status="timeout"``.
  ``evaluate`` never raises for a bad trial.
* **Warm start**: with a :class:`KnowledgeStore`, an identical finished trial is returned
  without running, and new trials are recorded.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Mapping, Sequence

from agenticrs.envs.core import Task, TrialConfig, TrialResult, validate_result


def resolve_function(spec: str | Callable[..., TrialResult]) -> Callable[..., TrialResult]:
    """``"module:function"`` -> the function (callables pass through)."""
    if callable(spec):
        return spec
    module, sep, attr = spec.partition(":")
    if not sep:
        raise ValueError(f"trial function must be 'module:function', got {spec!r}")
    return getattr(importlib.import_module(module), attr)


def call_trial(fn: str | Callable[..., TrialResult], task: Task, config: TrialConfig, fidelity: float, seed: int,
               kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Run one trial and return ``TrialResult.to_dict()``; never raises (failures become results)."""
    start = time.perf_counter()
    try:
        result = resolve_function(fn)(task, config, fidelity, seed, **dict(kwargs))
    except Exception as e:  # noqa: BLE001 -- any crash of the trial is a failed trial
        frames = traceback.extract_tb(e.__traceback__)
        where = f" (at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
        return TrialResult(config, task.name, fidelity, seed, "failed", cost={"seconds": time.perf_counter() - start},
                           reason=f"{type(e).__name__}: {e}{where}"[:2000]).to_dict()
    if isinstance(result, TrialResult) and result.ok:
        values = [*result.valid.values(), *result.test.values()]
        if all(isinstance(v, float) for v in values) and not all(math.isfinite(v) for v in values):
            result = dataclasses.replace(result, status="failed", valid={}, test={},
                                         reason="diverged: non-finite evaluation metric")
    # None, wrong types, negative costs...: a failed trial that says what was wrong (and the seconds spent).
    checked = validate_result(result, task, config, fidelity, seed, source="live")
    if checked is not result and not checked.cost:
        checked = dataclasses.replace(checked, cost={"seconds": time.perf_counter() - start})
    return checked.to_dict()


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


class FunctionBackend:
    """Backend ``kind="function"``: live evaluation by a trial function (see the module docstring).

    Args:
        trial_fn: ``"module:function"`` (or a module-level callable).
        fn_kwargs: keyword arguments passed to every call (plain data: they are pickled).
        store: a KnowledgeStore for warm starts and recording.
        timeout_s: hard limit per trial (needs ``isolate``); ``None``: none.
        isolate: run in a worker process (else in process: fast, no hard timeout).
        threads: torch threads in the worker.
        reuse: statuses of stored trials returned instead of running.
        record, run_id, agent, env: recording in ``store``.
    """

    kind = "function"

    def __init__(self, trial_fn: str | Callable[..., TrialResult], *, fn_kwargs: Mapping[str, Any] | None = None,
                 store: Any = None, timeout_s: float | None = 600.0, isolate: bool = True, threads: int = 1,
                 reuse: Sequence[str] = ("ok", "failed"), record: bool = True, run_id: str | None = None,
                 agent: str = "", env: str = ""):
        if timeout_s is not None and timeout_s <= 0:
            raise ValueError(f"FunctionBackend: timeout_s must be positive or None, got {timeout_s}")
        self._kwargs = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        self.trial_fn, self.fn_kwargs = trial_fn, dict(fn_kwargs or {})
        self.store, self.timeout_s, self.isolate, self.threads = store, timeout_s, isolate, threads
        self.reuse, self.record, self.run_id, self.agent, self.env = tuple(reuse), record, run_id, agent, env
        self.stats = {"ran": 0, "reused": 0, "failed": 0, "timeout": 0}
        self._pool: ProcessPoolExecutor | None = None

    def clone(self) -> "FunctionBackend":
        """Same settings, its own worker (one per parallel table-builder thread)."""
        return FunctionBackend(**self._kwargs)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            for p in list(getattr(pool, "_processes", {}).values()):
                p.kill()
            pool.shutdown(wait=False, cancel_futures=True)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_pool"] = None
        return state

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 -- interpreter shutdown
            pass

    def evaluate(self, task: Task, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
        if not 0.0 < fidelity <= 1.0:
            raise ValueError(f"fidelity must lie in (0, 1], got {fidelity!r}")
        if self.store is not None and self.reuse:
            hit = self.store.find_trial(task.name, config, fidelity, seed, status=self.reuse)
            if hit is not None:
                self.stats["reused"] += 1
                return hit
        if self.isolate:
            out = self._run_isolated(task, config, fidelity, seed)
        else:
            out = call_trial(self.trial_fn, task, config, fidelity, seed, self.fn_kwargs)
        result = dataclasses.replace(TrialResult.from_dict(out), config=config, source="live")
        self.stats["ran" if result.ok else result.status] += 1
        if self.store is not None and self.record:
            self.store.add_trial(result, run_id=self.run_id, agent=self.agent, env=self.env)
        return result

    def _run_isolated(self, task: Task, config: TrialConfig, fidelity: float, seed: int) -> dict[str, Any]:
        from agenticrs.envs.backends.live import _context

        def failed(status: str, reason: str, seconds: float) -> dict[str, Any]:
            return TrialResult(config, task.name, fidelity, seed, status, cost={"seconds": seconds},  # type: ignore[arg-type]
                               reason=reason).to_dict()

        if self._pool is None:
            self._pool = ProcessPoolExecutor(1, mp_context=_context(), initializer=_init_worker,
                                             initargs=(self.threads,))
        start = time.perf_counter()
        try:
            fut = self._pool.submit(call_trial, self.trial_fn, task, config, fidelity, seed, self.fn_kwargs)
            return fut.result(timeout=self.timeout_s)
        except FutureTimeout:
            self.close()  # kill the stuck trial; the next one starts a fresh worker
            return failed("timeout", f"killed after the {self.timeout_s:g}s trial timeout", time.perf_counter() - start)
        except BrokenProcessPool:
            self.close()
            return failed("failed", "worker process died (killed: out of memory?)", time.perf_counter() - start)


_DATA: dict[str, tuple[Any, Any]] = {}


def task_data(task: Task) -> tuple[Any, Any]:
    """The task's dataset and leave-one-out split, loaded once per process (for trial functions)."""
    hit = _DATA.get(task.data)
    if hit is None:
        from agenticrs.recsys.data import load_dataset

        dataset = load_dataset(task.data)
        hit = _DATA[task.data] = (dataset, dataset.split())
    return hit
