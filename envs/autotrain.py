"""``agenticrs/AutoTrain-v0``: individual evolution of a model agent, one trial per step."""

from __future__ import annotations

import math
import warnings
from typing import Any, Mapping, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agenticrs.envs.core import Backend, Task, TaskSuite, TrialResult
from agenticrs.envs.rewards import DEFAULT_WEIGHTS, EpisodeState, make_reward_terms
from agenticrs.envs.spaces import CLOSED_FORM, DEFAULT_DIMS, FAMILIES, FIDELITIES, AutoTrainSpace, Dim
from agenticrs.envs.suites import get_suite, task_stats

OBS_HIGH = 10.0
"""Every observation feature is clipped to ``[0, OBS_HIGH]``."""

META_FEATURES = ("log_users", "log_items", "neg_log10_density", "log_mean_length", "popularity_gini",
                 "top1pct_share", "text_coverage")


def meta_features(stats: Mapping[str, float]) -> np.ndarray:
    """``[7]`` float32 task meta-features from ``Dataset.stats()``, scaled to roughly ``[0, 1]``."""
    density = max(float(stats.get("density", 0.0)), 1e-12)
    return np.asarray([
        math.log1p(stats.get("users", 0.0)) / 10.0,
        math.log1p(stats.get("items", 0.0)) / 10.0,
        -math.log10(density) / 5.0,
        math.log1p(stats.get("mean_length", 0.0)) / 5.0,
        stats.get("popularity_gini", 0.0),
        stats.get("top1pct_share", 0.0),
        stats.get("text_coverage", 0.0),
    ], dtype=np.float32).clip(0.0, OBS_HIGH)


class AutoTrainEnv(gym.Env):
    """Choose recommender configurations to train, one trial per step, under a budget.

    ## Description
    The agent is the *AutoTrain* evolution agent of an agentic recommender system: on one
    task (a dataset, a validation metric and a budget) it proposes a configuration (model
    family, architecture and training choices), a backend trains or looks it up and returns
    its validation and test metrics and its cost, and the agent adapts its next proposal.
    The best configuration on validation so far is the *incumbent*.

    ## Action Space
    ``MultiDiscrete`` (an :class:`~agenticrs.envs.spaces.AutoTrainSpace`), by default
    ``[6, 2, 2, 2, 2, 2, 2, 2, 2]``:

    | # | name | choices (index 0 first) | applies to |
    |---|------|-------------------------|------------|
    | 0 | family | pop, itemknn, bprmf, gru4rec, sasrec, bert4rec | all |
    | 1 | embedding_dim | 32, 64 | bprmf, gru4rec, sasrec, bert4rec |
    | 2 | layers | 1, 2 | sasrec, bert4rec |
    | 3 | heads | 1, 2 | bert4rec |
    | 4 | dropout | 0.2, 0.5 | gru4rec, sasrec, bert4rec |
    | 5 | lr | 1e-3, 3e-3 | bprmf, gru4rec, sasrec, bert4rec |
    | 6 | max_len | 20, 50 | itemknn, gru4rec, sasrec |
    | 7 | loss | bce, ce | sasrec |
    | 8 | fidelity | 1.0, 0.25 (fraction of the backend's full epochs) | trainable families |

    A choice that does not apply to the chosen family is ignored (canonicalised to index 0),
    so the 1,536 raw actions stand for 119 configurations and 235 (configuration, fidelity)
    pairs (``env.action_space.enumerate()``). GRU4Rec's ``hidden`` follows ``embedding_dim``.
    ``action_masks()`` (sb3-contrib ``MaskablePPO``) returns the flat ``[sum(nvec)]`` union
    mask: because a ``MultiDiscrete`` policy samples dimensions independently, only a
    dimension no allowed family uses is masked (to index 0);
    ``action_space.mask(family)`` gives the conditional mask of one family.
    Actions of the wrong shape, a non-integer dtype (floats, NaN, bools) or out of range
    raise ``ValueError`` and leave the episode untouched.

    ## Observation Space
    ``Box(0, 10, (16 + n_dims + 2 * n_families,), float32)`` (38 by default), every feature
    clipped to ``[0, 10]``, metrics divided by the task's scale (see Rewards):

    | slice | features |
    |-------|----------|
    | 0-6 | task meta-features: log1p(users)/10, log1p(items)/10, -log10(density)/5, log1p(mean length)/5, popularity Gini, top-1% share, text coverage |
    | 7-10 | trials used / max, trials left / max, seconds used / max_seconds, seconds left / max_seconds (0 and 1 without a second budget) |
    | 11-12 | has incumbent, incumbent validation metric |
    | 13-16 | last trial ok, last trial failed, last validation metric, log1p(last live seconds)/10 |
    | 17-25 | last (canonical) action, each index / (n - 1) |
    | 26-37 | per family: best validation metric, trials / max_trials |

    With ``obs_mode="dict"``: ``Dict(observations=<the Box>, action_mask=Box(0, 1, (sum(nvec),)))``
    (RLlib action-masking layout).

    ## Rewards
    ``reward = sum(weight[name] * term)`` over the terms named in ``reward_weights``
    (default ``{"inner": 1.0, "cost": 0.1, "failure": 0.1, "outer": 1.0}``); each unweighted
    term is in ``info["reward_terms"]``:

    * ``inner``: improvement of the best-so-far validation metric / scale (sums to
      ``best / scale`` over an episode);
    * ``cost``: -(live seconds of the trial) / cost scale (``max_seconds`` if the episode has
      a second budget, else ``cost_scale``);
    * ``failure``: -1 for a failed or timed-out trial;
    * ``outer``: on the last step, the incumbent's *test* metric / scale.

    The scale is the task's best known validation metric (:func:`task_scale`:
    ``backend.best_known(task, metric)``, else the best mean-over-seeds entry of the
    backend's table or of the suite's shipped table, so live episodes are scaled like table
    ones), else ``metric_scale``. Add terms with
    :func:`~agenticrs.envs.rewards.register_reward_term`.

    ## Starting State
    ``reset(seed=..., options={"task": name_or_Task})`` starts an episode on that task (any
    task of the suite, train or test, or a ``Task`` object); without it a task of the
    ``split`` (default: the suite's train tasks) is drawn with the env's ``np_random``.
    Nothing has been tried: budget features start at (0, 1, 0, 1), the rest at 0.

    ## Episode End
    Terminated when ``max_trials`` trials have run or the live seconds of the trials reach
    ``max_seconds``. Never truncated by the env itself.

    ## Arguments
    * ``backend``: ``"table"`` (default), ``"surrogate"``, ``"live"``, any registered kind, or a
      Backend instance; ``backend_kwargs`` go to ``make_backend``.
    * ``suite`` (``"synthetic"``), ``split`` (``"train"``, ``"test"`` or ``"all"``), ``tasks``
      (restrict the draw to these task names).
    * ``max_trials`` / ``max_seconds``: override the task's budget (``None`` = the task's).
    * ``reward_weights``, ``metric_scale`` (1.0), ``cost_scale`` (60 s per cost unit).
    * ``obs_mode``: ``"flat"`` or ``"dict"``.
    * ``families``, ``dims``, ``fidelities``: the action space (defaults above).
    * ``store``: a :class:`~agenticrs.envs.knowledge.KnowledgeStore`; every trial and decision is
      recorded with ``run_id`` and ``agent``.
    * ``render_mode``: ``None`` or ``"ansi"``.

    ## Backend
    ``backend.evaluate(task, config, fidelity, seed)``. Optional backend methods the env uses
    when present: ``task_stats(task) -> dict`` (meta-features without loading data) and
    ``best_known(task, metric) -> float | None`` (the scale). The trial seed is drawn from
    ``np_random`` at reset, so the same reset seed with a table or surrogate backend gives an
    identical episode. A backend exception becomes a ``failed`` trial (with the reason), never
    a crashed episode.

    ## Cost per step
    Table: a dictionary lookup (tens of microseconds per step, see
    ``benchmarks/env_speed.py``). Surrogate: one model prediction. Live: a real training
    run (seconds on the synthetic suite, minutes on real data).

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        backend: str | Backend = "table",
        suite: str | TaskSuite = "synthetic",
        split: str = "train",
        tasks: Sequence[str] | None = None,
        max_trials: int | None = None,
        max_seconds: float | None = None,
        reward_weights: Mapping[str, float] | None = None,
        metric_scale: float = 1.0,
        cost_scale: float = 60.0,
        obs_mode: str = "flat",
        families: Sequence[str] = FAMILIES,
        dims: Sequence[Dim] = DEFAULT_DIMS,
        fidelities: Sequence[float] = FIDELITIES,
        backend_kwargs: Mapping[str, Any] | None = None,
        store: Any = None,
        run_id: str | None = None,
        agent: str = "autotrain",
        render_mode: str | None = None,
    ):
        self.suite = get_suite(suite)
        if split not in ("train", "test", "all"):
            raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
        pool = {"train": self.suite.train, "test": self.suite.test, "all": self.suite.tasks}[split]
        if tasks is not None:
            pool = tuple(self.suite.task(n) for n in tasks)  # KeyError names the unknown task
        if not pool:
            raise ValueError(f"suite {self.suite.name!r} has no {split} tasks")
        self.tasks: tuple[Task, ...] = tuple(pool)
        if max_trials is not None and max_trials < 1:
            raise ValueError(f"max_trials must be >= 1, got {max_trials}")
        if max_seconds is not None and not max_seconds > 0:
            raise ValueError(f"max_seconds must be > 0, got {max_seconds}")
        if not metric_scale > 0 or not cost_scale > 0:
            raise ValueError(f"metric_scale ({metric_scale}) and cost_scale ({cost_scale}) must be > 0")
        if obs_mode not in ("flat", "dict"):
            raise ValueError(f"obs_mode must be 'flat' or 'dict', got {obs_mode!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.max_trials_override = max_trials
        self.max_seconds_override = max_seconds
        self.metric_scale = float(metric_scale)
        self.cost_scale = float(cost_scale)
        self.obs_mode = obs_mode
        self._flat = obs_mode == "flat"
        self.render_mode = render_mode
        self.reward_weights = dict(DEFAULT_WEIGHTS if reward_weights is None else reward_weights)
        self._terms = make_reward_terms(self.reward_weights)
        self.backend = _resolve_backend(backend, self.suite, backend_kwargs)
        self.store = store
        self.run_id = run_id
        self.agent = agent

        self.action_space = AutoTrainSpace(families, dims, fidelities, CLOSED_FORM)
        sp = self.action_space
        self._pairs = sp.enumerate()
        nvec = sp.nvec.astype(np.float32)
        # Normalised canonical action of every pair, for the "last action" features.
        self._pair_action = [(a / np.maximum(nvec - 1, 1)).astype(np.float32) for a in sp._canonical_actions]
        self._pair_family = [int(a[0]) for a in sp._canonical_actions]
        n_dims, n_fam = len(sp.nvec), len(sp.families)
        self._i_family = 17 + n_dims
        self._n_obs = self._i_family + 2 * n_fam
        box = spaces.Box(0.0, OBS_HIGH, (self._n_obs,), np.float32)
        self._mask = sp.mask()
        self._mask_f32 = self._mask.astype(np.float32)
        if obs_mode == "dict":
            self.observation_space: spaces.Space = spaces.Dict({
                "observations": box, "action_mask": spaces.Box(0.0, 1.0, self._mask.shape, np.float32),
            })
        else:
            self.observation_space = box
        self._task_cache: dict[str, tuple[np.ndarray, float]] = {}
        self._obs = np.zeros(self._n_obs, dtype=np.float32)
        self._state: EpisodeState | None = None
        self.history: list[TrialResult] = []

    # ------------------------------------------------------------------ episode
    @property
    def task(self) -> Task | None:
        """The current episode's task (``None`` before the first reset)."""
        return self._state.task if self._state is not None else None

    @property
    def incumbent(self) -> TrialResult | None:
        """The best trial on validation so far (``None`` before any valid trial)."""
        return self._state.incumbent if self._state is not None else None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        task = self._pick_task(options)
        meta, scale = self._task_info(task)
        max_trials = self.max_trials_override or task.max_trials
        max_seconds = self.max_seconds_override if self.max_seconds_override is not None else task.max_seconds
        st = EpisodeState(task, task.metric, scale, max_seconds or self.cost_scale, max_trials, max_seconds)
        for term, _ in self._terms:
            term.reset(task, st)
        # One seed per trial, drawn up front: the same reset seed gives the same trial seeds.
        self._seeds: list[int] = self.np_random.integers(0, 2**31 - 1, size=max_trials).tolist()
        self._state = st
        self._family_best = [0.0] * len(self.action_space.families)
        self._family_count = [0] * len(self.action_space.families)
        self.history = []
        obs = self._obs
        obs[:] = 0.0
        obs[:7] = meta
        obs[8] = 1.0
        obs[10] = 1.0
        return self._observation(), {"task": task.name}

    def step(self, action: Any):
        st = self._state
        if st is None:
            raise RuntimeError("AutoTrainEnv: call reset() before step()")
        if st.terminal:
            raise RuntimeError("AutoTrainEnv: the episode has ended; call reset()")
        pid = self.action_space.pair_id(action)  # ValueError here leaves every state untouched
        config, fidelity = self._pairs[pid]
        task = st.task
        seed = self._seeds[st.trials]
        try:
            result = self.backend.evaluate(task, config, fidelity, seed)
        except Exception as e:  # noqa: BLE001 - a broken trial is a failed trial, not a crashed episode
            result = TrialResult(config, task.name, fidelity, seed, "failed",
                                 reason=f"backend error: {type(e).__name__}: {e}",
                                 source=getattr(self.backend, "kind", "unknown"))

        # ---- bookkeeping (EpisodeState is what reward terms read)
        st.trials += 1
        seconds = result.cost.get("seconds", 0.0)
        st.seconds += seconds
        st.prev_best = st.best
        ok = result.status == "ok"
        value = result.valid.get(st.metric, math.nan) if ok else math.nan
        valid = value == value  # not NaN: the trial produced the metric
        if valid and (st.incumbent is None or value > st.best):
            st.best = value
            st.incumbent = result
        st.terminal = st.trials >= st.max_trials or (st.max_seconds is not None and st.seconds >= st.max_seconds)
        fam = self._pair_family[pid]
        self._family_count[fam] += 1
        if valid and value > self._family_best[fam]:
            self._family_best[fam] = value
        self.history.append(result)

        terms = {}
        reward = 0.0
        for term, weight in self._terms:
            v = term.update(result, st)
            terms[term.name] = v
            reward += weight * v

        # ---- observation, updated in place (scalar writes: the cheapest way into a float32 array)
        obs = self._obs
        inv_scale = 1.0 / st.scale
        frac = st.trials / st.max_trials
        obs[7] = frac
        obs[8] = 1.0 - frac
        if st.max_seconds is not None:
            sfrac = st.seconds / st.max_seconds
            sfrac = sfrac if sfrac < 1.0 else 1.0
            obs[9] = sfrac
            obs[10] = 1.0 - sfrac
        if st.incumbent is not None:
            obs[11] = 1.0
            x = st.best * inv_scale
            obs[12] = x if x < OBS_HIGH else OBS_HIGH
        if ok:
            obs[13] = 1.0
            obs[14] = 0.0
        else:
            obs[13] = 0.0
            obs[14] = 1.0
        x = value * inv_scale if valid else 0.0
        obs[15] = x if x < OBS_HIGH else OBS_HIGH
        obs[16] = math.log1p(seconds) * 0.1 if seconds > 0.0 else 0.0  # < OBS_HIGH below 2e43 s
        obs[17 : self._i_family] = self._pair_action[pid]
        j = self._i_family + 2 * fam
        x = self._family_best[fam] * inv_scale
        obs[j] = x if x < OBS_HIGH else OBS_HIGH
        obs[j + 1] = self._family_count[fam] / st.max_trials

        info = {"reward_terms": terms, "result": result, "task": task.name}
        if self.store is not None:
            self._record(action, result, terms, reward)
        if self._flat:
            return obs.copy(), reward, st.terminal, False, info
        return self._observation(), reward, st.terminal, False, info

    # ------------------------------------------------------------------ helpers
    def action_masks(self) -> np.ndarray:
        """``[sum(nvec)]`` bool mask for sb3-contrib ``MaskablePPO`` (see Action Space)."""
        return self._mask.copy()

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        st = self._state
        if st is None:
            return "AutoTrainEnv: not reset"
        lines = [f"task {st.task.name}: {st.trials}/{st.max_trials} trials, {st.seconds:.1f} live s"]
        if self.history:
            r = self.history[-1]
            lines.append(f"last: {r.config.model} {r.config.param_dict} @{r.fidelity:g} -> {r.status} "
                         f"{st.metric}={r.valid.get(st.metric, float('nan')):.4f}")
        if st.incumbent is not None:
            lines.append(f"incumbent: {st.incumbent.config.model} {st.incumbent.config.param_dict} "
                         f"{st.metric}={st.best:.4f}")
        return "\n".join(lines)

    def _observation(self) -> Any:
        if self.obs_mode == "dict":
            return {"observations": self._obs.copy(), "action_mask": self._mask_f32.copy()}
        return self._obs.copy()

    def _pick_task(self, options: dict[str, Any] | None) -> Task:
        # Always draw, so the trial seeds that follow do not depend on whether the task was
        # given: an episode replays identically with its task named explicitly.
        drawn = self.tasks[int(self.np_random.integers(len(self.tasks)))]
        choice = (options or {}).get("task")
        if choice is None:
            return drawn
        if isinstance(choice, Task):
            return choice
        if isinstance(choice, str):
            return self.suite.task(choice)
        raise TypeError(f"options['task'] must be a task name or a Task, got {type(choice).__name__}")

    def _task_info(self, task: Task) -> tuple[np.ndarray, float]:
        """Meta-features and metric scale of a task, computed once per env and task."""
        hit = self._task_cache.get(task.name)
        if hit is None:
            meta = meta_features(task_stats(task, self.backend))
            known = task_scale(task, self.backend, self.suite)
            hit = self._task_cache[task.name] = (meta, known if known else self.metric_scale)
        return hit

    def _record(self, action: Any, result: TrialResult, terms: dict[str, float], reward: float) -> None:
        st = self._state
        assert st is not None
        env_id = self.spec.id if self.spec is not None else type(self).__name__
        try:
            self.store.add_trial(result, run_id=self.run_id, agent=self.agent, env=env_id, reward_terms=terms)
            self.store.add_decision(
                run_id=self.run_id, step=st.trials - 1, action=np.asarray(action).tolist(), agent=self.agent,
                env=env_id, task=st.task.name,
                info={"config": result.config.to_dict(), "fidelity": result.fidelity, "reward": reward,
                      "best": st.best, "terminal": st.terminal},
            )
        except Exception as e:  # noqa: BLE001 - a full disk must not kill a training run
            warnings.warn(f"AutoTrainEnv: could not record the trial in {self.store!r}: {e}", stacklevel=2)


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


def task_scale(task: Task, backend: Any, suite: TaskSuite) -> float | None:
    """The task's best known validation metric, used to normalise metrics and rewards.

    Order: ``backend.best_known(task, metric)``; the backend's own table (``backend.table``,
    table and surrogate backends); the shipped AutoTrain table of the suite, so that live
    episodes are scaled like the table episodes a policy was trained on. ``None`` if unknown.
    """
    fn = getattr(backend, "best_known", None)
    if fn is not None:
        known = fn(task, task.metric)
        if known:
            return float(known)
    table = getattr(backend, "table", None)
    if callable(getattr(table, "results", None)):
        return best_known_in_table(table, task.name, task.metric)
    from agenticrs.envs.backends.table import load_table, table_path

    path = table_path("autotrain", suite.name)
    if not path.exists():
        return None
    key = (str(path), task.name, task.metric)
    if key not in _TABLE_SCALES:  # one scan of the shipped table per process and task
        _TABLE_SCALES[key] = best_known_in_table(load_table(path), task.name, task.metric)
    return _TABLE_SCALES[key]


def _resolve_backend(backend: str | Backend, suite: TaskSuite, kwargs: Mapping[str, Any] | None) -> Backend:
    from agenticrs.envs.backends import make_backend  # lazy: backends may import heavy modules

    kwargs = dict(kwargs or {})
    if not isinstance(backend, str):
        if kwargs:
            raise TypeError("backend_kwargs were given with a ready Backend instance")
        if not callable(getattr(backend, "evaluate", None)):
            raise TypeError(f"backend must be a kind or an object with evaluate(), got {type(backend).__name__}")
        return backend
    if backend.lower() in ("table", "surrogate") and "table" not in kwargs:  # both default to the shipped table
        from agenticrs.envs.backends import table_path

        path = table_path("autotrain", suite.name)
        if not path.exists():
            raise FileNotFoundError(
                f"AutoTrainEnv: no table for suite {suite.name!r} at {path}; build one with "
                f"`agenticrs build-table --env agenticrs/AutoTrain-v0 --suite {suite.name} --out {path}`, "
                f"pass backend_kwargs={{'table': PATH}}, or use backend='live'"
            )
        kwargs["table"] = path
    return make_backend(backend, **kwargs)
