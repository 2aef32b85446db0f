"""``TrialEnv``: the shared MDP shell of the AutoTrain, Compose, AutoFeature and AutoPerf envs.

One step = one trial: the action (by default a :class:`~agenticrs.envs.grid_space.ConditionalSpace`)
decodes to a ``(TrialConfig, fidelity)``, the backend evaluates it, reward terms turn the
result into a reward, the observation is updated. Subclasses provide the space, their
backend kinds, extra observation features and extra reward terms (template methods:
``_space``, ``_live_backend``, ``_task_features``, ``_result_features``; AutoTrain also
overrides the lower-level hooks ``_decode``, ``_new_state``, ``_write_result_features``...).

Every backend result enters through :meth:`TrialEnv.evaluate_trial`, which passes it through
:func:`~agenticrs.envs.core.validate_result`: an exception, ``None``, a NaN, infinite or
negative number or a wrong type becomes a ``failed`` trial with its reason, so rewards stay
finite and observations inside the space whatever a backend does.

The layout of the flat observation (``Box(0, 10)``, every feature clipped):

| slice | features |
|-------|----------|
| 0-6 | task meta-features (as AutoTrain: users, items, density, mean length, popularity Gini, top-1% share, text coverage) |
| then ``n_task`` | env-specific task features (``_task_features``) |
| then 2 | trials used / max, trials left / max |
| then 2 | only with ``seconds_budget``: seconds used / max_seconds, seconds left / max_seconds (0 and 1 without a second budget) |
| then 2 | has incumbent, incumbent validation metric / scale |
| then 4 | last trial ok, failed, validation metric / scale, log1p(live seconds) / 10 |
| then ``len(nvec)`` | last canonical action, each index / (n - 1) |
| then ``n_result`` | env-specific features of the last result (``_result_features``) |
"""

from __future__ import annotations

import math
import os
import warnings
import weakref
from typing import Any, Callable, ClassVar, Mapping, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agenticrs.envs.core import Backend, Task, TaskSuite, TrialConfig, TrialResult, validate_result
from agenticrs.envs.grid_space import ConditionalSpace
from agenticrs.envs.rewards import EpisodeState, RewardTerm, make_reward_terms, register_reward_term
from agenticrs.envs.suites import chosen_task, get_suite, suite_table_path, task_pool, task_stats

try:  # the ufunc np.clip ends in, without its Python dispatch (about 2 us a call, every step)
    from numpy._core.umath import clip as _clip
except ImportError:  # pragma: no cover - another numpy layout
    _clip = np.clip

OBS_HIGH = 10.0
"""Every observation feature is clipped to ``[0, OBS_HIGH]``."""

META_FEATURES = ("log_users", "log_items", "neg_log10_density", "log_mean_length", "popularity_gini",
                 "top1pct_share", "text_coverage")


def meta_features(stats: Mapping[str, float]) -> np.ndarray:
    """``[7]`` float32 task meta-features from ``Dataset.stats()``, scaled to roughly ``[0, 1]``."""
    def stat(key: str) -> float:
        # Stats may come from a user's backend (``task_stats``): NaN, negative or junk counts as 0.
        try:
            v = float(stats.get(key, 0.0))
        except (TypeError, ValueError):
            return 0.0
        return v if 0.0 <= v < math.inf else 0.0

    density = max(stat("density"), 1e-12)
    return np.asarray([
        math.log1p(stat("users")) / 10.0,
        math.log1p(stat("items")) / 10.0,
        -math.log10(density) / 5.0,
        math.log1p(stat("mean_length")) / 5.0,
        stat("popularity_gini"),
        stat("top1pct_share"),
        stat("text_coverage"),
    ], dtype=np.float32).clip(0.0, OBS_HIGH)


def best_known_in_table(table: Any, task: str, metric: str) -> float | None:
    """Best mean-over-seeds ``metric`` of any (config, fidelity) entry of ``task`` in a table."""
    sums: dict[tuple[str, float], list[float]] = {}
    for r in table.results():
        if r.task == task and r.status == "ok" and metric in r.valid:
            acc = sums.setdefault((r.config.key(), r.fidelity), [0.0, 0.0])
            acc[0] += r.valid[metric]
            acc[1] += 1
    best = max((s / n for s, n in sums.values()), default=None)
    return best if best is not None and best > 0 else None


_TABLE_SCALES: dict[tuple[str, str, str], float | None] = {}
_OWN_TABLE_SCALES: "weakref.WeakKeyDictionary[Any, dict[tuple[str, str], float | None]]" = weakref.WeakKeyDictionary()
"""Per backend table object (tables never change after loading): one scan per task, not one per reset."""


def backend_scale(task: Task, backend: Any, shipped_env: str | None = None, suite: str = "") -> float | None:
    """The task's best known validation metric, used to normalise metrics and rewards.

    Order: ``backend.best_known(task, metric)``; the backend's own table (``backend.table``,
    table and surrogate backends); with ``shipped_env``, the shipped table
    ``envs/tables/{shipped_env}__{suite}.jsonl.gz`` (scanned once per process and task).
    ``None`` if unknown.
    """
    fn = getattr(backend, "best_known", None)
    if fn is not None:
        known = fn(task, task.metric)
        if _is_scale(known):  # a user's backend may answer NaN, 0 or junk: fall through to the tables
            return float(known)
    table = getattr(backend, "table", None)
    if callable(getattr(table, "results", None)):
        try:
            cache = _OWN_TABLE_SCALES.setdefault(table, {})
        except TypeError:  # a user's table object that cannot be weakly referenced
            return best_known_in_table(table, task.name, task.metric)
        if (task.name, task.metric) not in cache:
            cache[(task.name, task.metric)] = best_known_in_table(table, task.name, task.metric)
        return cache[(task.name, task.metric)]
    if shipped_env is None:
        return None
    from agenticrs.envs.backends.table import load_table, table_path

    path = table_path(shipped_env, suite)
    if not path.exists():
        return None
    key = (str(path), task.name, task.metric)
    if key not in _TABLE_SCALES:  # one scan of the shipped table per process and task
        _TABLE_SCALES[key] = best_known_in_table(load_table(path), task.name, task.metric)
    return _TABLE_SCALES[key]


def _is_scale(x: Any) -> bool:
    """A usable metric scale: a finite number > 0."""
    try:
        return 0.0 < float(x) < math.inf
    except (TypeError, ValueError):
        return False


def ready_backend(backend: Any, kwargs: Mapping[str, Any]) -> Backend:
    """``backend`` when it is a ready backend object (``evaluate()``) given without ``backend_kwargs``.

    The shared check of an env's ``backend=`` argument when it is not a kind name.

    Raises:
        TypeError: ``kwargs`` is not empty, or ``backend`` has no callable ``evaluate``.
    """
    if kwargs:
        raise TypeError("backend_kwargs were given with a ready Backend instance")
    if not callable(getattr(backend, "evaluate", None)):
        raise TypeError(f"backend must be a kind or an object with evaluate(), got {type(backend).__name__}")
    return backend


def evaluate_safely(backend: Backend, task: Task, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
    """``backend.evaluate(task, config, fidelity, seed)`` that never raises and never returns a bad result.

    An exception becomes a failed trial (``"backend error: ..."``, at most 2,000 characters)
    and anything :func:`~agenticrs.envs.core.validate_result` rejects (``None``, NaN or
    infinite, negative, wrong types) a failed trial with the reason, so an env's failure
    penalty applies, rewards stay finite and observations stay in the space.
    """
    kind = getattr(backend, "kind", "unknown")
    kind = kind if isinstance(kind, str) else "unknown"
    try:
        result = backend.evaluate(task, config, fidelity, seed)
    except Exception as e:  # noqa: BLE001
        return TrialResult(config, task.name, fidelity, seed, "failed",
                           reason=f"backend error: {type(e).__name__}: {e}"[:2000], source=kind)
    return validate_result(result, task, config, fidelity, seed, source=kind)


def render_episode(env: Any, name: str, last: Callable[[TrialResult, EpisodeState], str],
                   incumbent: Callable[[EpisodeState], str], live_seconds: bool = False) -> str | None:
    """The ``"ansi"`` ``render()`` text of a trial env: the task and budget, the last trial, the incumbent.

    Args:
        env: an env with ``render_mode``, ``_state`` (an :class:`EpisodeState` or ``None``) and ``history``.
        name: the env's name in the not-reset line.
        last: the line of the last trial (``history[-1]``) given the state.
        incumbent: the incumbent's line(s), asked only when the state has one.
        live_seconds: add the live seconds spent to the first line.

    Returns:
        ``None`` unless ``render_mode == "ansi"``; else the text (``"{name}: not reset"`` before a reset).
    """
    if env.render_mode != "ansi":
        return None
    st = env._state
    if st is None:
        return f"{name}: not reset"
    lines = [f"task {st.task.name}: {st.trials}/{st.max_trials} trials" + (f", {st.seconds:.1f} live s" if live_seconds else "")]
    if env.history:
        lines.append(last(env.history[-1], st))
    if st.incumbent is not None:
        lines.append(incumbent(st))
    return "\n".join(lines)


class TrialEpisodeState(EpisodeState):
    """:class:`EpisodeState` plus what the envs of this family add.

    Attributes:
        repaired: the last action was an invalid combination the space repaired.
        values: the last action's active values (config choices and decisions).
        extra: env-specific numbers reward terms read (AutoPerf's A/B outcome, multipliers...).
    """

    __slots__ = ("repaired", "values", "extra")

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.repaired = False
        self.values: dict[str, Any] = {}
        self.extra: dict[str, float] = {}


@register_reward_term("invalid")
class InvalidWiring(RewardTerm):
    """-1 when the action was an invalid combination that the space repaired, else 0."""

    def update(self, result: TrialResult, state: EpisodeState) -> float:
        return -1.0 if getattr(state, "repaired", False) else 0.0


class EpisodeView:
    """The ``task`` / ``incumbent`` properties of an env whose episode lives in ``self._state``."""

    _state: EpisodeState | None

    @property
    def task(self) -> Task | None:
        """The current episode's task (``None`` before the first reset)."""
        return self._state.task if self._state is not None else None

    @property
    def incumbent(self) -> TrialResult | None:
        """The best trial on validation so far (``None`` before any valid trial)."""
        return self._state.incumbent if self._state is not None else None


class TrialEnv(EpisodeView, gym.Env):
    """Base class; see the module docstring. Subclasses document their spec in their own docstring."""

    metadata = {"render_modes": ["ansi"], "render_fps": 4}
    env_name: ClassVar[str] = ""
    """Short name: shipped table ``envs/tables/{env_name}__{suite}.jsonl.gz``."""
    default_weights: ClassVar[Mapping[str, float]] = {"inner": 1.0, "cost": 0.1, "failure": 0.1, "outer": 1.0}
    registry_id: ClassVar[str] = ""
    """The registered id named in the missing-table message (``""``: the instance's spec id or class name)."""
    n_task_features: ClassVar[int] = 0
    n_result_features: ClassVar[int] = 0
    seconds_budget: ClassVar[bool] = False
    """Two more budget features (seconds used / left); AutoTrain's ``max_seconds`` budget."""

    def __init__(
        self,
        backend: str | Backend = "table",
        suite: str | TaskSuite = "synthetic",
        split: str = "train",
        tasks: Sequence[str] | None = None,
        max_trials: int | None = None,
        reward_weights: Mapping[str, float] | None = None,
        metric_scale: float = 1.0,
        cost_scale: float = 60.0,
        obs_mode: str = "flat",
        backend_kwargs: Mapping[str, Any] | None = None,
        store: Any = None,
        run_id: str | None = None,
        agent: str = "",
        render_mode: str | None = None,
    ):
        self.suite = get_suite(suite)
        self.tasks: tuple[Task, ...] = task_pool(self.suite, split, tasks)
        if max_trials is not None and max_trials < 1:
            raise ValueError(f"max_trials must be >= 1, got {max_trials}")
        if not metric_scale > 0 or not cost_scale > 0:
            raise ValueError(f"metric_scale ({metric_scale}) and cost_scale ({cost_scale}) must be > 0")
        if obs_mode not in ("flat", "dict"):
            raise ValueError(f"obs_mode must be 'flat' or 'dict', got {obs_mode!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.max_trials_override = max_trials
        self.metric_scale, self.cost_scale = float(metric_scale), float(cost_scale)
        self.obs_mode, self.render_mode = obs_mode, render_mode
        self.reward_weights = dict(self.default_weights if reward_weights is None else reward_weights)
        self._terms = make_reward_terms(self.reward_weights)
        self.backend = self._resolve_backend(backend, dict(backend_kwargs or {}))
        if isinstance(store, (str, os.PathLike)):  # a path keeps env kwargs JSON-able (run.json, RLlib env_config)
            from agenticrs.envs.knowledge import KnowledgeStore

            store = KnowledgeStore.open(store)
        self.store, self.run_id, self.agent = store, run_id, agent or self.env_name

        self.action_space: ConditionalSpace = self._space()
        sp = self.action_space
        nvec = sp.nvec.astype(np.float32)
        # Normalised canonical action of every pair, for the "last action" features.
        self._norm_action = [(a / np.maximum(nvec - 1, 1)).astype(np.float32) for a in self._canonical_actions()]
        self._i_budget = 7 + self.n_task_features
        self._i_incumbent = self._i_budget + (4 if self.seconds_budget else 2)
        self._i_action = self._i_incumbent + 6
        self._i_result = self._i_action + len(sp.nvec)
        self._n_obs = self._i_result + self.n_result_features
        box = spaces.Box(0.0, OBS_HIGH, (self._n_obs,), np.float32)
        self._mask = sp.mask()
        if obs_mode == "dict":
            self.observation_space: spaces.Space = spaces.Dict({
                "observations": box, "action_mask": spaces.Box(0.0, 1.0, self._mask.shape, np.float32)})
        else:
            self.observation_space = box
        self._task_cache: dict[str, tuple[np.ndarray, float]] = {}
        self._obs = np.zeros(self._n_obs, dtype=np.float32)
        self._state: TrialEpisodeState | None = None
        self._pid = -1  # pair id of the last action (subclass hooks read it)
        self.history: list[TrialResult] = []

    # ------------------------------------------------------------------ template methods
    def _space(self) -> ConditionalSpace:
        raise NotImplementedError

    def _canonical_actions(self) -> Sequence[np.ndarray]:
        """``[n_pairs]`` canonical action (``[len(nvec)]`` ints) of every pair id."""
        sp = self.action_space
        return [sp.canonical_action(p) for p in range(sp.n_pairs)]

    def _decode(self, action: Any, state: EpisodeState) -> tuple[int, TrialConfig, float]:
        """``action -> (pair id, config, fidelity)``; raises ``ValueError`` before touching any state."""
        pid, repaired = self.action_space.lookup(action)
        config, fidelity = self.action_space.pair(pid)
        state.repaired, state.values = repaired, self.action_space.values(pid)  # type: ignore[attr-defined]
        return pid, config, fidelity

    def _new_state(self, task: Task, scale: float, max_trials: int) -> EpisodeState:
        """The episode state reward terms read."""
        return TrialEpisodeState(task, task.metric, scale, self.cost_scale, max_trials, None)

    def _live_backend(self, kwargs: dict[str, Any]) -> Backend:
        """The env's live backend (``backend="live"``)."""
        raise NotImplementedError

    def _task_features(self, task: Task, stats: Mapping[str, float]) -> np.ndarray:
        """``[n_task_features]`` extra task features in ``[0, OBS_HIGH]``."""
        return np.zeros(self.n_task_features, dtype=np.float32)

    def _result_features(self, result: TrialResult, state: TrialEpisodeState) -> np.ndarray:
        """``[n_result_features]`` features of the last result in ``[0, OBS_HIGH]``."""
        return np.zeros(self.n_result_features, dtype=np.float32)

    def _on_reset(self, state: TrialEpisodeState) -> None:
        """Hook: per-episode state of a subclass."""

    def _before_terms(self, result: TrialResult, state: TrialEpisodeState) -> None:
        """Hook: fill ``state.extra`` before the reward terms run."""

    def _write_result_features(self, obs: np.ndarray, result: TrialResult, state: EpisodeState) -> None:
        """Write ``obs[_i_result:]`` (default: ``_result_features``, clipped); in place, for speed."""
        if self.n_result_features:
            _clip(self._result_features(result, state), 0.0, OBS_HIGH, out=obs[self._i_result :])  # type: ignore[arg-type]

    def _step_info(self, result: TrialResult, state: TrialEpisodeState, terms: dict[str, float]) -> dict[str, Any]:
        """The ``info`` dict of ``step``."""
        return {"reward_terms": terms, "result": result, "task": state.task.name, "repaired": state.repaired,
                **({"extra": dict(state.extra)} if state.extra else {})}

    # ------------------------------------------------------------------ episode
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        task = self._pick_task(options)
        meta, scale = self._task_info(task)
        max_trials = self.max_trials_override or task.max_trials
        st = self._new_state(task, scale, max_trials)
        # One seed per trial, drawn up front: the same reset seed gives the same trial seeds.
        self._seeds: list[int] = self.np_random.integers(0, 2**31 - 1, size=max_trials).tolist()
        self._state = st  # type: ignore[assignment]
        self._on_reset(st)
        for term, _ in self._terms:
            term.reset(task, st)
        self.history = []
        obs = self._obs
        obs[:] = 0.0
        obs[: len(meta)] = meta
        obs[self._i_budget + 1] = 1.0
        if self.seconds_budget:
            obs[self._i_budget + 3] = 1.0
        return self._observation(), {"task": task.name}

    def step(self, action: Any):
        st = self._state
        if st is None:
            raise RuntimeError(f"{type(self).__name__}: call reset() before step()")
        if st.terminal:
            raise RuntimeError(f"{type(self).__name__}: the episode has ended; call reset()")
        pid, config, fidelity = self._decode(action, st)  # ValueError here leaves the state untouched
        self._pid = pid
        result = self._evaluate(pid, config, fidelity, self._seeds[st.trials])

        # ---- bookkeeping (EpisodeState is what reward terms read)
        secs = result.cost.get("seconds", 0.0)
        st.trials += 1
        st.seconds += secs
        st.prev_best = st.best
        value = result.valid.get(st.metric, math.nan) if result.ok else math.nan
        valid = value == value  # not NaN: the trial produced the metric
        if valid and (st.incumbent is None or value > st.best):
            st.best, st.incumbent = value, result
        st.terminal = st.trials >= st.max_trials or (st.max_seconds is not None and st.seconds >= st.max_seconds)
        self.history.append(result)
        self._before_terms(result, st)
        terms, reward = {}, 0.0
        for term, weight in self._terms:
            v = term.update(result, st)
            terms[term.name] = v
            reward += weight * v
        if reward - reward != 0.0:  # NaN or infinite; results are validated, so a term is at fault
            self._bad_reward(terms)

        # ---- observation, updated in place (scalar writes: the cheapest way into a float32 array)
        obs, inv = self._obs, 1.0 / st.scale
        i = self._i_budget
        frac = st.trials / st.max_trials
        obs[i], obs[i + 1] = frac, 1.0 - frac
        if self.seconds_budget and st.max_seconds is not None:
            sfrac = st.seconds / st.max_seconds
            sfrac = sfrac if sfrac < 1.0 else 1.0
            obs[i + 2], obs[i + 3] = sfrac, 1.0 - sfrac
        i = self._i_incumbent
        if st.incumbent is not None:
            obs[i], obs[i + 1] = 1.0, min(st.best * inv, OBS_HIGH)
        obs[i + 2], obs[i + 3] = (1.0, 0.0) if result.ok else (0.0, 1.0)
        obs[i + 4] = min(value * inv, OBS_HIGH) if valid else 0.0
        obs[i + 5] = min(math.log1p(secs) * 0.1, OBS_HIGH) if secs > 0 else 0.0
        obs[self._i_action : self._i_result] = self._norm_action[pid]
        self._write_result_features(obs, result, st)
        info = self._step_info(result, st, terms)
        if self.store is not None:
            self._record(action, result, terms, reward)
        return self._observation(), reward, st.terminal, False, info

    def _evaluate(self, pid: int, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
        """The trial of this step (hook: AutoPerf answers ramp / rollback without the backend)."""
        return self.evaluate_trial(self._state.task, config, fidelity, seed)  # type: ignore[union-attr]

    def evaluate_trial(self, task: Task, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
        """``backend.evaluate`` through the env's one gate: every result an env uses comes from here.

        An exception becomes a failed trial (``"backend error: ..."``) and anything
        :func:`~agenticrs.envs.core.validate_result` rejects (``None``, NaN or infinite,
        negative, wrong types) a failed trial with the reason, so the failure penalty applies,
        rewards stay finite and observations stay in the space; never a crashed episode.
        """
        return evaluate_safely(self.backend, task, config, fidelity, seed)

    def _bad_reward(self, terms: Mapping[str, float]) -> None:
        weights = dict(self.reward_weights)
        for name, v in terms.items():
            if not math.isfinite(v):
                raise ValueError(f"{type(self).__name__}: reward term {name!r} returned {v} for a validated "
                                 f"trial result; a reward term must return a finite number")
        raise ValueError(f"{type(self).__name__}: the weighted reward terms {terms} (weights {weights}) overflow")

    # ------------------------------------------------------------------ helpers
    def action_masks(self) -> np.ndarray:
        """``[sum(nvec)]`` bool mask for sb3-contrib ``MaskablePPO`` (the union mask unless a subclass narrows it)."""
        return self._current_mask().copy()

    def _current_mask(self) -> np.ndarray:
        """Hook: a state-dependent mask (AutoPerf masks ramp / rollback without a running experiment)."""
        return self._mask

    def render(self) -> str | None:
        return render_episode(
            self, type(self).__name__,
            lambda r, st: f"last: {r.config.param_dict} -> {r.status} {st.metric}={r.valid.get(st.metric, math.nan):.4f}",
            lambda st: f"incumbent: {st.incumbent.config.param_dict} {st.metric}={st.best:.4f}")

    def _observation(self) -> Any:
        if self.obs_mode == "dict":
            return {"observations": self._obs.copy(), "action_mask": self._current_mask().astype(np.float32)}
        return self._obs.copy()

    def _pick_task(self, options: dict[str, Any] | None) -> Task:
        drawn = self.tasks[int(self.np_random.integers(len(self.tasks)))]  # always draw: replays match
        choice = chosen_task(self.suite, (options or {}).get("task"))
        return drawn if choice is None else choice

    def _task_info(self, task: Task) -> tuple[np.ndarray, float]:
        hit = self._task_cache.get(task.name)
        if hit is None:
            stats = task_stats(task, self.backend)
            extra = np.asarray(self._task_features(task, stats), dtype=np.float32)
            extra = np.nan_to_num(extra, nan=0.0, posinf=OBS_HIGH)  # a user's stats may hold NaN
            meta = np.concatenate([meta_features(stats), np.clip(extra, 0, OBS_HIGH)])
            hit = self._task_cache[task.name] = (meta.astype(np.float32), self._scale(task) or self.metric_scale)
        return hit

    def _scale(self, task: Task) -> float | None:
        """Best known validation metric of the task: ``backend.best_known``, else the backend's table."""
        return backend_scale(task, self.backend)

    def _resolve_backend(self, backend: str | Backend, kwargs: dict[str, Any]) -> Backend:
        from agenticrs.envs.backends import make_backend

        if not isinstance(backend, str):
            return ready_backend(backend, kwargs)
        kind = backend.lower()
        if kind == "live":
            return self._live_backend(kwargs)
        if kind in ("table", "surrogate") and "table" not in kwargs:
            path = suite_table_path(self.env_name, self.suite.name)  # amazon-rev reads amazon's table
            if not path.exists():
                raise FileNotFoundError(
                    f"{type(self).__name__}: no table for suite {self.suite.name!r} at {path}; build one with "
                    f"`agenticrs build-table --env {self.registry_id or self._env_id()} --suite {self.suite.name} --out {path}`, "
                    f"pass backend_kwargs={{'table': PATH}}, or use backend='live'")
            kwargs["table"] = path
        return make_backend(kind, **kwargs)

    def _env_id(self) -> str:
        return self.spec.id if self.spec is not None else type(self).__name__

    def _record(self, action: Any, result: TrialResult, terms: dict[str, float], reward: float) -> None:
        st = self._state
        assert st is not None
        try:
            # One transaction: a process killed mid-write leaves the trial and its decision, or neither.
            self.store.add_step(
                result, step=st.trials - 1, action=np.asarray(action).tolist(), run_id=self.run_id,
                agent=self.agent, env=self._env_id(), task=st.task.name, reward_terms=terms,
                info=self._decision_record(result, st, reward),
            )
        except Exception as e:  # noqa: BLE001 - a full disk must not kill a training run
            warnings.warn(f"{type(self).__name__}: could not record the trial in {self.store!r}: {e}", stacklevel=2)

    def _decision_record(self, result: TrialResult, st: TrialEpisodeState, reward: float) -> dict[str, Any]:
        """The ``info`` of the recorded decision."""
        return {"values": st.values, "fidelity": result.fidelity, "reward": reward, "best": st.best,
                "terminal": st.terminal, "repaired": st.repaired, **self._decision_info(result, st)}

    def _decision_info(self, result: TrialResult, state: TrialEpisodeState) -> dict[str, Any]:
        """Extra fields of the recorded decision (AutoFeature marks negative results here)."""
        return {}
