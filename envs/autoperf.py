"""``agenticrs/AutoPerf-v0``: the performance / deployment / online-experiment agent."""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Mapping

import numpy as np

from agenticrs.envs.backends.registry import register_backend
from agenticrs.envs.core import Backend, Task, TrialConfig, TrialResult
from agenticrs.envs.grid_space import Choice, ConditionalSpace, when
from agenticrs.envs.rewards import EpisodeState, RewardTerm, register_reward_term
from agenticrs.envs.trial_env import TrialEnv, TrialEpisodeState

DECISIONS = ("offline", "launch_5", "launch_20", "ramp", "rollback")
LAUNCH_SHARE = {"launch_5": 0.05, "launch_20": 0.20}
RAMP = (0.05, 0.20, 0.50, 1.0)
"""Traffic shares an experiment ramps through; reaching 1.0 ships the treatment as the new control."""
BASE_EPOCHS = 10
SERVING_CHOICES = (
    Choice("decision", DECISIONS, in_config=False),
    Choice("candidates", (100, 50, 200), when(decision=("offline", "launch_5", "launch_20"))),
    Choice("precision", ("fp32", "fp16", "int8"), when(decision=("offline", "launch_5", "launch_20"))),
    Choice("max_history", (50, 20, 10), when(decision=("offline", "launch_5", "launch_20"))),
    Choice("batch_size", (16, 1, 64), when(decision=("offline", "launch_5", "launch_20"))),
    Choice("refresh", (0, 1, 5), when(decision=("offline", "launch_5", "launch_20"))),
)


def run_serving_trial(task: Task, config: TrialConfig, fidelity: float, seed: int, *, base_epochs: int = BASE_EPOCHS,
                      device: str = "cpu") -> TrialResult:
    """Live trial: train (or reuse) the task's SASRec, serve valid and test under the config, measure.

    Cost: ``seconds`` (base training, charged whether cached or not, plus serving),
    ``p50_latency_ms`` / ``p99_latency_ms`` / ``mean_latency_ms`` (test requests),
    ``memory_mb``, ``params``.
    """
    from agenticrs.envs.backends.function import task_data
    from agenticrs.recsys.pipeline import ComponentSpec, fit_component
    from agenticrs.recsys.serving import ServingConfig, serve

    dataset, split = task_data(task)
    spec = ComponentSpec.make("sasrec", epochs=max(1, int(round(fidelity * base_epochs))), loss="ce")
    fitted = fit_component(dataset, split, spec, seed, device)
    cfg = ServingConfig(**config.param_dict)
    start = time.perf_counter()
    valid = serve(fitted.model, split.valid, cfg, seed)
    test = serve(fitted.model, split.test, cfg, seed + 1)
    cost = {"seconds": fitted.train_seconds + time.perf_counter() - start, "train_seconds": fitted.train_seconds,
            "params": float(fitted.params), "p50_latency_ms": test.p50_ms, "p99_latency_ms": test.p99_ms,
            "mean_latency_ms": test.mean_ms, "memory_mb": test.memory_mb}
    return TrialResult(config, task.name, fidelity, seed, "ok", valid.metrics, test.metrics, cost, "", "live")


PER_RESULT_CACHE = 1 << 14
"""Entries of each per-result cache (a shipped table holds about 4,400 AutoPerf results)."""

_ARM_RATES: dict[int, tuple[TrialResult, Any]] = {}
_COST_FREE: dict[int, tuple[TrialResult, Any]] = {}
"""Per served result: its ``(expected CTR, click rate)``; its cost-free copy (the trial of a ramp or
rollback). Shared by every env of the process: results are immutable and the vector envs of one
process share one table, so each served result is worked out once, not once per env."""


def _per_result(cache: dict[int, tuple[TrialResult, Any]], r: TrialResult, make: Callable[[TrialResult], Any]) -> Any:
    """``make(r)``, computed once per result object: results are immutable and a table hands out
    the same objects again. Keyed by ``id`` (the result is kept to check identity, so a reused id
    cannot hit); cleared when full, since a live backend makes new results every step."""
    hit = cache.get(id(r))
    if hit is None or hit[0] is not r:
        if len(cache) >= PER_RESULT_CACHE:
            cache.clear()
        hit = cache[id(r)] = (r, make(r))
    return hit[1]


def _cost_free(r: TrialResult) -> TrialResult:
    return dataclasses.replace(r, cost={**r.cost, "seconds": 0.0})


def _arm_rates(r: TrialResult) -> tuple[float, float]:
    """``(expected CTR, click rate)`` of a served result from its test ``pos@K`` shares."""
    from agenticrs.recsys.serving.ab import click_rate, expected_ctr

    return expected_ctr(r.test), click_rate(r.test)


@register_backend("autoperf-live", overwrite=True)
def autoperf_live_backend(**kwargs: Any) -> Backend:
    """AutoPerf's live backend: a FunctionBackend running :func:`run_serving_trial`.

    ``base_epochs`` and ``device`` go to the trial function, the rest to the FunctionBackend
    (``timeout_s``, ``isolate``, ``store``...). ``agenticrs build-table --env
    agenticrs/AutoPerf-v0 --backend autoperf-live`` builds the shipped table with it.
    """
    from agenticrs.envs.backends.function import FunctionBackend

    fn_kwargs = {k: kwargs.pop(k) for k in ("base_epochs", "device") if k in kwargs}
    kwargs.setdefault("agent", "autoperf")
    return FunctionBackend("agenticrs.envs.autoperf:run_serving_trial", fn_kwargs=fn_kwargs, **kwargs)


# ---------------------------------------------------------------------- reward terms
@register_reward_term("online")
class OnlineGain(RewardTerm):
    """The outer reward: this period's A/B lift in clicks per request x treatment share / control CTR.

    The realised relative change of total clicks caused by the experiment (0 without one):
    noisy, like a real experiment; a bad treatment at a large share costs.
    """

    def update(self, result: TrialResult, state: EpisodeState) -> float:
        return float(getattr(state, "extra", {}).get("online", 0.0))


@register_reward_term("latency_sla")
class LatencySLA(RewardTerm):
    """``-lambda_latency * max(0, p99 / SLA - 1)`` over the served configs (Lagrangian penalty)."""

    def update(self, result: TrialResult, state: EpisodeState) -> float:
        x = getattr(state, "extra", {})
        return -x.get("lambda_latency", 0.0) * max(0.0, x.get("g_latency", 0.0))


@register_reward_term("memory_budget")
class MemoryBudget(RewardTerm):
    """``-lambda_memory * max(0, memory / budget - 1)`` over the served configs (Lagrangian penalty)."""

    def update(self, result: TrialResult, state: EpisodeState) -> float:
        x = getattr(state, "extra", {})
        return -x.get("lambda_memory", 0.0) * max(0.0, x.get("g_memory", 0.0))


@register_reward_term("shipped")
class Shipped(RewardTerm):
    """On the last step: relative expected-CTR change of the final control over the initial one."""

    def update(self, result: TrialResult, state: EpisodeState) -> float:
        return float(getattr(state, "extra", {}).get("shipped", 0.0)) if state.terminal else 0.0


class AutoPerfEnv(TrialEnv):
    """Choose serving configurations and run online experiments, one decision per step.

    ## Description
    The *AutoPerf* agent serves a trained model (the task's SASRec). Production starts on the
    default serving config (the *control*). Each step it either evaluates a serving config
    offline, launches it as an A/B *treatment* at 5% or 20% of traffic, ramps the running
    experiment up (5% -> 20% -> 50% -> 100%; at 100% the treatment ships and becomes the
    control) or rolls it back. While an experiment runs, every step simulates one period of
    it (:func:`~agenticrs.recsys.serving.ab.simulate_ab`: test users, position-based clicks,
    revenue, a 95% CI) — the outer reward. Served configs must meet a p99 latency SLA and a
    memory budget: constraints handled by Lagrange multipliers updated between episodes.

    ## Action Space
    ``MultiDiscrete([5, 3, 3, 3, 3, 3])``:

    | # | name | choices (index 0 first) | active when |
    |---|------|-------------------------|-------------|
    | 0 | decision | offline, launch_5, launch_20, ramp, rollback | always |
    | 1 | candidates | 100, 50, 200 (retrieval candidate set) | offline / launch |
    | 2 | precision | fp32, fp16, int8 (item table, quantised for real) | offline / launch |
    | 3 | max_history | 50, 20, 10 | offline / launch |
    | 4 | batch_size | 16, 1, 64 (requests per batch) | offline / launch |
    | 5 | refresh | 0 (online user state), 1, 5 (nearline refresh interval, interactions) | offline / launch |

    243 serving configs (``action_space.enumerate()``), 731 canonical actions.
    ``action_masks()`` is state-dependent: ``ramp`` and ``rollback`` are masked while no
    experiment runs; taken anyway they do nothing and the ``invalid`` term is -1. Bad actions
    (shape, dtype, NaN, range) raise ``ValueError``, state untouched.

    ## Observation Space
    ``Box(0, 10, (32,), float32)``: AutoTrain's 7 task meta-features, budget (2), best offline
    validation NDCG@10 (2), last trial (4), the last canonical action (6), then: experiment
    running, treatment share, 0.5 + 0.5 * clip(lift / control CTR, -1, 1), CI above 0, CI below
    0, last config p99 / SLA, last config memory / budget, control p99 / SLA, control memory /
    budget, lambda_latency, lambda_memory (clipped to 10). ``obs_mode="dict"`` adds the
    (state-dependent) ``action_mask``.

    ## Rewards
    Default weights ``online 1, shipped 1, latency_sla 1, memory_budget 1, inner 0.2, cost 0.01,
    failure 0.1, invalid 0.1``; every term in ``info["reward_terms"]``, the A/B outcome and the
    constraint state in ``info["extra"]`` (``lift``, ``ci_low``, ``ci_high``, ``revenue_lift``,
    ``share``, ``g_latency``, ``g_memory``, ``lambda_latency``, ``lambda_memory``):

    * ``online`` (outer): share x (treatment - control clicks per request) / control CTR;
    * ``shipped``: last step, relative expected-CTR gain of the final control over the initial;
    * ``latency_sla`` / ``memory_budget``: ``-lambda * max(0, g)`` with
      ``g = max over served configs (value / limit - 1)``;
    * ``inner`` (best offline validation NDCG@10 improvement / scale), ``cost``, ``failure``, ``invalid``.

    **Primal-dual**: at each unseeded reset (between episodes), ``lambda <- clip(lambda +
    dual_lr * mean_g, 0, lambda_max)`` with ``mean_g`` the last episode's mean (signed)
    violation, so multipliers grow while constraints are violated and shrink when they are
    slack. A *seeded* reset restarts the schedule at ``lambda_init`` (same seed, same episode;
    ``options={"keep_multipliers": True}`` keeps them). Each env copy of a vector env keeps its
    own multipliers; ``set_multipliers`` lets a callback synchronise them.

    ## Starting State / Episode End
    ``reset`` evaluates the default config as the control (one backend call). Terminated after
    ``max_trials`` (the task's, 20) decisions.

    ## Arguments
    TrialEnv's, plus ``latency_sla_ms`` (20.0), ``memory_budget_mb`` (0.4), ``requests`` per
    period (20,000), ``dual_lr`` (0.5), ``lambda_init`` (1.0), ``lambda_max`` (100).

    ## Backend
    *live*: :class:`~agenticrs.envs.backends.function.FunctionBackend` running
    :func:`run_serving_trial` (latency and memory measured for real; the base SASRec trained
    once per task and seed in the worker). *table* / *surrogate*: ``autoperf__{suite}.jsonl.gz``,
    latency and memory taken from the table.

    ## Cost per step
    Table: about 0.06 ms of CPU time (2-core EPYC, ``benchmarks/env_speed.py``; CartPole-v1:
    0.005-0.007 ms): a dict lookup plus, while an experiment runs (about 60% of random steps),
    one simulated period (about 25 us for 20,000 requests, mostly the per-click revenue draws:
    click counts are drawn as binomials, not request by request) and its seeded generator (about
    15 us). Each served result's click rate, expected CTR and cost-free copy are computed once
    and kept. Live: serving both splits (about a second on the synthetic suite).

    ## Version History
    * v0: initial version.
    """

    env_name = "autoperf"
    default_weights = {"online": 1.0, "shipped": 1.0, "latency_sla": 1.0, "memory_budget": 1.0, "inner": 0.2,
                       "cost": 0.01, "failure": 0.1, "invalid": 0.1}
    n_result_features = 11

    def __init__(self, *args: Any, latency_sla_ms: float = 20.0, memory_budget_mb: float = 0.4,
                 requests: int = 20000, dual_lr: float = 0.5, lambda_init: float = 1.0, lambda_max: float = 100.0,
                 **kwargs: Any):
        if not (latency_sla_ms > 0 and memory_budget_mb > 0 and requests >= 2 and dual_lr >= 0
                and 0 <= lambda_init <= lambda_max):
            raise ValueError("AutoPerfEnv: need latency_sla_ms > 0, memory_budget_mb > 0, requests >= 2, "
                             "dual_lr >= 0 and 0 <= lambda_init <= lambda_max")
        self.latency_sla_ms, self.memory_budget_mb = float(latency_sla_ms), float(memory_budget_mb)
        self.requests, self.dual_lr, self.lambda_max = int(requests), float(dual_lr), float(lambda_max)
        self.lambda_init = float(lambda_init)
        self.lambdas = {"latency": self.lambda_init, "memory": self.lambda_init}
        self._g_sum = {"latency": 0.0, "memory": 0.0}
        self._g_n = 0
        super().__init__(*args, **kwargs)
        sp = self.action_space
        self._decision_off = int(sp._offsets[0])
        self._default_pid = sp.lookup(sp.encode({"decision": "offline"}))[0]
        self._control: TrialResult | None = None
        self._initial: TrialResult | None = None
        self._treat: TrialResult | None = None
        self._share = 0.0
        self._decision_of = [sp.values(p)["decision"] for p in range(sp.n_pairs)]  # per pair id, for the hot path
        # The constraint state depends only on the served results and the multipliers: kept until one changes.
        self._constraints: tuple[Any, dict[str, float]] = ((), {})
        self._simulate: Any = None  # simulate_ab_rates, imported on the first experiment period

    def _space(self) -> ConditionalSpace:
        return ConditionalSpace("serving", SERVING_CHOICES)

    def _live_backend(self, kwargs: dict[str, Any]) -> Backend:
        return autoperf_live_backend(**{"env": self._env_id(), **kwargs})

    # ------------------------------------------------------------------ episode hooks
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        # A seeded reset restarts the primal-dual schedule, so the same seed gives the same episode.
        self._restart_duals = seed is not None and not (options or {}).get("keep_multipliers", False)
        return super().reset(seed=seed, options=options)

    def set_multipliers(self, latency: float, memory: float) -> None:
        """Set the Lagrange multipliers (e.g. averaged over vector-env copies by a callback)."""
        self.lambdas = {"latency": float(np.clip(latency, 0, self.lambda_max)),
                        "memory": float(np.clip(memory, 0, self.lambda_max))}

    def _on_reset(self, state: TrialEpisodeState) -> None:
        if getattr(self, "_restart_duals", False):
            self.lambdas = {"latency": self.lambda_init, "memory": self.lambda_init}
        elif self._g_n:  # dual ascent on the previous episode's mean violation
            for k in self.lambdas:
                self.lambdas[k] = float(np.clip(self.lambdas[k] + self.dual_lr * self._g_sum[k] / self._g_n,
                                                0.0, self.lambda_max))
        self._g_sum, self._g_n = {"latency": 0.0, "memory": 0.0}, 0
        config, fidelity = self.action_space.pair(self._default_pid)
        seed = int(self.np_random.integers(0, 2**31 - 1))
        self._control = self._initial = self.backend_evaluate(state.task, config, fidelity, seed)
        self._treat, self._share = None, 0.0
        state.extra.clear()
        state.extra.update(self._constraint_state())

    def backend_evaluate(self, task: Task, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
        """The control's and treatments' trials, through the env's one gate (:meth:`evaluate_trial`)."""
        return self.evaluate_trial(task, config, fidelity, seed)

    def _evaluate(self, pid: int, config: Any, fidelity: float, seed: int) -> TrialResult:
        decision = self._decision_of[pid]
        if decision in ("ramp", "rollback"):  # no new config: the experiment's own result, no live cost
            r = self._treat or self._control
            assert r is not None
            return _per_result(_COST_FREE, r, _cost_free)
        return self.backend_evaluate(self._state.task, config, fidelity, seed)  # type: ignore[union-attr]

    def _before_terms(self, result: TrialResult, st: TrialEpisodeState) -> None:
        decision = st.values["decision"]
        if decision in LAUNCH_SHARE:
            if result.ok:
                self._treat, self._share = result, LAUNCH_SHARE[decision]
        elif decision == "offline":
            pass  # always valid; a running experiment goes on
        elif self._treat is None:
            st.repaired = True  # ramp / rollback without an experiment: masked, a no-op if taken
        elif decision == "rollback":
            self._treat, self._share = None, 0.0
        elif decision == "ramp":
            self._share = next((s for s in RAMP if s > self._share + 1e-9), 1.0)
            if self._share >= 1.0:  # ship: the treatment becomes the control
                self._control, self._treat, self._share = self._treat, None, 0.0
        control = self._control
        assert control is not None and self._initial is not None
        initial_ctr = self._arm_stats(self._initial)[0]
        control_ctr, control_rate = self._arm_stats(control)
        ref = max(initial_ctr, 1e-6)
        extra: dict[str, float] = {"share": self._share, "online": 0.0, "lift": 0.0, "ci_low": 0.0, "ci_high": 0.0,
                                   "revenue_lift": 0.0}
        if self._treat is not None and control.ok:
            if self._simulate is None:
                from agenticrs.recsys.serving.ab import simulate_ab_rates

                self._simulate = simulate_ab_rates
            rng = np.random.default_rng(self._seeds[st.trials - 1])
            ab = self._simulate(control_rate, self._arm_stats(self._treat)[1], self._share, self.requests, rng)
            extra.update(online=self._share * ab.lift / ref, lift=ab.lift, ci_low=ab.ci_low, ci_high=ab.ci_high,
                         revenue_lift=ab.revenue_lift)
        extra["shipped"] = (control_ctr - initial_ctr) / ref
        extra.update(self._constraint_state())
        self._g_sum["latency"] += extra["g_latency"]
        self._g_sum["memory"] += extra["g_memory"]
        self._g_n += 1
        st.extra.clear()
        st.extra.update(extra)

    def _arm_stats(self, r: TrialResult) -> tuple[float, float]:
        """``(expected CTR, click rate)`` of a served result's test ``pos@K`` shares, computed once per result."""
        return _per_result(_ARM_RATES, r, _arm_rates)

    def _constraint_state(self) -> dict[str, float]:
        """``g_latency``, ``g_memory`` (worst served violation) and the multipliers; callers copy it out.

        Recomputed only when the served results (compared by identity: results are immutable)
        or the multipliers change, i.e. on launches, ships, rollbacks and resets.
        """
        key = (self._control, self._treat, self.lambdas["latency"], self.lambdas["memory"])
        old = self._constraints[0]
        if len(old) == 4 and all(a is b for a, b in zip(old, key)):  # identity: exact, even for -0.0
            return self._constraints[1]
        served = [r for r in (self._control, self._treat) if r is not None and r.ok]
        g_lat = max((self._g(r, "p99_latency_ms", self.latency_sla_ms) for r in served), default=0.0)
        g_mem = max((self._g(r, "memory_mb", self.memory_budget_mb) for r in served), default=0.0)
        state = {"g_latency": g_lat, "g_memory": g_mem, "lambda_latency": self.lambdas["latency"],
                 "lambda_memory": self.lambdas["memory"]}
        self._constraints = (key, state)
        return state

    @staticmethod
    def _g(r: TrialResult, key: str, limit: float) -> float:
        return float(r.cost.get(key, 0.0)) / limit - 1.0

    def _result_features(self, result: TrialResult, st: TrialEpisodeState) -> np.ndarray:
        x, ctl = st.extra, self._control
        base = max(self._arm_stats(ctl)[0], 1e-6) if ctl is not None and ctl.ok else 1.0
        lift = x.get("lift", 0.0) / base
        return np.asarray([
            float(self._treat is not None), self._share,
            0.5 + 0.5 * min(max(lift, -1.0), 1.0),  # the same floats as np.clip, without its dispatch
            float(x.get("ci_low", 0.0) > 0), float(x.get("ci_high", 0.0) < 0),
            result.cost.get("p99_latency_ms", 0.0) / self.latency_sla_ms,
            result.cost.get("memory_mb", 0.0) / self.memory_budget_mb,
            (ctl.cost.get("p99_latency_ms", 0.0) / self.latency_sla_ms) if ctl is not None else 0.0,
            (ctl.cost.get("memory_mb", 0.0) / self.memory_budget_mb) if ctl is not None else 0.0,
            self.lambdas["latency"], self.lambdas["memory"],
        ], dtype=np.float32)

    def _current_mask(self) -> np.ndarray:
        if not hasattr(self, "_decision_off") or self._treat is not None:
            return self._mask
        m = self._mask.copy()
        for d in ("ramp", "rollback"):
            m[self._decision_off + DECISIONS.index(d)] = False
        return m

    @property
    def experiment(self) -> Mapping[str, Any] | None:
        """The running experiment (``treatment`` result and ``share``) or ``None``."""
        return None if self._treat is None else {"treatment": self._treat, "share": self._share}

    @property
    def control(self) -> TrialResult | None:
        return self._control


