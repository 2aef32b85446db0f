"""The game logic of ``AgenticRS-v0``, once: rounds, the shared pipeline, rewards, observations.

:class:`AgenticCore` is framework-free (numpy + Gymnasium spaces). The PettingZoo
``ParallelEnv`` (:mod:`~agenticrs.envs.agentic.pettingzoo_env`) and the RLlib
``MultiAgentEnv`` (:mod:`~agenticrs.envs.agentic.rllib_env`) are thin faces over it; the full
spec is the docstring of :class:`~agenticrs.envs.agentic.rllib_env.AgenticRSEnv`.
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping, Sequence

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding

from agenticrs.envs.agentic.assemble import PipelineResult
from agenticrs.envs.agentic.backend import joint_trial_config, make_agentic_backend
from agenticrs.envs.agentic.knowledge import KnowledgeSummary, record_round
from agenticrs.envs.agentic.rewards import COUPLINGS, DualAscent, OuterOutcome, couple, mode_rewards, simulate_outer
from agenticrs.envs.agentic.spaces import AGENTS, JointConfig, agent_spaces
from agenticrs.envs.core import Task, TaskSuite, TrialResult
from agenticrs.envs.suites import get_suite, task_pool, task_stats
from agenticrs.envs.trial_env import OBS_HIGH, meta_features

HISTORY = 3
"""Rounds of recent results in each observation."""
N_META, N_ID, N_ROUND, N_OWN_EXTRA, N_GLOBAL = 7, len(AGENTS), 2, 4, 8
N_RECENT = 3 * HISTORY
N_KNOW_EXTRA = 2 * len(AGENTS)
MISSING_ACTIONS = ("error", "keep")


def _squash(x: float) -> float:
    """A signed quantity in ``[0, 1]`` (``0.5`` = zero) for observations."""
    return 0.5 + 0.5 * max(-1.0, min(1.0, x))


class AgenticCore:
    """Four agents co-evolving one pipeline (see :class:`~agenticrs.envs.agentic.rllib_env.AgenticRSEnv`).

    Not a Gymnasium env itself: ``reset`` returns ``(obs, infos)`` dicts per agent and
    ``step(actions)`` returns ``(obs, rewards, terminations, truncations, infos)`` dicts.
    """

    def __init__(
        self,
        backend: Any = "cached",
        suite: str | TaskSuite = "synthetic",
        split: str = "train",
        tasks: Sequence[str] | None = None,
        max_rounds: int = 10,
        coupling: str = "layered",
        outer_weight: float = 1.0,
        outer_target: float = 0.0,
        dual_lr: float = 0.5,
        dual_every: str = "episode",
        lambda_init: float = 1.0,
        lambda_max: float = 100.0,
        latency_sla_ms: float = 30.0,
        memory_budget_mb: float = 0.6,
        sla_weight: float = 1.0,
        quality_floor: float = 0.95,
        floor_penalty: float = 0.1,
        invalid_penalty: float = 0.1,
        ab_share: float = 0.5,
        ab_requests: int = 20000,
        obs_mode: str = "flat",
        missing_action: str = "error",
        report_all_modes: bool = True,
        backend_kwargs: Mapping[str, Any] | None = None,
        store: Any = None,
        run_id: str | None = None,
    ):
        self.suite = get_suite(suite)
        self.tasks: tuple[Task, ...] = task_pool(self.suite, split, tasks)
        if int(max_rounds) < 1:
            raise ValueError(f"max_rounds must be >= 1, got {max_rounds}")
        if coupling not in COUPLINGS:
            raise ValueError(f"coupling must be one of {COUPLINGS}, got {coupling!r}")
        if dual_every not in ("round", "episode"):
            raise ValueError(f"dual_every must be 'round' or 'episode', got {dual_every!r}")
        if obs_mode not in ("flat", "dict"):
            raise ValueError(f"obs_mode must be 'flat' or 'dict', got {obs_mode!r}")
        if missing_action not in MISSING_ACTIONS:
            raise ValueError(f"missing_action must be one of {MISSING_ACTIONS}, got {missing_action!r}")
        if not (latency_sla_ms > 0 and memory_budget_mb > 0 and 0 < ab_share <= 1 and int(ab_requests) >= 2
                and 0 <= quality_floor <= 1):
            raise ValueError("AgenticRS: need latency_sla_ms > 0, memory_budget_mb > 0, 0 < ab_share <= 1, "
                             "ab_requests >= 2 and 0 <= quality_floor <= 1")
        self.max_rounds, self.coupling, self.outer_weight = int(max_rounds), coupling, float(outer_weight)
        self.latency_sla_ms, self.memory_budget_mb = float(latency_sla_ms), float(memory_budget_mb)
        self.sla_weight, self.quality_floor = float(sla_weight), float(quality_floor)
        self.floor_penalty, self.invalid_penalty = float(floor_penalty), float(invalid_penalty)
        self.ab_share, self.ab_requests = float(ab_share), int(ab_requests)
        self.obs_mode, self.missing_action, self.report_all_modes = obs_mode, missing_action, bool(report_all_modes)
        self.dual_every = dual_every
        self.dual = DualAscent(outer_target, dual_lr, lambda_init, lambda_max)
        self.backend = make_agentic_backend(backend, **dict(backend_kwargs or {}))
        if isinstance(store, (str, os.PathLike)):  # a path keeps env kwargs JSON-able (run.json, RLlib env_config)
            from agenticrs.envs.knowledge import KnowledgeStore

            store = KnowledgeStore.open(store)
        self.store, self.run_id = store, run_id
        self.knowledge = KnowledgeSummary()

        self.action_spaces: dict[str, spaces.MultiDiscrete] = agent_spaces()  # type: ignore[assignment]
        self.possible_agents = list(AGENTS)
        self._frozen = {a: [tuple(sorted(sp.values(p).items())) for p in range(sp.n_pairs)]
                        for a, sp in self.action_spaces.items()}
        self._norm = {a: [sp.canonical_action(p) / np.maximum(sp.nvec - 1, 1) for p in range(sp.n_pairs)]
                      for a, sp in self.action_spaces.items()}
        self._masks = {a: sp.mask().astype(np.float32) for a, sp in self.action_spaces.items()}
        # PettingZoo / Gymnasium form, for infos: one int8 mask per dimension (MultiDiscrete.sample(mask=...)).
        self._sample_masks = {a: tuple(np.split(m.astype(np.int8), np.cumsum(self.action_spaces[a].nvec)[:-1]))
                              for a, m in self._masks.items()}
        self._n_own = {a: len(sp.nvec) for a, sp in self.action_spaces.items()}
        self._layout = {a: self._obs_layout(n) for a, n in self._n_own.items()}
        self.observation_spaces: dict[str, spaces.Space] = {}
        for a in AGENTS:
            box = spaces.Box(0.0, OBS_HIGH, (self._layout[a]["size"],), np.float32)
            self.observation_spaces[a] = box if obs_mode == "flat" else spaces.Dict(
                {"observations": box, "action_mask": spaces.Box(0.0, 1.0, self._masks[a].shape, np.float32)})
        n_actions = sum(self._n_own.values())
        self._state_size = N_META + N_ROUND + n_actions + N_GLOBAL + N_RECENT + N_KNOW_EXTRA
        self.state_space = spaces.Box(0.0, OBS_HIGH, (self._state_size,), np.float32)
        self.np_random, _ = seeding.np_random(None)
        self._episode: _Episode | None = None
        self._task_cache: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ layout
    @staticmethod
    def _obs_layout(n_own: int) -> dict[str, int]:
        """Offsets of the observation blocks of an agent whose action has ``n_own`` dimensions."""
        off = {"meta": 0, "id": N_META, "round": N_META + N_ID, "own": N_META + N_ID + N_ROUND}
        off["recent"] = off["own"] + n_own + N_OWN_EXTRA
        off["global"] = off["recent"] + N_RECENT
        off["know"] = off["global"] + N_GLOBAL
        off["size"] = off["know"] + N_KNOW_EXTRA + n_own
        return off

    # ------------------------------------------------------------------ episode
    @property
    def task(self) -> Task | None:
        return self._episode.task if self._episode is not None else None

    @property
    def multiplier(self) -> float:
        return self.dual.value

    def set_multiplier(self, value: float) -> None:
        """Set the Lagrange multiplier (e.g. averaged over env runners by a callback)."""
        self.dual.set(value)

    def reset(self, seed: int | None = None, options: Mapping[str, Any] | None = None
              ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        options = dict(options or {})  # read: task, keep_multiplier, keep_knowledge (others ignored, as Gymnasium does)
        if seed is not None:
            self.np_random, _ = seeding.np_random(int(seed))
            # A seeded reset restarts the dual schedule and the in-memory knowledge: same seed, same episode.
            if not options.get("keep_multiplier"):
                self.dual.restart()
            if not options.get("keep_knowledge"):
                self.knowledge.clear()
        elif self.dual_every == "episode":
            self.dual.update()
        task = self._pick_task(options.get("task"))
        if self.store is not None:
            self.knowledge.clear()
            self.knowledge.load(self.store, task.name)
        rng = self.np_random
        train_seed = int(rng.integers(0, 2**31 - 1))
        round_seeds = rng.standard_normal((self.max_rounds, 2))  # each round's A/B normals (control, treatment)
        pids = {a: 0 for a in AGENTS}  # every agent starts at its default (pair 0 = all-zero action)
        joint = self._joint(pids)
        result = self.backend.evaluate(task, joint, train_seed)
        ep = _Episode(task, train_seed, round_seeds, pids, joint, result, self._meta(task))
        # Scales: the default pipeline's and ranker's validation NDCG@10 (improvements are relative to them).
        ep.pipe_scale = max(result.valid.get("ndcg@10", 0.0), 1e-3)
        ep.ranker_scale = max(result.valid.get("ranker_ndcg@10", 0.0), 1e-3)
        ep.floor_ref = result.valid.get("ndcg@10", 0.0)
        ep.metrics = self._module_metrics(result, ep.floor_ref)
        ep.best = dict(ep.metrics)
        self._episode = ep
        for a in AGENTS:
            self.knowledge.record(task.name, a, self.action_spaces[a].canonical_action(0), ep.metrics[a], False)
        obs = self._observations()
        infos = {a: {"task": task.name, "round": 0, "action_mask": self._sample_masks[a]} for a in AGENTS}
        return obs, infos

    def _pick_task(self, choice: Any) -> Task:
        if isinstance(choice, Task):
            return choice
        if isinstance(choice, str):
            return self.suite.task(choice)
        if choice is not None:
            raise ValueError(f"options['task'] must be a task name or a Task, got {type(choice).__name__}")
        return self.tasks[int(self.np_random.integers(len(self.tasks)))]

    def _meta(self, task: Task) -> np.ndarray:
        hit = self._task_cache.get(task.data)
        if hit is None:
            hit = self._task_cache[task.data] = meta_features(task_stats(task, self.backend))
        return hit

    def _joint(self, pids: Mapping[str, int]) -> JointConfig:
        return JointConfig(*(self._frozen[a][pids[a]] for a in AGENTS))

    # ------------------------------------------------------------------ actions
    def parse_actions(self, actions: Any) -> tuple[dict[str, int], dict[str, bool]]:
        """Validate a joint action: ``{agent: pair id}``, ``{agent: repaired}``; ``ValueError`` names the problem.

        Nothing changes before every action has been checked, so a bad joint action leaves
        the episode as it was.
        """
        ep = self._episode
        if ep is None:
            raise RuntimeError("AgenticRS: call reset() before step()")
        if ep.done:
            raise RuntimeError("AgenticRS: the episode has ended; call reset()")
        if not isinstance(actions, Mapping):
            raise ValueError(f"actions must be a dict {{agent: action}} for agents {list(AGENTS)}, "
                             f"got {type(actions).__name__}")
        unknown = [k for k in actions if k not in self.action_spaces]
        if unknown:
            raise ValueError(f"actions for unknown agent(s) {unknown!r}; agents are {list(AGENTS)}")
        missing = [a for a in AGENTS if a not in actions]
        if missing and self.missing_action == "error":
            raise ValueError(f"actions lack agent(s) {missing}; every agent acts every round "
                             f"(or make the env with missing_action='keep')")
        pids, repaired = {}, {}
        for a in AGENTS:
            if a not in actions:
                pids[a], repaired[a] = ep.pids[a], False  # missing_action="keep": the part stays as it is
                continue
            try:
                pids[a], repaired[a] = self.action_spaces[a].lookup(actions[a])  # type: ignore[attr-defined]
            except ValueError as e:
                raise ValueError(f"agent {a!r}: {e}") from None
        return pids, repaired

    # ------------------------------------------------------------------ step
    def step(self, actions: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, float], dict[str, bool],
                                                         dict[str, bool], dict[str, dict[str, Any]]]:
        pids, repaired = self.parse_actions(actions)
        ep = self._episode
        assert ep is not None
        round_seed = ep.round_seeds[ep.round]
        joint = self._joint(pids)
        result = self.backend.evaluate(ep.task, joint, ep.train_seed)
        outer = self._outer(result, ep.incumbent_result, round_seed)
        changed = {a: pids[a] != ep.pids[a] for a in AGENTS}

        # Counterfactuals: each agent's part at its default (difference rewards; serving's quality floor).
        need_cf = self.coupling == "difference" or self.report_all_modes
        cf_results: dict[str, PipelineResult] = {}
        cf_outer: dict[str, OuterOutcome] = {}
        for a in AGENTS:
            if a == "serving" or need_cf:
                cf_joint = joint.replace(a, dict(self._frozen[a][0]))
                cf_results[a] = result if cf_joint == joint else self.backend.evaluate(ep.task, cf_joint, ep.train_seed)
                if need_cf:
                    cf_outer[a] = (outer if cf_joint == joint
                                   else self._outer(cf_results[a], ep.incumbent_result, round_seed))
        metrics = self._module_metrics(result, cf_results["serving"].valid.get("ndcg@10", 0.0))
        inner = self._inner(result, metrics, ep, repaired)

        # Rewards: the chosen coupling, and (optionally) what every mode would have paid.
        lam = self.dual.value
        rewards, infos = {}, {}
        shared = self._shared_info(result, outer, lam)
        for a in AGENTS:
            terms = couple(self.coupling, inner[a], outer.terms, cf_outer[a].terms if a in cf_outer else None,
                           weight=self.outer_weight, multiplier=lam, target=self.dual.target)
            rewards[a] = float(sum(terms.values()))
            info = {"reward_terms": terms, "inner": float(sum(inner[a].values())), "outer": outer.value,
                    "repaired": repaired[a], "action_mask": self._sample_masks[a], **shared}
            if need_cf:
                info["counterfactual_outer"] = cf_outer[a].value
            if self.report_all_modes:
                info["rewards_by_mode"] = mode_rewards(info["inner"], outer.value, cf_outer[a].value,
                                                       weight=self.outer_weight, multiplier=lam,
                                                       target=self.dual.target)
            infos[a] = info

        # Bookkeeping: the dual, shipping, knowledge, the store.
        self.dual.observe(outer.value)
        if self.dual_every == "round":
            self.dual.update()
        shipped = bool(result.ok and outer.ci_low > 0 and outer.terms["sla"] == 0.0 and joint != ep.incumbent)
        if shipped:
            ep.incumbent, ep.incumbent_result = joint, result
        negatives = {}
        for a in AGENTS:
            action = self.action_spaces[a].canonical_action(pids[a])
            negatives[a] = self.knowledge.record(ep.task.name, a, action, metrics[a], changed[a])
            infos[a]["shipped"] = shipped
            infos[a]["negative_result"] = negatives[a]
        if self.store is not None:
            self._record(ep, joint, result, pids, metrics, negatives, infos)
        ep.advance(pids, joint, result, metrics, {a: float(sum(inner[a].values())) for a in AGENTS}, repaired,
                   outer, shipped, self.max_rounds)
        done = ep.done
        obs = self._observations()
        return (obs, rewards, {a: done for a in AGENTS}, {a: False for a in AGENTS}, infos)

    def _outer(self, result: PipelineResult, incumbent: PipelineResult, round_seed: np.ndarray) -> OuterOutcome:
        """The simulated A/B of ``result`` against ``incumbent`` (the round's normals: common random numbers)."""
        return simulate_outer(result, incumbent, round_seed, ab_share=self.ab_share, ab_requests=self.ab_requests,
                              latency_sla_ms=self.latency_sla_ms, memory_budget_mb=self.memory_budget_mb,
                              sla_weight=self.sla_weight)

    def _module_metrics(self, result: PipelineResult, floor_ref: float) -> dict[str, float]:
        """Each module's local metric (higher is better; see the spec's Rewards section)."""
        ranker = result.valid.get("ranker_ndcg@10", 0.0) if result.ok else 0.0
        pipe = result.valid.get("ndcg@10", 0.0) if result.ok else 0.0
        if result.ok and pipe >= self.quality_floor * floor_ref:
            serving = -0.5 * (result.p99_ms / self.latency_sla_ms + result.memory_mb / self.memory_budget_mb)
        else:
            serving = -math.inf  # below the quality floor: no efficiency counts
        return {"model": ranker, "feature": ranker, "serving": serving, "composer": pipe}

    def _inner(self, result: PipelineResult, metrics: Mapping[str, float], ep: "_Episode",
               repaired: Mapping[str, bool]) -> dict[str, dict[str, float]]:
        scale = {"model": ep.ranker_scale, "feature": ep.ranker_scale, "serving": 1.0, "composer": ep.pipe_scale}
        out = {}
        for a in AGENTS:
            m, best = metrics[a], ep.best[a]
            terms = {"improvement": max(0.0, m - best) / scale[a] if math.isfinite(m) else 0.0}
            if a == "serving":
                terms["floor"] = -self.floor_penalty if not math.isfinite(m) else 0.0
            terms["invalid"] = -self.invalid_penalty if repaired[a] else 0.0
            terms["failure"] = -1.0 if not result.ok else 0.0
            out[a] = terms
        return out

    def _shared_info(self, result: PipelineResult, outer: OuterOutcome, lam: float) -> dict[str, Any]:
        ep = self._episode
        assert ep is not None
        return {"task": ep.task.name, "round": ep.round + 1, "multiplier": lam, "outer_terms": dict(outer.terms),
                "pipeline": {"status": result.status, "valid_ndcg": result.valid.get("ndcg@10", 0.0),
                             "test_ndcg": result.test.get("ndcg@10", 0.0),
                             "ranker_valid_ndcg": result.valid.get("ranker_ndcg@10", 0.0),
                             "p99_ms": result.p99_ms, "memory_mb": result.memory_mb,
                             "train_seconds": result.train_seconds, "reason": result.reason},
                "ab": {"lift": outer.lift, "ci_low": outer.ci_low, "ci_high": outer.ci_high,
                       "revenue_lift": outer.revenue_lift}}

    def _record(self, ep: "_Episode", joint: JointConfig, result: PipelineResult, pids: Mapping[str, int],
                metrics: Mapping[str, float], negatives: Mapping[str, bool], infos: Mapping[str, Any]) -> None:
        status = result.status if result.status in ("ok", "failed", "timeout") else "failed"
        trial = TrialResult(joint_trial_config(joint), ep.task.name, 1.0, ep.train_seed, status,  # type: ignore[arg-type]
                            dict(result.valid), dict(result.test),
                            {"seconds": result.train_seconds, "p99_latency_ms": result.p99_ms,
                             "memory_mb": result.memory_mb}, result.reason, result.source)
        decisions = {a: {"values": dict(self._frozen[a][pids[a]]),
                         "module_metric": metrics[a] if math.isfinite(metrics[a]) else None,
                         "negative_result": negatives[a], "reward": float(sum(infos[a]["reward_terms"].values())),
                         "coupling": self.coupling} for a in AGENTS}
        actions = {a: self.action_spaces[a].canonical_action(pids[a]) for a in AGENTS}
        record_round(self.store, self.run_id, ep.task.name, ep.round, trial, decisions, actions)

    # ------------------------------------------------------------------ observations
    def _observations(self) -> dict[str, Any]:
        """Every agent's observation; the blocks all agents share are computed once."""
        ep = self._episode
        assert ep is not None
        know = self.knowledge.task(ep.task.name)
        shared = np.concatenate([
            ep.recent_features(), self._global_features(ep),
            np.asarray([self._metric_feature(a, know[a].best, ep) for a in AGENTS]
                       + [math.log1p(know[a].negatives) / 5.0 for a in AGENTS], np.float32)])
        np.clip(shared, 0.0, OBS_HIGH, out=shared)
        rnd = (ep.round / self.max_rounds, 1.0 - ep.round / self.max_rounds)
        return {a: self._observe(a, ep, know, shared, rnd) for a in AGENTS}

    def _observe(self, agent: str, ep: "_Episode", know: Mapping[str, Any], shared: np.ndarray,
                 rnd: tuple[float, float]) -> Any:
        lay = self._layout[agent]
        n_own = self._n_own[agent]
        x = np.zeros(lay["size"], dtype=np.float32)
        x[:N_META] = ep.meta
        x[lay["id"] + AGENTS.index(agent)] = 1.0
        x[lay["round"] : lay["round"] + 2] = rnd
        o = lay["own"]
        x[o : o + n_own] = self._norm[agent][ep.pids[agent]]
        x[o + n_own] = min(self._metric_feature(agent, ep.metrics[agent], ep), OBS_HIGH)
        x[o + n_own + 1] = min(self._metric_feature(agent, ep.best[agent], ep), OBS_HIGH)
        x[o + n_own + 2] = _squash(ep.last_inner[agent])
        x[o + n_own + 3] = float(ep.repaired[agent])
        x[lay["recent"] : lay["know"] + N_KNOW_EXTRA] = shared
        own = know[agent].action
        if own is not None:
            k = lay["know"] + N_KNOW_EXTRA
            x[k : k + n_own] = own / np.maximum(self.action_spaces[agent].nvec - 1, 1)
        if self.obs_mode == "dict":
            return {"observations": x, "action_mask": self._masks[agent]}
        return x

    def _metric_feature(self, agent: str, value: float, ep: "_Episode") -> float:
        if not math.isfinite(value):
            return 0.0
        if agent == "serving":
            return -value  # cost ratio (p99 / SLA + memory / budget) / 2: lower is better
        return value / (ep.ranker_scale if agent in ("model", "feature") else ep.pipe_scale)

    def _global_features(self, ep: "_Episode") -> np.ndarray:
        r, inc, o = ep.result, ep.incumbent_result, ep.last_outer
        return np.asarray([
            r.valid.get("ndcg@10", 0.0) / ep.pipe_scale, inc.valid.get("ndcg@10", 0.0) / ep.pipe_scale,
            r.p99_ms / self.latency_sla_ms, r.memory_mb / self.memory_budget_mb,
            _squash(o.lift if o is not None else 0.0), float(o is not None and o.ci_low > 0),
            float(o is not None and o.ci_high < 0), self.dual.value,
        ], dtype=np.float32)

    def state(self) -> np.ndarray:
        """``[state_size]`` global state for a centralised critic: task, round, every agent's part,
        pipeline metrics, recent results, knowledge summary."""
        ep = self._episode
        if ep is None:
            raise RuntimeError("AgenticRS: call reset() before state()")
        know = self.knowledge.task(ep.task.name)
        parts = [ep.meta, np.asarray([ep.round / self.max_rounds, 1.0 - ep.round / self.max_rounds], np.float32)]
        parts += [self._norm[a][ep.pids[a]].astype(np.float32) for a in AGENTS]
        parts += [self._global_features(ep), ep.recent_features()]
        parts.append(np.asarray([self._metric_feature(a, know[a].best, ep) for a in AGENTS]
                                + [math.log1p(know[a].negatives) / 5.0 for a in AGENTS], np.float32))
        return np.clip(np.concatenate(parts), 0.0, OBS_HIGH).astype(np.float32)

    # ------------------------------------------------------------------ inspection
    @property
    def joint(self) -> JointConfig | None:
        """The pipeline the agents' current parts form."""
        return self._episode.joint if self._episode is not None else None

    @property
    def incumbent(self) -> JointConfig | None:
        """The production pipeline the A/B compares against (the default until one ships)."""
        return self._episode.incumbent if self._episode is not None else None

    @property
    def done(self) -> bool:
        return self._episode is None or self._episode.done

    def close(self) -> None:
        """Close the backend (the live backend's worker process)."""
        close = getattr(self.backend, "close", None)
        if callable(close):
            close()

    def render(self) -> str:
        ep = self._episode
        if ep is None:
            return "AgenticRS: not reset"
        r = ep.result
        lines = [f"task {ep.task.name}: round {ep.round}/{self.max_rounds}, coupling {self.coupling}, "
                 f"lambda {self.dual.value:.3f}",
                 f"pipeline: valid NDCG@10 {r.valid.get('ndcg@10', 0.0):.4f}, p99 {r.p99_ms:.1f} ms, "
                 f"memory {r.memory_mb:.2f} MB"]
        lines += [f"  {a}: {ep.joint.part(a)}" for a in AGENTS]
        lines.append(f"incumbent: valid NDCG@10 {ep.incumbent_result.valid.get('ndcg@10', 0.0):.4f}")
        return "\n".join(lines)


class _Episode:
    """Mutable per-episode state of :class:`AgenticCore`."""

    def __init__(self, task: Task, train_seed: int, round_seeds: np.ndarray, pids: dict[str, int],
                 joint: JointConfig, result: PipelineResult, meta: np.ndarray):
        self.task, self.train_seed, self.round_seeds, self.meta = task, train_seed, round_seeds, meta
        self.pids, self.joint, self.result = dict(pids), joint, result
        self.incumbent, self.incumbent_result = joint, result
        self.round = 0
        self.done = False
        self.pipe_scale = self.ranker_scale = 1.0
        self.floor_ref = 0.0
        self.metrics: dict[str, float] = {}
        self.best: dict[str, float] = {}
        self.last_inner = {a: 0.0 for a in AGENTS}
        self.repaired = {a: False for a in AGENTS}
        self.last_outer: OuterOutcome | None = None
        self.recent: list[tuple[float, float, float]] = []

    def advance(self, pids: dict[str, int], joint: JointConfig, result: PipelineResult, metrics: dict[str, float],
                inner: dict[str, float], repaired: dict[str, bool], outer: OuterOutcome, shipped: bool,
                max_rounds: int) -> None:
        self.pids, self.joint, self.result, self.metrics = dict(pids), joint, result, metrics
        for a, m in metrics.items():
            if m > self.best[a]:
                self.best[a] = m
        self.last_inner, self.repaired, self.last_outer = inner, repaired, outer
        self.recent = ([(result.valid.get("ndcg@10", 0.0) / self.pipe_scale, _squash(outer.value), float(shipped))]
                       + self.recent)[:HISTORY]
        self.round += 1
        self.done = self.round >= max_rounds

    def recent_features(self) -> np.ndarray:
        out = np.zeros(N_RECENT, dtype=np.float32)
        for i, row in enumerate(self.recent):
            out[3 * i : 3 * i + 3] = row
        return out
