"""``agenticrs/OpenDesign-v0``: open-ended recommender design, one program per step.

The second self-evolution mechanism of AgenticRS (generation and selection of new designs in an
open-ended space) as a Gymnasium env: an action is a whole program of the design language
(:mod:`agenticrs.recsys.design`) or an edit of the current best one; the live backend trains it.
"""

from __future__ import annotations

import math
import string
import warnings
from typing import Any, ClassVar, Mapping, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agenticrs.envs.core import Backend, Task, TaskSuite, TrialConfig, TrialResult
from agenticrs.envs.rewards import DEFAULT_WEIGHTS, EpisodeState, make_reward_terms
from agenticrs.envs.suites import chosen_task, get_suite, task_pool, task_stats
from agenticrs.envs.trial_env import (
    OBS_HIGH,
    EpisodeView,
    backend_scale,
    evaluate_safely,
    meta_features,
    ready_backend,
    render_episode,
)
from agenticrs.recsys.design.canonical import canonical_json, program_hash
from agenticrs.recsys.design.errors import DesignError
from agenticrs.recsys.design.features import FEATURE_NAMES, program_features
from agenticrs.recsys.design.grammar import OPERATORS, applicable, apply_operator, sample_program
from agenticrs.recsys.design.library import LIBRARY
from agenticrs.recsys.design.program import Program, Train
from agenticrs.recsys.design.text import parse, to_text
from agenticrs.recsys.design.validate import DEFAULT_LIMITS, Limits, find_errors, validate

CHARSET = string.printable
"""Characters a program text may hold (printable ASCII, newlines included)."""
MODEL = "design"
"""The registered model every program trains as."""


def trial_config(program: Program) -> TrialConfig:
    """The live backend's config of ``program``: model ``design`` with its canonical JSON and trainer fields.

    Equal programs give equal ``TrialConfig.key()``, which is what the KnowledgeStore and caches match on.
    """
    from agenticrs.recsys.design.compile import train_overrides  # lazy: imports torch

    return TrialConfig.make(MODEL, program=canonical_json(program), **train_overrides(program))


def program_of(config: TrialConfig) -> Program | None:
    """The program a trial config holds (``None`` for a config of an invalid program or another model)."""
    source = config.param_dict.get("program")
    if config.model != MODEL or not isinstance(source, str):
        return None
    try:
        return parse(source)
    except DesignError:
        return None


class ProgramText(spaces.Text):
    """``Text`` space of program sources whose :meth:`sample` draws a random *valid* program.

    ``contains`` accepts any printable string up to ``max_length`` (the language, not the space,
    decides validity); sampling uses the space's seeded ``np_random`` and the design grammar, so a
    random policy is random search over programs.
    """

    def __init__(self, max_length: int = 4096, train: Train | None = None, limits: Limits = DEFAULT_LIMITS,
                 seed: int | np.random.Generator | None = None):
        super().__init__(max_length, min_length=1, charset=CHARSET, seed=seed)
        self.train, self.limits = train, limits

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        if mask is not None or probability is not None:
            return super().sample(mask, probability)
        return to_text(sample_program(self.np_random, self.limits, train=self.train))

    def __repr__(self) -> str:
        return f"ProgramText(max_length={self.max_length})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, ProgramText) and super().__eq__(other)


def start_program(start: str | Program) -> Program:
    """A library name, a program text / JSON, or a Program -> a valid Program."""
    if isinstance(start, Program):
        return validate(start)
    if start in LIBRARY:
        return LIBRARY[start]
    return validate(parse(start))


class OpenDesignEnv(EpisodeView, gym.Env):
    """Propose recommender programs to train, one program per step, under a trial budget.

    ## Description
    The agent is an *AutoTrain* agent in an open-ended design space: instead of choosing among a
    fixed grid of configurations, it writes (or edits) a program of the design language
    (:mod:`agenticrs.recsys.design`: input features, a stack of attention / GRU / convolution /
    MLP / gated-MLP / mixture-of-experts / filter blocks, read-out, loss and training scheme). The
    backend compiles it to a recommender, trains it with the suite's one trainer and returns its
    validation and test metrics and its cost. The best program on validation is the *incumbent*.

    ## Action Space
    * ``action_mode="text"`` (default): :class:`ProgramText` (a ``gymnasium.spaces.Text`` of up to
      ``max_text_length`` printable characters): the program's text form or its JSON. ``sample()``
      draws a random valid program from the grammar. A string the language rejects (syntax, type,
      range, limit, incompatible combination) is a *failed trial* with every error, one per line,
      in ``info["error"]`` (no training, no seconds); a non-string raises ``ValueError``.
    * ``action_mode="edit"``: ``Discrete(72)``: mutation operator ``i`` of
      :data:`agenticrs.recsys.design.grammar.OPERATORS` (``dim_up``, ``add_gru``, ``loss_bce``,
      ``objective_cloze``, ``lr_down``...) applied to the *base* program: the incumbent, or ``start``
      before any successful trial. ``action_masks()`` marks the operators that give a new valid
      program (sb3-contrib ``MaskablePPO``); a masked operator is a failed trial.

    ## Observation Space
    ``Box(0, 10, (16 + 2 * 35,), float32)``, every feature clipped to ``[0, 10]``, metrics divided
    by the task's scale:

    | slice | features |
    |-------|----------|
    | 0-6 | task meta-features (as AutoTrain) |
    | 7-8 | trials used / max, trials left / max |
    | 9-10 | has incumbent, incumbent validation metric |
    | 11-15 | last trial ok, failed, validation metric, log1p(live seconds) / 10, program rejected by the language |
    | 16-50 | the last proposed program's features (:func:`~agenticrs.recsys.design.features.program_features`; zeros if rejected) |
    | 51-85 | the base program's features (what edits apply to) |

    With ``obs_mode="dict"`` (edit mode only): ``Dict(observations=<the Box>, action_mask=Box(0, 1, (72,)))``,
    the RLlib action-masking layout.

    ## Rewards
    As AutoTrain: ``sum(weight[name] * term)`` over ``reward_weights`` (default ``{"inner": 1.0,
    "cost": 0.1, "failure": 0.1, "outer": 1.0}``), each term in ``info["reward_terms"]``: ``inner``
    (improvement of the best validation metric / scale; only full-fidelity trials can become the
    incumbent), ``cost`` (-(live seconds of the step, screening included, cached results charged
    like fresh ones) / ``cost_scale``),
    ``failure`` (-1 for a failed, timed-out or rejected program), ``outer`` (last step: the
    incumbent's test metric / scale). The scale is the task's best known validation metric
    (backend, else the AutoTrain shipped table of the suite), else ``metric_scale``.

    ## Starting State
    ``reset(seed=..., options={"task": name_or_Task})``: a task of ``split`` (or the given one);
    no trial yet; the base program is ``start`` (default: the library's SASRec).

    ## Episode End
    Terminated after ``max_trials`` trials (default: the task's) or when the live seconds reach
    ``max_seconds``. Never truncated by the env.

    ## Arguments
    * ``backend``: ``"live"`` (default; ``backend_kwargs`` go to :class:`~agenticrs.envs.backends.live.LiveBackend`:
      ``timeout_s`` (default 600), ``device``, ``use_ray``...), any registered kind, or a Backend instance.
    * ``action_mode``: ``"text"`` or ``"edit"``; ``start``: library name, program text/JSON or Program.
    * ``fidelity`` (1.0): fraction of each program's epochs every trial trains.
    * ``screening`` (``None``): a lower fidelity every program first trains at; only programs whose
      screening metric reaches ``screening_margin`` (0.9) x the best screening metric of the episode
      are then trained at ``fidelity`` (the others end the step with their screening result).
    * ``suite`` (``"synthetic"``), ``split``, ``tasks``, ``max_trials``, ``max_seconds``,
      ``reward_weights``, ``metric_scale``, ``cost_scale`` (60 s).
    * ``obs_mode``: ``"flat"`` or ``"dict"`` (edit mode).
    * ``limits``: :class:`~agenticrs.recsys.design.validate.Limits` (size and parameter budgets; the
      parameter count is checked at the task's item count); ``max_text_length`` (4096).
    * ``store``, ``run_id``, ``agent``: a KnowledgeStore: every new trial (rejected programs too, as
      failed trials) and every decision (program text, hash, error) is recorded; programs already in
      the store for this task and fidelity are reused instead of retrained.
    * ``render_mode``: ``None`` or ``"ansi"``.

    ## Backend
    ``backend.evaluate(task, trial_config(program), fidelity, seed)`` with model ``design`` and the
    canonical program JSON as its ``program`` parameter (:func:`trial_config`), so the live backend's
    isolated worker, timeout, failure handling and cost figures apply unchanged; an exception becomes
    a failed trial. Results are cached by (task, program hash, fidelity) for the env's lifetime
    (and found in ``store``): a program proposed again returns its first result without training;
    its cost is charged as if it ran (as a table backend does), so episodes stay reproducible.

    ## Cost per step
    Live: one real training run of the program (seconds on the synthetic suite at the default
    8 epochs; minutes on real data); a rejected program, a cached one or an edit mask costs
    milliseconds (``action_masks`` validates 72 edits).

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}
    default_weights: ClassVar[Mapping[str, float]] = DEFAULT_WEIGHTS
    N_PROGRAM = len(FEATURE_NAMES)

    def __init__(
        self,
        backend: str | Backend = "live",
        suite: str | TaskSuite = "synthetic",
        split: str = "train",
        tasks: Sequence[str] | None = None,
        action_mode: str = "text",
        start: str | Program = "sasrec",
        fidelity: float = 1.0,
        screening: float | None = None,
        screening_margin: float = 0.9,
        max_trials: int | None = None,
        max_seconds: float | None = None,
        reward_weights: Mapping[str, float] | None = None,
        metric_scale: float = 1.0,
        cost_scale: float = 60.0,
        obs_mode: str = "flat",
        limits: Limits = DEFAULT_LIMITS,
        max_text_length: int = 4096,
        backend_kwargs: Mapping[str, Any] | None = None,
        store: Any = None,
        run_id: str | None = None,
        agent: str = "opendesign",
        render_mode: str | None = None,
    ):
        if action_mode not in ("text", "edit"):
            raise ValueError(f"action_mode must be 'text' or 'edit', got {action_mode!r}")
        if obs_mode not in ("flat", "dict") or obs_mode == "dict" and action_mode != "edit":
            raise ValueError(f"obs_mode must be 'flat', or 'dict' with action_mode='edit', got {obs_mode!r}")
        if not 0.0 < fidelity <= 1.0:
            raise ValueError(f"fidelity must lie in (0, 1], got {fidelity!r}")
        if screening is not None and not 0.0 < screening < fidelity:
            raise ValueError(f"screening must lie in (0, fidelity={fidelity}), got {screening!r}")
        if max_trials is not None and max_trials < 1:
            raise ValueError(f"max_trials must be >= 1, got {max_trials}")
        if max_seconds is not None and not max_seconds > 0:
            raise ValueError(f"max_seconds must be > 0, got {max_seconds}")
        if not metric_scale > 0 or not cost_scale > 0:
            raise ValueError(f"metric_scale ({metric_scale}) and cost_scale ({cost_scale}) must be > 0")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.suite = get_suite(suite)
        self.tasks: tuple[Task, ...] = task_pool(self.suite, split, tasks)
        self.action_mode, self.fidelity, self.screening = action_mode, float(fidelity), screening
        self.screening_margin = float(screening_margin)
        self.start = start_program(start)
        self.limits, self.max_trials_override, self.max_seconds_override = limits, max_trials, max_seconds
        self.metric_scale, self.cost_scale, self.render_mode = float(metric_scale), float(cost_scale), render_mode
        self.reward_weights = dict(self.default_weights if reward_weights is None else reward_weights)
        self._terms = make_reward_terms(self.reward_weights)
        self.backend = self._resolve_backend(backend, dict(backend_kwargs or {}))
        self.store, self.run_id, self.agent = store, run_id, agent
        if action_mode == "text":
            self.action_space: spaces.Space = ProgramText(max_text_length, limits=limits)
        else:
            self.action_space = spaces.Discrete(len(OPERATORS))
        self._i_program = 16
        self._n_obs = 16 + 2 * self.N_PROGRAM
        box = spaces.Box(0.0, OBS_HIGH, (self._n_obs,), np.float32)
        self.obs_mode = obs_mode
        self.observation_space: spaces.Space = box if obs_mode == "flat" else spaces.Dict({
            "observations": box, "action_mask": spaces.Box(0.0, 1.0, (len(OPERATORS),), np.float32)})
        self._obs = np.zeros(self._n_obs, dtype=np.float32)
        self._cache: dict[tuple[str, str, float], TrialResult] = {}
        self.cache_stats = {"hits": 0, "trained": 0}
        """Valid programs answered from the cache or the store vs. sent to the backend."""
        self._task_cache: dict[str, tuple[np.ndarray, float, int | None]] = {}
        self._state: EpisodeState | None = None
        self.history: list[TrialResult] = []

    # ------------------------------------------------------------------ backend
    def _resolve_backend(self, backend: str | Backend, kwargs: dict[str, Any]) -> Backend:
        from agenticrs.envs.backends import make_backend

        if not isinstance(backend, str):
            return ready_backend(backend, kwargs)
        if backend.lower() == "live":
            # The env records trials itself (with reward terms); the program sets its own epochs.
            kwargs = {"record": False, "timeout_s": 600.0, **kwargs}
        elif backend.lower() in ("table", "surrogate"):
            raise ValueError(f"OpenDesign-v0 has no {backend} backend: programs are open-ended, use backend='live'")
        return make_backend(backend, **kwargs)

    # ------------------------------------------------------------------ episode
    @property
    def base_program(self) -> Program:
        """The program edits apply to: the incumbent's, or ``start`` before any successful trial."""
        inc = self.incumbent
        program = program_of(inc.config) if inc is not None else None
        return program if program is not None else self.start

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        drawn = self.tasks[int(self.np_random.integers(len(self.tasks)))]  # always draw: replays match
        choice = chosen_task(self.suite, (options or {}).get("task"))
        task = drawn if choice is None else choice
        meta, scale, self._n_items = self._task_info(task)
        max_trials = self.max_trials_override or task.max_trials
        max_seconds = self.max_seconds_override if self.max_seconds_override is not None else task.max_seconds
        st = EpisodeState(task, task.metric, scale, max_seconds or self.cost_scale, max_trials, max_seconds)
        self._seeds: list[int] = self.np_random.integers(0, 2**31 - 1, size=max_trials).tolist()
        self._state, self._best_screen, self.history = st, -math.inf, []
        for term, _ in self._terms:
            term.reset(task, st)
        obs = self._obs
        obs[:] = 0.0
        obs[:7] = meta
        obs[8] = 1.0
        obs[self._i_program + self.N_PROGRAM:] = program_features(self.start)
        return self._observation(), {"task": task.name}

    def _task_info(self, task: Task) -> tuple[np.ndarray, float, int | None]:
        hit = self._task_cache.get(task.name)
        if hit is None:
            stats = task_stats(task, self.backend)
            scale = backend_scale(task, self.backend, "autotrain", self.suite.name) or self.metric_scale
            items = int(stats["items"]) if stats.get("items") else None
            hit = self._task_cache[task.name] = (meta_features(stats), scale, items)
        return hit

    def _decode(self, action: Any) -> tuple[Program | None, str, str]:
        """``action -> (program or None, its source, the language's error or "")``; ``ValueError`` for
        an action outside the space (the episode is untouched)."""
        if self.action_mode == "text":
            if not isinstance(action, str):
                raise ValueError(f"OpenDesign-v0 (text mode): an action is a program string, got {type(action).__name__}")
            if len(action) > self.action_space.max_length:  # type: ignore[attr-defined]
                return None, action, f"program text of {len(action)} characters exceeds {self.action_space.max_length}"  # type: ignore[attr-defined]
            try:
                program = parse(action)
            except DesignError as e:
                return None, action, str(e)
            errors = find_errors(program, self.limits, self._n_items)
            if errors:  # every problem at once: a writer (an LLM) can fix them in one go
                return None, action, "\n".join(map(str, errors))
            return program, action, ""
        if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)) and not (
                isinstance(action, np.ndarray) and action.shape == () and np.issubdtype(action.dtype, np.integer)):
            raise ValueError(f"OpenDesign-v0 (edit mode): an action is an operator index, got {action!r}")
        index = int(action)
        if not 0 <= index < len(OPERATORS):
            raise ValueError(f"OpenDesign-v0 (edit mode): operator {index} outside 0..{len(OPERATORS) - 1}")
        try:
            program = apply_operator(self.base_program, index, self.limits, self._n_items)
        except DesignError as e:
            return None, OPERATORS[index].name, str(e)
        return program, OPERATORS[index].name, ""

    def step(self, action: Any):
        st = self._state
        if st is None:
            raise RuntimeError("OpenDesignEnv: call reset() before step()")
        if st.terminal:
            raise RuntimeError("OpenDesignEnv: the episode has ended; call reset()")
        program, source, error = self._decode(action)
        seed = self._seeds[st.trials]
        if program is None:
            config = TrialConfig.make(MODEL, invalid_program=source[:4000])
            result = TrialResult(config, st.task.name, self.fidelity, seed, "failed", cost={"seconds": 0.0},
                                 reason=f"invalid program: {error}", source="design")
            fresh, cached, promoted, screen = [result], False, False, None
        else:
            result, fresh, cached, promoted, screen = self._run(program, seed)
        # A cached result charges the seconds its live run took, as a table lookup does: the same
        # actions give the same episode whether or not the cache already held them.
        used = [screen, result] if screen is not None and promoted else [result]
        step_seconds = sum(r.cost.get("seconds", 0.0) for r in used)
        if program is not None:  # not in info: a cache hit must not make replays differ
            self.cache_stats["hits" if cached else "trained"] += 1
        charged = result
        if screen is not None and promoted:  # the step's cost includes the screening run
            charged = TrialResult(result.config, result.task, result.fidelity, result.seed, result.status,
                                  result.valid, result.test, {**result.cost, "seconds": step_seconds},
                                  result.reason, result.source)

        # ---- bookkeeping (what reward terms read)
        st.trials += 1
        st.seconds += step_seconds
        st.prev_best = st.best
        full = result.ok and abs(result.fidelity - self.fidelity) < 1e-9
        value = result.valid.get(st.metric, math.nan) if full else math.nan
        if value == value and (st.incumbent is None or value > st.best):
            st.best, st.incumbent = value, result
        st.terminal = st.trials >= st.max_trials or (st.max_seconds is not None and st.seconds >= st.max_seconds)
        self.history.append(result)
        terms, reward = {}, 0.0
        for term, weight in self._terms:
            v = term.update(charged, st)
            terms[term.name] = v
            reward += weight * v

        # ---- observation
        obs, inv = self._obs, 1.0 / st.scale
        frac = st.trials / st.max_trials
        obs[7], obs[8] = frac, 1.0 - frac
        if st.incumbent is not None:
            obs[9], obs[10] = 1.0, min(st.best * inv, OBS_HIGH)
        last = result.valid.get(st.metric, math.nan) if result.ok else math.nan
        obs[11], obs[12] = (1.0, 0.0) if result.ok else (0.0, 1.0)
        obs[13] = min(last * inv, OBS_HIGH) if last == last else 0.0
        obs[14] = min(math.log1p(step_seconds) * 0.1, OBS_HIGH)
        obs[15] = 1.0 if program is None else 0.0
        i, n = self._i_program, self.N_PROGRAM
        obs[i : i + n] = program_features(program) if program is not None else 0.0
        obs[i + n :] = program_features(self.base_program)
        info = {"reward_terms": terms, "result": result, "task": st.task.name, "error": error,
                "program": to_text(program) if program is not None else source,
                "program_hash": program_hash(program) if program is not None else ""}
        if screen is not None:
            info.update(screening=screen, promoted=promoted)
        if self.store is not None:
            self._record(action, source, program, error, [] if cached else fresh, terms, reward)
        return self._observation(), reward, st.terminal, False, info

    def _evaluate(self, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
        """``backend.evaluate`` through :func:`~agenticrs.envs.trial_env.evaluate_safely`: never a crashed episode."""
        return evaluate_safely(self.backend, self._state.task, config, fidelity, seed)  # type: ignore[union-attr]

    def _lookup(self, config: TrialConfig, fidelity: float) -> TrialResult | None:
        """A result of this program at this fidelity on this task: the env's cache, else the store."""
        task = self._state.task.name  # type: ignore[union-attr]
        key = (task, config.key(), round(fidelity, 9))
        hit = self._cache.get(key)
        if hit is None and self.store is not None:
            stored = [t.result for t in self.store.trials(task=task, config_key=config.key())
                      if abs(t.result.fidelity - fidelity) < 1e-9]
            if stored:
                hit = self._cache[key] = stored[-1]
        return hit

    def _run(self, program: Program, seed: int) -> tuple[TrialResult, list[TrialResult], bool, bool, TrialResult | None]:
        """Evaluate ``program`` (screening first when set), reusing cached results.

        Returns:
            ``(result, fresh results, all cached, promoted to full fidelity, screening result or None)``.
        """
        config = trial_config(program)
        fresh: list[TrialResult] = []

        def get(fidelity: float) -> TrialResult:
            hit = self._lookup(config, fidelity)
            if hit is None:
                hit = self._evaluate(config, fidelity, seed)
                self._cache[(self._state.task.name, config.key(), round(fidelity, 9))] = hit  # type: ignore[union-attr]
                fresh.append(hit)
            return hit

        screen = None
        if self.screening is not None:
            screen = get(self.screening)
            value = screen.valid.get(self._state.metric, math.nan) if screen.ok else math.nan  # type: ignore[union-attr]
            if not value == value or value < self.screening_margin * self._best_screen:
                return screen, fresh, not fresh, False, screen
            self._best_screen = max(self._best_screen, value)
        result = get(self.fidelity)
        return result, fresh, not fresh, True, screen

    # ------------------------------------------------------------------ helpers
    def _observation(self) -> Any:
        if self.obs_mode == "dict":
            return {"observations": self._obs.copy(), "action_mask": self.action_masks().astype(np.float32)}
        return self._obs.copy()

    def action_masks(self) -> np.ndarray:
        """Edit mode: ``[72]`` bool, the operators that turn the base program into a new valid program."""
        if self.action_mode != "edit":
            raise AttributeError("action_masks() exists only with action_mode='edit'")
        mask = applicable(self.base_program, self.limits, getattr(self, "_n_items", None))
        return mask if mask.any() else np.ones_like(mask)

    def _record(self, action: Any, source: str, program: Program | None, error: str, fresh: list[TrialResult],
                terms: dict[str, float], reward: float) -> None:
        st = self._state
        assert st is not None
        env_id = self.spec.id if self.spec is not None else type(self).__name__
        try:
            for r in fresh:
                self.store.add_trial(r, run_id=self.run_id, agent=self.agent, env=env_id,
                                     reward_terms=terms if r is fresh[-1] else {})
            self.store.add_decision(
                run_id=self.run_id, step=st.trials - 1, agent=self.agent, env=env_id, task=st.task.name,
                action=action if isinstance(action, str) else int(action),
                info={"operator": source if self.action_mode == "edit" else "", "error": error, "reward": reward,
                      "program": to_text(program) if program is not None else source[:4000],
                      "program_hash": program_hash(program) if program is not None else "",
                      "best": st.best, "terminal": st.terminal, "reward_terms": terms})
        except Exception as e:  # noqa: BLE001 - a full disk must not kill a training run
            warnings.warn(f"OpenDesignEnv: could not record the trial in {self.store!r}: {e}", stacklevel=2)

    def render(self) -> str | None:
        return render_episode(
            self, "OpenDesignEnv",
            lambda r, st: f"last: {r.status} {st.metric}={r.valid.get(st.metric, math.nan):.4f} {r.reason[:80]}",
            lambda st: f"incumbent ({st.metric}={st.best:.4f}):\n{to_text(self.base_program)}", live_seconds=True)


__all__ = ["CHARSET", "MODEL", "OpenDesignEnv", "ProgramText", "program_of", "start_program", "trial_config"]
