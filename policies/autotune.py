"""``agenticrs autotune``: evolve a recommender for a user's dataset with live trials.

A policy chooses which configurations of the AutoTrain space to train on the user's data;
the live backend trains them in isolated worker processes (``workers`` at once); every
finished trial is written to a :class:`~agenticrs.envs.knowledge.KnowledgeStore`, which is
the run's journal:

* **Resumable.** A run is identified by its settings (data, policy, seed, space, metric,
  epochs: :func:`run_key`). Started again after Ctrl-C, a crash or ``kill -9``, it reads the
  trials it already finished from the journal, counts them against the budget, shows them
  to the policy, and never trains them again.
* **Policies.** ``shipped`` (the PPO policy shipped with the package, :func:`shipped_checkpoint`;
  trained on the ``synthetic+amazon`` suite's train tasks: synthetic and Beauty, see its
  ``training.json``), a checkpoint folder of ``agenticrs train``, or a
  search baseline (``tpe``, ``random``, ``best-default-order``, ``evolution``...). Search
  baselines run ``workers`` trials in parallel (the ask/tell layer keeps pending
  configurations out of new proposals; TPE uses the constant liar); a PPO policy acts on the
  env's observation after each result, so it proposes one trial at a time.
* **Never the same configuration twice**: searchers through the shared ask/tell layer; a
  PPO proposal that repeats a finished configuration is resampled from the policy, then
  replaced by a random unseen one (:class:`~agenticrs.policies.no_repeats.NoRepeats`, which
  ``bench evolution`` applies to trained policies too).

At the end: a leaderboard (configuration, validation and test metric, cost), the best
configuration retrained once to save its checkpoint (``best_model.pt``), ``report.json`` and
``report.md``, and how the best compares with the family defaults (each family's index-0
configuration) among the trials.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from agenticrs.envs.core import Task, TrialConfig, TrialResult
from agenticrs.envs.spaces import SPACES, AutoTrainSpace
from agenticrs.policies.no_repeats import NoRepeats

SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
"""Package data: the shipped policy checkpoint (``autotrain_v0_ppo/``) and its training record."""

SEARCH_POLICIES = ("tpe", "random", "best-default-order", "evolution", "grid", "gp", "halving")


class AutotuneError(ValueError):
    """A bad autotune input (dataset, budget, policy), said in one line."""


@dataclass
class AutotuneSpec:
    """What ``agenticrs autotune`` runs.

    Attributes:
        data: dataset URI (``csv:PATH``, ``sasrec:PATH``, a registered name...).
        budget: trials to run (finished trials of an earlier session count).
        policy: ``shipped``, a checkpoint folder of ``agenticrs train``, or a search baseline name.
        workers: trials trained at once (search baselines; a PPO policy proposes one at a time).
        knowledge: the journal's SQLite file (default ``OUT/knowledge.sqlite``).
        out: the output folder (report, best checkpoint).
        seed: seeds the policy and every trial's training.
        space: the AutoTrain space (``v0``: the shipped policy's; ``v1``: the harder one).
        metric: the validation metric maximised.
        full_epochs: epochs of a full-fidelity trial.
        timeout_s: hard limit per trial (the worker is killed past it).
        save_model: retrain the best configuration once and save its checkpoint.
        min_users / min_items: smaller datasets are refused (leave-one-out needs users; a
            ranking needs items).
        suite: the suite whose train tasks' table ``best-default-order`` learns its ranking
            from (``None``: the shipped policy's training suite, :func:`shipped_suite`, so the
            static baseline and the shipped policy know the same tasks).
    """

    data: str
    budget: int
    policy: str = "shipped"
    workers: int = 1
    knowledge: str | None = None
    out: str = "autotune"
    seed: int = 0
    space: str = "v0"
    metric: str = "ndcg@10"
    full_epochs: int = 8
    timeout_s: float = 1800.0
    save_model: bool = True
    min_users: int = 20
    min_items: int = 10
    suite: str | None = None

    def __post_init__(self) -> None:
        if self.budget < 1:
            raise AutotuneError(f"--budget must be >= 1 trial, got {self.budget}")
        if self.workers < 1:
            raise AutotuneError(f"--workers must be >= 1, got {self.workers}")
        if self.space not in SPACES:
            raise AutotuneError(f"unknown space {self.space!r}; choose one of {sorted(SPACES)}")
        if self.full_epochs < 1:
            raise AutotuneError(f"--epochs must be >= 1, got {self.full_epochs}")


def run_key(spec: AutotuneSpec) -> str:
    """The run's id in the journal: the settings that decide which trials it runs."""
    settings: dict[str, Any] = {k: getattr(spec, k) for k in ("data", "policy", "seed", "space", "metric", "full_epochs")}
    if spec.policy == "best-default-order":  # its ranking depends on the suite; other policies' keys stay as before
        settings["suite"] = spec.suite or shipped_suite()
    return "autotune-" + hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def shipped_checkpoint() -> Path:
    """The checkpoint folder of the shipped policy (``AutotuneError`` if the package lacks it)."""
    path = SHIPPED_DIR / "autotrain_v0_ppo"
    if not (path / "agenticrs.json").exists():
        raise AutotuneError(f"the shipped policy is missing from the package ({path}); reinstall agenticrs or "
                            "pass --policy tpe|random|best-default-order|PATH")
    return path


def shipped_suite() -> str:
    """The suite whose train tasks the shipped policy was trained on (its ``training.json``;
    ``synthetic`` if the record is missing or says nothing)."""
    try:
        record = json.loads((SHIPPED_DIR / "autotrain_v0_ppo" / "training.json").read_text())
        return str(record["train_spec"]["env_kwargs"]["suite"])
    except (OSError, ValueError, KeyError, TypeError):
        return "synthetic"


# ---------------------------------------------------------------------- inputs
def load_task(spec: AutotuneSpec) -> tuple[Task, dict[str, int]]:
    """The user's dataset as a task, after checking it loads and is big enough."""
    from agenticrs.recsys.data import load_dataset

    try:
        data = load_dataset(spec.data)
    except (OSError, ValueError, KeyError) as e:  # DataFormatError is a ValueError
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise AutotuneError(f"cannot read dataset {spec.data!r}: {msg}") from None
    stats = {"users": int(data.n_users), "items": int(data.n_items), "interactions": int(len(data.items))}
    if stats["users"] < spec.min_users or stats["items"] < spec.min_items:
        raise AutotuneError(f"dataset {spec.data!r} is too small to tune on: {stats['users']} users and "
                            f"{stats['items']} items after filtering (need >= {spec.min_users} users and "
                            f">= {spec.min_items} items)")
    return Task(f"autotune:{spec.data}", spec.data, metric=spec.metric, max_trials=spec.budget), stats


def family_defaults(space: AutoTrainSpace) -> dict[str, TrialConfig]:
    """Each family's default configuration: index 0 of every dimension (the canonical choices)."""
    out = {}
    for f, family in enumerate(space.families):
        action = np.zeros(len(space.nvec), dtype=np.int64)
        action[0] = f
        out[family] = space.decode(action)[0]
    return out


# ---------------------------------------------------------------------- the run
@dataclass
class Progress:
    """What a progress line needs (also the final summary)."""

    done: int = 0
    budget: int = 0
    best: float = -math.inf
    started: float = dataclasses.field(default_factory=time.perf_counter)


class Autotune:
    """One autotune run (see the module docstring). ``run()`` returns the report dict.

    Args:
        spec: the settings.
        log: where progress lines go (default: ``print`` to stdout, flushed).
        backend_factory: builds one live backend per worker (tests pass an in-process one).
    """

    def __init__(self, spec: AutotuneSpec, log: Callable[[str], None] | None = None,
                 backend_factory: Callable[[Any], Any] | None = None):
        self.spec = spec
        self.log = log or (lambda line: print(line, flush=True))
        self.out = Path(spec.out)
        self.run_id = run_key(spec)
        self.space = AutoTrainSpace(*SPACES[spec.space])
        self.backend_factory = backend_factory or self._live_backend
        self.results: list[TrialResult] = []
        self.store: Any = None
        self.resumed = 0
        self.progress = Progress(budget=spec.budget)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ set-up
    def _live_backend(self, store: Any) -> Any:
        from agenticrs.envs.backends.live import LiveBackend, trial_threads

        # record=False: the run journals each trial itself (Autotune.record), with its run id.
        return LiveBackend(store=store, timeout_s=self.spec.timeout_s, full_epochs=self.spec.full_epochs,
                           threads=trial_threads(self.spec.workers), isolate=True, reuse=("ok", "failed"),
                           record=False)

    @property
    def policy_name(self) -> str:
        p = self.spec.policy
        return p if p in SEARCH_POLICIES or p == "shipped" else f"ppo:{Path(p).name}"

    def _open_store(self) -> Any:
        from agenticrs.envs.knowledge import KnowledgeStore

        path = Path(self.spec.knowledge) if self.spec.knowledge else self.out / "knowledge.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return KnowledgeStore(path)
        except Exception as e:  # noqa: BLE001 - any unreadable journal is one line for the user
            raise AutotuneError(f"cannot open the knowledge store {path}: {e}") from None

    def _finished(self, store: Any) -> list[TrialResult]:
        """Trials of this run finished in earlier sessions (the journal), oldest first, one per configuration."""
        seen: dict[tuple[TrialConfig, float], TrialResult] = {}
        for t in store.trials(run_id=self.run_id, env="autotune"):
            r = t.result
            seen.setdefault((r.config, float(r.fidelity)), r)
        return list(seen.values())[: self.spec.budget]

    # ------------------------------------------------------------------ main
    def run(self) -> dict[str, Any]:
        spec = self.spec
        policy = self._make_policy()  # before any data is loaded: a bad policy fails first
        task, stats = load_task(spec)
        store = self.store = self._open_store()
        store.start_run({"command": "autotune", **dataclasses.asdict(spec), "dataset": stats}, self.run_id)
        finished = self._finished(store)
        self.resumed = len(finished)
        self.log(f"autotune {spec.data}: {stats['users']} users, {stats['items']} items, "
                 f"{stats['interactions']} interactions; policy {self.policy_name}, budget {spec.budget}, "
                 f"{spec.workers} worker(s); journal {store.path} run {self.run_id}"
                 + (f"; resuming: {len(finished)} trial(s) already finished" if finished else ""))
        status = "failed"
        try:
            if isinstance(policy, _SearchDriver):
                policy.run(self, task, store, finished)
            else:
                self._run_env_policy(policy, task, store, finished)
            status = "ok"
        except KeyboardInterrupt:
            status = "interrupted"
            self.log(f"interrupted after {len(self.results)} of {spec.budget} trials; run the same command to "
                     f"resume (finished trials are in {store.path})")
            raise
        finally:
            store.finish_run(self.run_id, status, {"trials": len(self.results)})
        return self._report(task, stats, store)

    def _make_policy(self) -> Any:
        name = self.spec.policy
        if name in SEARCH_POLICIES:
            return _SearchDriver(name, **({"suite": self.spec.suite or shipped_suite()}
                                          if name == "best-default-order" else {}))
        from agenticrs.policies.training import load_policy

        path = shipped_checkpoint() if name == "shipped" else Path(name)
        if not path.exists():
            raise AutotuneError(f"--policy {name!r} is neither a search baseline ({', '.join(SEARCH_POLICIES)}), "
                                "'shipped', nor an existing checkpoint folder")
        try:
            policy = load_policy(str(path), deterministic=True)
        except Exception as e:  # noqa: BLE001 - an unreadable checkpoint is one line
            raise AutotuneError(f"cannot load the policy checkpoint {path}: {type(e).__name__}: {e}") from None
        self._check_policy_space(policy, path)
        return NoRepeats(policy)

    def _check_policy_space(self, policy: Any, path: Path) -> None:
        inner = getattr(policy, "model", None) or getattr(policy, "module", None) or policy
        nvec = getattr(getattr(inner, "action_space", None), "nvec", None)
        if nvec is not None and list(map(int, np.ravel(nvec))) != list(map(int, self.space.nvec)):
            raise AutotuneError(f"the policy {path} acts in MultiDiscrete{list(map(int, np.ravel(nvec)))} but "
                                f"--space {self.spec.space} is {list(map(int, self.space.nvec))}: its space does not "
                                "match; pass the --space it was trained on, or a search baseline")

    # ------------------------------------------------------------------ bookkeeping shared by both drivers
    def record(self, result: TrialResult, resumed: bool = False) -> None:
        """Journal a finished trial (one transaction: a kill leaves it whole or absent) and print progress."""
        with self._lock:
            if not resumed:
                self.store.add_trial(result, run_id=self.run_id, agent=self.policy_name, env="autotune")
            self.results.append(result)
            p = self.progress
            p.done = len(self.results)
            v = result.valid.get(self.spec.metric, math.nan) if result.ok else math.nan
            if v == v and v > p.best:
                p.best = v
            cfg = result.config
            what = (f"{self.spec.metric} {v:.4f}" if v == v else f"{result.status}: {result.reason[:80]}")
            self.log(f"[{p.done}/{p.budget}] {cfg.model} {cfg.param_dict} @{result.fidelity:g} -> {what} "
                     f"({result.cost.get('seconds', 0.0):.1f} s{', from the journal' if resumed else ''}); "
                     f"best {p.best:.4f}; {time.perf_counter() - p.started:.0f} s elapsed")

    # ------------------------------------------------------------------ PPO (an env-observing policy)
    def _run_env_policy(self, policy: Any, task: Task, store: Any, finished: list[TrialResult]) -> None:
        import gymnasium as gym

        if self.spec.workers > 1:
            self.log(f"note: a PPO policy acts on each result, so it proposes one trial at a time "
                     f"(--workers {self.spec.workers} applies to search baselines)")
        live = self.backend_factory(store)
        journal = {(r.config, float(r.fidelity)): r for r in finished}
        backend = _JournalBackend(live, journal)
        env = gym.make("agenticrs/AutoTrain-v0", backend=backend, max_trials=self.spec.budget,
                       space=self.spec.space, obs_mode=policy.obs_mode, disable_env_checker=True)
        try:
            obs, _ = env.reset(seed=self.spec.seed, options={"task": task})
            policy.begin(env, self.spec.seed)
            replay = [self.space.encode(r.config, r.fidelity) for r in finished]
            done = False
            while not done:  # observe() tells NoRepeats every trial, replayed ones included
                action = replay.pop(0) if replay else policy.act(obs)
                obs, reward, terminated, truncated, info = env.step(action)
                done = terminated or truncated
                policy.observe(action, obs, float(reward), info)
                self.record(info["result"], resumed=backend.last_from_journal)
        finally:
            env.close()
            getattr(live, "close", lambda: None)()

    # ------------------------------------------------------------------ the end
    def _report(self, task: Task, stats: dict[str, int], store: Any) -> dict[str, Any]:
        from agenticrs.benchmarks.common import run_header, write_json_atomic, write_text_atomic

        m = self.spec.metric
        rows = []
        for r in self.results:
            rows.append({"model": r.config.model, "params": r.config.param_dict, "fidelity": r.fidelity,
                         "status": r.status, "reason": r.reason, "valid": r.valid.get(m) if r.ok else None,
                         "test": r.test.get(m) if r.ok else None, "seconds": r.cost.get("seconds"),
                         "params_count": r.cost.get("params")})
        ok = [r for r in rows if r["valid"] is not None]
        board = sorted(ok, key=lambda r: -r["valid"]) + [r for r in rows if r["valid"] is None]
        best = board[0] if ok else None
        defaults = family_defaults(self.space)
        tried_defaults = [r for r in ok if TrialConfig.make(r["model"], **r["params"]) == defaults.get(r["model"])
                          and r["fidelity"] == self.space.fidelities[0]]
        vs = None
        if best is not None and tried_defaults:
            d = max(tried_defaults, key=lambda r: r["valid"])
            vs = {"default": f"{d['model']} default", "default_valid": d["valid"], "default_test": d["test"],
                  "valid_gain": best["valid"] / d["valid"] - 1 if d["valid"] else None,
                  "test_gain": (best["test"] / d["test"] - 1) if d["test"] else None}
        report = {
            **run_header(), "run_id": self.run_id, "spec": dataclasses.asdict(self.spec), "dataset": stats,
            "journal": str(store.path), "resumed_trials": self.resumed, "trials": len(rows),
            "live_seconds": float(sum(r["seconds"] or 0.0 for r in rows)), "leaderboard": board, "best": best,
            "vs_family_defaults": vs,
            "family_defaults_tried": [r["model"] for r in tried_defaults],
        }
        if best is not None and self.spec.save_model:
            report["best_checkpoint"] = self._save_best(best)
        self.out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.out / "report.json", report)
        text = report_markdown(report)
        write_text_atomic(self.out / "report.md", text)
        self.log("\n" + text)
        return report

    def _save_best(self, best: dict[str, Any]) -> str | None:
        """Retrain the best configuration once (same seed and epochs) and save its weights."""
        import torch

        from agenticrs.recsys.data import load_dataset
        from agenticrs.recsys.models import get_model
        from agenticrs.recsys.training import build_train_config, run_experiment, split_overrides
        from agenticrs.envs.backends.live import DEFAULT_TRAIN_DEFAULTS, fidelity_epochs

        path = self.out / "best_model.pt"
        self.log(f"retraining the best configuration ({best['model']} {best['params']}) to save {path}")
        cls = get_model(best["model"])
        model_params, train_params = split_overrides(cls, dict(best["params"]))
        epochs = fidelity_epochs(best["fidelity"], int(train_params.pop("epochs", self.spec.full_epochs)))
        cfg = dataclasses.replace(build_train_config(train_params, **DEFAULT_TRAIN_DEFAULTS), epochs=epochs,
                                  seed=self.spec.seed, progress=False, valid_metric=self.spec.metric, logdir=None)
        saved: dict[str, Any] = {}

        def keep(net: Any, split: Any) -> None:
            saved.update(model=best["model"], model_params=model_params, n_items=net.n_items, n_users=net.n_users,
                         state_dict={k: v.detach().cpu() for k, v in net.state_dict().items()})

        try:
            exp = run_experiment(load_dataset(self.spec.data), cls, model_params, cfg, after=keep)
        except Exception as e:  # noqa: BLE001 - the search's results stand even if the retraining fails
            self.log(f"note: could not retrain the best configuration to save it: {type(e).__name__}: {e}")
            return None
        saved["valid"], saved["test"] = exp.valid, exp.test
        self.out.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(saved, tmp)
        os.replace(tmp, path)
        return str(path)


class _JournalBackend:
    """Returns a trial finished in an earlier session from the journal; trains everything else live."""

    kind = "live"

    def __init__(self, live: Any, journal: dict[tuple[TrialConfig, float], TrialResult]):
        self.live, self.journal = live, journal
        self.last_from_journal = False

    def evaluate(self, task: Task, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
        hit = self.journal.pop((config, float(fidelity)), None)
        self.last_from_journal = hit is not None
        return hit if hit is not None else self.live.evaluate(task, config, fidelity, seed)


class _SearchDriver:
    """Runs a search baseline ask/tell with ``workers`` live trials in flight."""

    def __init__(self, name: str, **kwargs: Any):
        from agenticrs.policies.search import make_searcher

        self.name = name
        self.searcher = make_searcher(name, **kwargs)

    def run(self, tune: Autotune, task: Task, store: Any, finished: list[TrialResult]) -> None:
        from agenticrs.policies.base import Budget

        spec = tune.spec
        s = self.searcher
        s.reset(tune.space, Budget(spec.budget), spec.seed, spec.metric)
        reason = s.applies_to(tune.space)
        if reason:
            raise AutotuneError(f"--policy {self.name} does not apply: {reason}")
        for r in finished:  # the journal: shown to the searcher, counted against the budget, never re-run
            s.replay(tune.space.encode(r.config, r.fidelity), r)
            tune.record(r, resumed=True)
        left = spec.budget - len(finished)
        if left <= 0:
            return
        backends = [tune.backend_factory(store) for _ in range(min(spec.workers, left))]
        free = list(range(len(backends)))
        running: dict[Future, tuple[np.ndarray, int]] = {}
        asked = 0
        ex = ThreadPoolExecutor(max_workers=len(backends), thread_name_prefix="autotune")
        try:
            while asked < left or running:
                while free and asked < left:
                    action = s.ask()
                    config, fidelity = tune.space.decode(action)
                    slot = free.pop()
                    running[ex.submit(backends[slot].evaluate, task, config, fidelity, spec.seed)] = (action, slot)
                    asked += 1
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    action, slot = running.pop(fut)
                    free.append(slot)
                    result = fut.result()
                    s.tell(action, result)
                    tune.record(result)
        finally:
            for fut in running:
                fut.cancel()
            for b in backends:  # kills worker processes still training (Ctrl-C): their trials are not journaled
                getattr(b, "close", lambda: None)()
            ex.shutdown(wait=False, cancel_futures=True)


# ---------------------------------------------------------------------- report
def report_markdown(report: dict[str, Any]) -> str:
    """The leaderboard and the comparison with the family defaults, as markdown."""
    spec, m = report["spec"], report["spec"]["metric"]
    lines = [f"# autotune: {spec['data']}", "",
             f"Policy `{spec['policy']}`, {report['trials']} trials ({report['resumed_trials']} from the journal), "
             f"{report['live_seconds']:.0f} live seconds, seed {spec['seed']}, space {spec['space']}, "
             f"{report['dataset']['users']} users / {report['dataset']['items']} items. Date {report['date']}.", "",
             f"| rank | model | params | fidelity | valid {m} | test {m} | seconds | status |",
             "|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(report["leaderboard"], 1):
        v = f"{r['valid']:.4f}" if r["valid"] is not None else "-"
        t = f"{r['test']:.4f}" if r["test"] is not None else "-"
        status = r["status"] if r["status"] == "ok" else f"{r['status']}: {r['reason'][:60]}"
        lines.append(f"| {i} | {r['model']} | {json.dumps(r['params'])} | {r['fidelity']:g} | {v} | {t} | "
                     f"{(r['seconds'] or 0):.1f} | {status} |")
    lines.append("")
    best, vs = report["best"], report["vs_family_defaults"]
    if best is None:
        lines.append("No trial succeeded.")
    else:
        lines.append(f"Best: `{best['model']}` {json.dumps(best['params'])}, valid {m} {best['valid']:.4f}, "
                     f"test {m} {best['test']:.4f}.")
        if vs is not None:
            gain = f"{100 * vs['valid_gain']:+.1f}%" if vs["valid_gain"] is not None else "n/a"
            tgain = f"{100 * vs['test_gain']:+.1f}%" if vs["test_gain"] is not None else "n/a"
            lines.append(f"Against the best family default it tried ({vs['default']}, valid {vs['default_valid']:.4f}): "
                         f"{gain} on validation, {tgain} on test.")
        else:
            lines.append("No family default (each family's index-0 configuration) was among the trials, so there "
                         "is no default to compare with.")
        if report.get("best_checkpoint"):
            lines.append(f"Checkpoint of the best: `{report['best_checkpoint']}`.")
    return "\n".join(lines) + "\n"


def autotune(spec: AutotuneSpec, log: Callable[[str], None] | None = None,
             backend_factory: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """Run (or resume) an autotune run; returns the report dict (see :class:`Autotune`)."""
    return Autotune(spec, log, backend_factory).run()
