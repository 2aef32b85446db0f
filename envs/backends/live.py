"""The live backend: train and evaluate real recommenders, one trial at a time.

A trial is ``(task, config, fidelity, seed)``:

* **Fidelity** is the fraction of the full training budget: the trainer runs
  ``max(1, round(fidelity * E))`` epochs, where ``E`` is the config's own ``epochs``
  parameter if it sets one, else the backend's ``full_epochs``. Closed-form models (Pop,
  ItemKNN) ignore it. Fidelity must lie in ``(0, 1]``.
* **Config params** are routed by field name to the model ``Config`` or the ``TrainConfig``
  (``split_overrides``); the trial's seed, device and the task's metric always win.
* **Isolation**: by default each trial runs in a persistent worker subprocess (forked from a
  warmed-up ``forkserver``, or ``spawn`` where there is none; kept warm in the process-wide
  :data:`POOL`, prestarted when the backend is created and reused by later backends), so
  a trial that hangs past ``timeout_s`` is killed (and the worker restarted) instead of
  blocking the caller; the trainer also gets ``max_seconds = soft_budget * timeout_s`` so most
  slow trials stop gracefully first. With ``use_ray=True`` each trial is a Ray task
  (``ray.get(timeout=)``, force-cancelled past the timeout). ``isolate=False`` runs in process
  (fast, but only the soft budget applies, and trials in one process run one at a time because
  torch's seeding is process-global).
* **Failures**: a crash, a ``DivergenceError``, a non-finite metric, an invalid config or a
  dead worker become ``status="failed"`` with the reason; a killed trial becomes
  ``status="timeout"``. ``evaluate`` never raises for a bad trial (only for a fidelity
  outside ``(0, 1]``, a caller bug).
* **Warm start**: with a :class:`KnowledgeStore`, an identical finished trial (same task name,
  config key, fidelity, seed, status in ``reuse``) is returned without training, and every
  new trial is recorded.
* **Cost** (``TrialResult.cost``): ``seconds`` (wall time of training plus test evaluation,
  dataset loading excluded), ``train_seconds``, ``params``, ``inference_ms_per_user``,
  ``peak_memory_mb`` (CUDA peak allocation, or the worker's peak RSS during the trial on
  Linux) and ``epochs``. Failed trials carry ``seconds`` until the failure.

Datasets are loaded from the task's URI with ``load_dataset`` and cached (with their split)
per process; ``datasets={uri: Dataset}`` supplies in-memory datasets. Models and datasets your
own code registered (in ``__main__`` too) travel with each trial request and are registered in
the worker or Ray task before it runs (:mod:`~agenticrs.envs.backends.shipped_registrations`);
one that cannot be rebuilt there fails the trial with what to do (``setup_modules``).
"""

from __future__ import annotations

import atexit
import dataclasses
import importlib
import logging
import math
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from agenticrs.envs.backends import shipped_registrations
from agenticrs.envs.core import Task, TrialConfig, TrialResult
from agenticrs.envs.knowledge import KnowledgeStore

log = logging.getLogger(__name__)

DEFAULT_FULL_EPOCHS = 8
"""Epochs at fidelity 1.0 for configs without an ``epochs`` param (the embedded tasks are small)."""

DEFAULT_TRAIN_DEFAULTS: Mapping[str, Any] = {"batch_size": 64}
"""TrainConfig defaults of every live trial unless ``train_defaults`` overrides them: the
embedded tasks have a few hundred users, so small batches give enough optimizer steps."""


NODE_LOSS_RETRIES = 3
"""Ray trial tasks rerun elsewhere this many times when their node or worker process dies."""


MAX_TRIAL_THREADS = 1
"""Default cap on a trial's torch threads. The embedded tasks' models are small: measured on a
2-core machine under load, a second thread made BPR-MF 5x and SASRec 4-40x slower (spin-waits
competing with other processes). Raise it (``threads=N``) for large datasets on idle cores."""


def trial_threads(workers: int, cores: int | None = None, max_threads: int = MAX_TRIAL_THREADS) -> int:
    """Torch threads per trial when ``workers`` trials run at once on ``cores`` cores (default: this
    machine's): ``cores // workers`` capped at ``max_threads``, at least 1, so parallel trials never
    run more busy threads than there are cores."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(max_threads, cores // max(1, workers)))


def fidelity_epochs(fidelity: float, full_epochs: int) -> int:
    """Epochs a trial trains at ``fidelity`` of a ``full_epochs`` budget (at least one)."""
    if not 0.0 < fidelity <= 1.0:
        raise ValueError(f"fidelity must lie in (0, 1] (a fraction of the full budget), got {fidelity!r}")
    return max(1, int(round(fidelity * full_epochs)))


@dataclass(frozen=True)
class TrialRequest:
    """Everything a worker needs to run one trial (plain data: it is pickled to subprocesses and Ray)."""

    task: str
    data: str
    metric: str
    config: dict[str, Any]
    fidelity: float
    seed: int
    full_epochs: int = DEFAULT_FULL_EPOCHS
    device: str = "cpu"
    max_seconds: float | None = None
    threads: int = 1
    setup_modules: tuple[str, ...] = ()
    train_defaults: dict[str, Any] = field(default_factory=dict)
    dataset: Any = None
    """An in-memory ``Dataset`` for ``data``, or ``None`` to load the URI."""
    registrations: Any = None
    """The caller's own registered models and datasets (``shipped_registrations.Registrations``)."""


# ---------------------------------------------------------------------- in the worker
_DATA_CACHE: dict[tuple[str, str], tuple[Any, Any]] = {}


def _dataset_and_split(req: TrialRequest) -> tuple[Any, Any]:
    """The task's dataset and leave-one-out split, cached per process."""
    if req.dataset is not None:
        key = (req.data, req.dataset.fingerprint())
    else:
        key = (req.data, "")
    hit = _DATA_CACHE.get(key)
    if hit is None:
        dataset = req.dataset
        if dataset is None:
            try:
                from agenticrs.recsys.data import load_dataset
            except ImportError as e:  # the loaders are optional at this layer
                raise RuntimeError(f"cannot load {req.data!r}: agenticrs.recsys.data has no load_dataset") from e
            dataset = load_dataset(req.data)
        hit = _DATA_CACHE[key] = (dataset, dataset.split())
    return hit


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (Linux >= 4.0), so a reused worker reports per-trial peaks."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


_WARM = False


def _warm_up() -> None:
    """Pay torch's one-off lazy imports (autograd, Adam, its dynamo checks: seconds) once per
    process, so they are charged neither to the first trial's cost nor to its timeout."""
    global _WARM
    if _WARM:
        return
    import torch

    layer = torch.nn.Linear(2, 1)
    opt = torch.optim.Adam(layer.parameters())
    layer(torch.ones(1, 2)).sum().backward()
    torch.nn.utils.clip_grad_norm_(layer.parameters(), 1.0)
    opt.step()
    _WARM = True


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f" (at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno})" if frames else ""


def run_trial(req: TrialRequest) -> dict[str, Any]:
    """Train and evaluate one trial; returns a :meth:`TrialResult.to_dict`. Never raises."""
    start = time.perf_counter()
    config = TrialConfig.from_dict(req.config)

    def result(status: str, reason: str = "", valid: Any = None, test: Any = None, cost: Any = None) -> dict:
        cost = cost or {"seconds": time.perf_counter() - start}
        return TrialResult(config, req.task, req.fidelity, req.seed, status, valid or {}, test or {}, cost,
                           reason[:2000], "live").to_dict()  # type: ignore[arg-type]

    try:
        import torch

        from agenticrs.recsys.models import get_model
        from agenticrs.recsys.training import DivergenceError, build_train_config, run_experiment, split_overrides

        from agenticrs.envs.backends import shipped_registrations

        torch.set_num_threads(req.threads)
        _warm_up()
        for module in req.setup_modules:
            importlib.import_module(module)
        shipped_registrations.apply(req.registrations)
        dataset, split = _dataset_and_split(req)
        cls = get_model(config.model)
        model_params, train_params = split_overrides(cls, config.param_dict)
        epochs = fidelity_epochs(req.fidelity, int(train_params.pop("epochs", req.full_epochs)))
        budgets = [b for b in (train_params.pop("max_seconds", None), req.max_seconds) if b is not None]
        train_config = build_train_config(train_params, **req.train_defaults)
        train_config = dataclasses.replace(
            train_config, epochs=epochs, max_seconds=min(map(float, budgets)) if budgets else None,
            seed=req.seed, device=req.device, progress=False, valid_metric=req.metric, logdir=None,
        )
        measured_rss = _reset_peak_rss()
        start = time.perf_counter()  # cost counts training and evaluation, not loading the data
        exp = run_experiment(dataset, cls, model_params, train_config, split=split)
    except DivergenceError as e:
        return result("failed", f"diverged: {e}")
    except Exception as e:  # noqa: BLE001 -- any crash of user or model code is a failed trial
        return result("failed", f"{type(e).__name__}: {e}{_where(e)}")
    seconds = time.perf_counter() - start
    metrics = [*exp.valid.values(), *exp.test.values()]
    if not all(math.isfinite(v) for v in metrics):
        return result("failed", "diverged: non-finite evaluation metric")
    peak = exp.cost["peak_memory_mb"]
    if measured_rss and not req.device.startswith("cuda"):
        peak = _peak_rss_mb() or peak
    cost = {
        "seconds": seconds,
        "train_seconds": float(exp.cost["train_seconds"]),
        "params": float(exp.cost["params"]),
        "inference_ms_per_user": float(exp.cost["inference_ms_per_user"]),
        "peak_memory_mb": float(peak),
        "epochs": float(exp.cost["epochs"]),
    }
    return result("ok", "", exp.valid, exp.test, cost)


def _worker_main(conn: Any, setup_modules: Sequence[str] = ()) -> None:
    """Subprocess loop: receive a TrialRequest, send back the result dict; ``None`` ends it."""
    # Ctrl-C reaches the whole process group; the parent decides what to do with the worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Imports and warm-up before 'ready', so start-up time is charged to no trial.
    import agenticrs.recsys.training  # noqa: F401
    from tqdm.std import tqdm

    # tqdm's default lock is a multiprocessing semaphore, which a killed worker would leak.
    tqdm.set_lock(threading.RLock())

    _warm_up()

    for module in setup_modules:
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 -- reported by the first trial, which imports it again
            pass
    conn.send(("ready", os.getpid()))
    while True:
        try:
            req = conn.recv()
        except (EOFError, OSError):
            return
        if req is None:
            return
        conn.send(run_trial(req))


# ---------------------------------------------------------------------- in the caller
_IN_PROCESS_LOCK = threading.Lock()
_RAY_TRIAL: Any = None


def _context() -> Any:
    """``forkserver`` where available (workers fork from a warmed-up server: fast restarts), else ``spawn``.

    Never plain ``fork``: the caller may hold threads (Ray, the table builder) and locks.
    """
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["agenticrs.envs.backends._preload"])  # no effect once it runs
        return ctx
    return mp.get_context("spawn")


class _Worker:
    """One persistent worker subprocess with a pipe to it."""

    def __init__(self, startup_timeout_s: float, setup_modules: Sequence[str] = ()):
        ctx = _context()
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, tuple(setup_modules)), daemon=True,
                                name="agenticrs-live-trial")
        self.proc.start()
        child.close()
        if not self.conn.poll(startup_timeout_s):
            self.kill()
            raise RuntimeError(f"live-backend worker did not start within {startup_timeout_s:.0f}s")
        try:
            self.conn.recv()
        except EOFError:
            self.kill()
            raise RuntimeError(
                f"live-backend worker exited during start-up (exit code {self.proc.exitcode}). Workers start with "
                f"multiprocessing '{ctx.get_start_method()}', which imports your main script again: put its "
                f"top-level code under `if __name__ == \"__main__\":`, or use LiveBackend(isolate=False)"
            ) from None

    def kill(self, graceful: bool = False) -> None:
        if graceful and self.proc.is_alive():
            try:
                self.conn.send(None)
                self.proc.join(5)
            except OSError:
                pass
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(10)
        self.conn.close()


class WorkerPool:
    """Warm worker subprocesses shared by every :class:`LiveBackend` of this process.

    Starting a worker means starting the forkserver (a Python that imports torch and the
    trainer: seconds, more on a loaded machine); forking one more from it takes milliseconds.
    A backend takes an idle worker (with its per-process dataset cache) on its first trial and
    gives it back on ``close()``, so a new env, a clone per build thread or the next episode
    does not pay the start again; :meth:`prestart` begins a start in the background (a
    ``LiveBackend`` does so when it is created). Workers are keyed by their ``setup_modules``;
    at most ``max_idle`` wait per key; all are stopped at exit.
    """

    def __init__(self, max_idle: int | None = None):
        self.max_idle = max_idle or max(2, os.cpu_count() or 1)
        self._idle: dict[tuple[str, ...], list[_Worker]] = {}
        self._starting: dict[tuple[str, ...], int] = {}
        self._cond = threading.Condition()
        self.started = 0
        """Workers started so far (the benchmark and tests read it)."""

    def acquire(self, setup_modules: tuple[str, ...], startup_timeout_s: float) -> _Worker:
        """An idle live worker, the one being prestarted, or a new one."""
        with self._cond:
            while True:
                idle = self._idle.get(setup_modules, [])
                while idle:
                    worker = idle.pop()
                    if worker.proc.is_alive():
                        return worker
                    worker.kill()
                if not self._starting.get(setup_modules):
                    break
                self._cond.wait(timeout=startup_timeout_s)  # a prestart is under way: take its worker
        return self._start(setup_modules, startup_timeout_s)

    def release(self, worker: _Worker, setup_modules: tuple[str, ...]) -> None:
        """Take back a healthy worker (an idle one beyond ``max_idle`` is stopped)."""
        with self._cond:
            idle = self._idle.setdefault(setup_modules, [])
            if worker.proc.is_alive() and len(idle) < self.max_idle:
                idle.append(worker)
                self._cond.notify_all()
                return
        worker.kill(graceful=True)

    def prestart(self, setup_modules: tuple[str, ...], startup_timeout_s: float) -> None:
        """Start a worker in the background unless one is idle or starting for these modules."""
        with self._cond:
            if self._idle.get(setup_modules) or self._starting.get(setup_modules):
                return
            self._starting[setup_modules] = self._starting.get(setup_modules, 0) + 1

        def start() -> None:
            try:
                worker = _Worker(startup_timeout_s, setup_modules)
            except Exception as e:  # noqa: BLE001 - the first trial starts (and reports) its own
                log.debug("prestarting a live-backend worker failed: %s", e)
                worker = None
            with self._cond:
                self._starting[setup_modules] -= 1
                if worker is not None:
                    self.started += 1
                    self._idle.setdefault(setup_modules, []).append(worker)
                self._cond.notify_all()

        threading.Thread(target=start, name="agenticrs-live-prestart", daemon=True).start()

    def _start(self, setup_modules: tuple[str, ...], startup_timeout_s: float) -> _Worker:
        worker = _Worker(startup_timeout_s, setup_modules)
        with self._cond:
            self.started += 1
        return worker

    def shutdown(self) -> None:
        """Stop every idle worker (at exit; running trials belong to their backends)."""
        with self._cond:
            workers = [w for ws in self._idle.values() for w in ws]
            self._idle.clear()
        for worker in workers:
            worker.kill(graceful=True)


POOL = WorkerPool()
atexit.register(POOL.shutdown)


class LiveBackend:
    """Backend ``kind="live"``: really trains each configuration (see the module docstring).

    Args:
        store: a :class:`KnowledgeStore` for warm starts and recording, or ``None``.
        timeout_s: hard wall-clock limit per trial (``None``: none; needs isolation or Ray).
        device: torch device for training (``cpu``, ``cuda``, ``auto``).
        use_ray: run each trial as a Ray task; ``ray_address`` connects to a cluster
            (``None``: start or join a local Ray).
        full_epochs: epochs at fidelity 1.0 for configs without an ``epochs`` param.
        isolate: run trials in a worker subprocess (ignored with Ray).
        soft_budget: fraction of ``timeout_s`` passed to the trainer as ``max_seconds``.
        threads: torch threads per trial.
        train_defaults: TrainConfig defaults for every trial (``batch_size``, ``patience``...);
            config params override them.
        datasets: in-memory datasets by URI (otherwise ``load_dataset(task.data)``).
        setup_modules: modules imported in the worker before a trial (your registered models).
        reuse: statuses of stored trials the warm start returns instead of training.
        record: record new trials in ``store`` (``False`` when the caller, e.g. an env that adds
            reward terms, records them itself).
        run_id, agent, env: labels for the trials recorded in ``store``.
        ray_num_cpus: CPUs each Ray trial task reserves (``None``: ``threads``); a trial on a
            ``cuda`` device also reserves one GPU.
        startup_timeout_s: how long to wait for a worker subprocess to import torch.
        prestart: with isolation, start a worker of the shared :data:`POOL` in the background
            now, so the first trial does not wait for the whole start-up.
    """

    kind = "live"

    def __init__(
        self,
        store: KnowledgeStore | None = None,
        timeout_s: float | None = 600.0,
        device: str = "cpu",
        use_ray: bool = False,
        ray_address: str | None = None,
        full_epochs: int = DEFAULT_FULL_EPOCHS,
        *,
        isolate: bool = True,
        soft_budget: float = 0.8,
        threads: int = 1,
        train_defaults: Mapping[str, Any] | None = None,
        datasets: Mapping[str, Any] | None = None,
        setup_modules: Sequence[str] = (),
        reuse: Sequence[str] = ("ok", "failed"),
        record: bool = True,
        run_id: str | None = None,
        agent: str = "",
        env: str = "",
        ray_num_cpus: float | None = None,
        startup_timeout_s: float = 300.0,
        prestart: bool = True,
    ):
        if full_epochs < 1:
            raise ValueError(f"LiveBackend: full_epochs must be >= 1, got {full_epochs}")
        if timeout_s is not None and timeout_s <= 0:
            raise ValueError(f"LiveBackend: timeout_s must be positive or None, got {timeout_s}")
        self._kwargs = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        self.store, self.timeout_s, self.device = store, timeout_s, device
        self.use_ray, self.ray_address, self.full_epochs = use_ray, ray_address, int(full_epochs)
        self.isolate, self.soft_budget, self.threads = isolate, soft_budget, threads
        self.train_defaults = {**DEFAULT_TRAIN_DEFAULTS, **(train_defaults or {})}
        self.datasets = dict(datasets or {})
        self.setup_modules = tuple(setup_modules)
        self.reuse, self.record = tuple(reuse), record
        self.run_id, self.agent, self.env = run_id, agent, env
        self.ray_num_cpus = float(threads if ray_num_cpus is None else ray_num_cpus)
        self.startup_timeout_s = startup_timeout_s
        self.stats = {"trained": 0, "reused": 0, "failed": 0, "timeout": 0}
        self._worker: _Worker | None = None
        self._lock = threading.Lock()
        if prestart and isolate and not use_ray:
            POOL.prestart(self.setup_modules, startup_timeout_s)

    # ------------------------------------------------------------------ lifecycle
    def clone(self) -> "LiveBackend":
        """An independent backend with the same settings (its own worker): one per parallel caller."""
        return LiveBackend(**self._kwargs)

    def close(self) -> None:
        """Give the worker back to the shared pool (a trial still running in it: stop it)."""
        if self._lock.locked():
            self._stop_worker()
            return
        worker, self._worker = self._worker, None
        if worker is not None:
            POOL.release(worker, self.setup_modules)

    def _stop_worker(self, graceful: bool = False) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.kill(graceful)

    def __enter__(self) -> "LiveBackend":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 -- interpreter shutdown
            pass

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_worker"], state["_lock"] = None, None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, task: Task, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
        fidelity_epochs(fidelity, 1)  # validates the range before anything runs
        if self.store is not None and self.reuse:
            hit = self.store.find_trial(task.name, config, fidelity, seed, status=self.reuse)
            if hit is not None:
                log.info("warm start: reusing stored %s trial of %s on %s (fidelity %g, seed %d)",
                         hit.status, config.model, task.name, fidelity, seed)
                self.stats["reused"] += 1
                return hit
        req = self._request(task, config, fidelity, seed)
        if self.use_ray:
            out = self._run_ray(req)
        elif self.isolate:
            with self._lock:
                out = self._run_subprocess(req)
        else:
            with _IN_PROCESS_LOCK:  # seeding is process-global: one in-process trial at a time
                out = run_trial(req)
        result = dataclasses.replace(TrialResult.from_dict(out), config=config)
        self.stats["trained" if result.ok else result.status] += 1
        if not result.ok:
            log.info("trial %s on %s %s: %s", config.model, task.name, result.status, result.reason)
        if self.store is not None and self.record:
            self.store.add_trial(result, run_id=self.run_id, agent=self.agent, env=self.env)
        return result

    def _request(self, task: Task, config: TrialConfig, fidelity: float, seed: int) -> TrialRequest:
        return TrialRequest(
            task=task.name, data=task.data, metric=task.metric, config=config.to_dict(), fidelity=float(fidelity),
            seed=int(seed), full_epochs=self.full_epochs, device=self.device,
            max_seconds=self.soft_budget * self.timeout_s if self.timeout_s is not None else None,
            threads=self.threads, setup_modules=self.setup_modules, train_defaults=self.train_defaults,
            dataset=self.datasets.get(task.data), registrations=shipped_registrations.collect(),
        )

    def _failed(self, req: TrialRequest, status: str, reason: str, seconds: float) -> dict[str, Any]:
        config = TrialConfig.from_dict(req.config)
        return TrialResult(config, req.task, req.fidelity, req.seed, status,  # type: ignore[arg-type]
                           cost={"seconds": seconds}, reason=reason).to_dict()

    def _run_subprocess(self, req: TrialRequest) -> dict[str, Any]:
        for attempt in range(2):  # a worker that died between trials is restarted once
            if self._worker is None:
                try:
                    self._worker = POOL.acquire(self.setup_modules, self.startup_timeout_s)
                except RuntimeError as e:
                    return self._failed(req, "failed", str(e), 0.0)
            worker = self._worker
            try:
                worker.conn.send(req)
                break
            except (BrokenPipeError, OSError):
                self._stop_worker()
                if attempt:
                    return self._failed(req, "failed", "could not send the trial to a live-backend worker", 0.0)
        start = time.perf_counter()
        if not worker.conn.poll(self.timeout_s):
            self._stop_worker()  # kill the stuck trial; the next one starts a fresh worker
            return self._failed(req, "timeout", f"killed after the {self.timeout_s:g}s trial timeout",
                                time.perf_counter() - start)
        try:
            return worker.conn.recv()
        except (EOFError, OSError):
            worker.proc.join(5)
            code = worker.proc.exitcode
            self._stop_worker()
            hint = " (killed: out of memory?)" if code == -signal.SIGKILL else ""
            return self._failed(req, "failed", f"worker process died with exit code {code}{hint}",
                                time.perf_counter() - start)

    def _run_ray(self, req: TrialRequest) -> dict[str, Any]:
        import ray
        from ray.exceptions import GetTimeoutError, RayError

        if not ray.is_initialized():
            from agenticrs.policies.ray_util import init_ray

            # A local instance's workers see this process's import path (tests, user modules).
            init_ray(self.ray_address, runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(sys.path)}}
                     if self.ray_address is None else None)
        global _RAY_TRIAL
        if _RAY_TRIAL is None:
            # run_trial never raises, so Ray retries a trial only when its worker process or node dies
            # (a node lost mid-build): it reruns on what is left instead of becoming a failed row.
            _RAY_TRIAL = ray.remote(max_retries=NODE_LOSS_RETRIES)(run_trial)  # exported to the cluster once
        start = time.perf_counter()
        # Each trial declares what it uses: its threads' CPUs, and a GPU when it trains on one.
        num_gpus = 1 if self.device.startswith("cuda") else 0
        ref = _RAY_TRIAL.options(num_cpus=self.ray_num_cpus, num_gpus=num_gpus).remote(req)
        try:
            return ray.get(ref, timeout=self.timeout_s)
        except GetTimeoutError:
            ray.cancel(ref, force=True)
            return self._failed(req, "timeout", f"Ray task cancelled after the {self.timeout_s:g}s trial timeout",
                                time.perf_counter() - start)
        except RayError as e:
            return self._failed(req, "failed", f"Ray task failed: {type(e).__name__}: {str(e)[:500]}",
                                time.perf_counter() - start)
