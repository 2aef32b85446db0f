"""``agenticrs/AutoTrain-v0``: individual evolution of a model agent, one trial per step.

The step/reset shell, budget bookkeeping, shared observation pieces and reward plumbing
live in :class:`~agenticrs.envs.trial_env.TrialEnv`; this module adds AutoTrain's action
space, its second (seconds) budget and its per-family observation features.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from agenticrs.envs.core import Backend, Task, TaskSuite, TrialConfig, TrialResult
from agenticrs.envs.rewards import DEFAULT_WEIGHTS, EpisodeState
from agenticrs.envs.spaces import CLOSED_FORM, DEFAULT_DIMS, FAMILIES, FIDELITIES, SPACES, AutoTrainSpace, Dim
from agenticrs.envs.trial_env import (  # re-exported: the public names of this module since v0
    META_FEATURES,
    OBS_HIGH,
    TrialEnv,
    backend_scale,
    best_known_in_table,
    meta_features,
    render_episode,
)

__all__ = ["AutoTrainEnv", "META_FEATURES", "OBS_HIGH", "best_known_in_table", "meta_features", "task_scale"]


class AutoTrainEnv(TrialEnv):
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

    **Generative opt-in.** ``families=FAMILIES + GENERATIVE_FAMILIES, dims=GENERATIVE_DIMS``
    (:mod:`~agenticrs.envs.spaces`) adds TIGER, LWGR and LWGR-fixed: ``embedding_dim`` and
    ``lr`` widen to them, and ``encoder_layers`` (``decoder_layers`` follows), ``n_instructions``,
    ``strategy`` (frozen / end_to_end) and, for LWGR only, ``constraint`` and ``gates`` are
    added (287 configurations, ``[9, 2 x 12, 2]``). The shipped table does not cover them: use
    ``backend="live"`` on tasks whose items have text. Not registered under its own id (the
    73,728-action lookup table takes about a second to build).

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
    * ``space``: a named space overriding those three (``"v0"`` the default above, ``"v1"`` the
      harder space of ``AutoTrain-v1``, :data:`~agenticrs.envs.spaces.V1_DIMS`).
    * ``store``: a :class:`~agenticrs.envs.knowledge.KnowledgeStore` or the path of its file (JSON-able
      kwargs); every step's trial and decision are recorded, in one transaction, with ``run_id`` and ``agent``.
    * ``render_mode``: ``None`` or ``"ansi"``.

    ## Backend
    ``backend.evaluate(task, config, fidelity, seed)``. Optional backend methods the env uses
    when present: ``task_stats(task) -> dict`` (meta-features without loading data) and
    ``best_known(task, metric) -> float | None`` (the scale). The trial seed is drawn from
    ``np_random`` at reset, so the same reset seed with a table or surrogate backend gives an
    identical episode. A backend exception, and a result that
    :func:`~agenticrs.envs.core.validate_result` rejects (``None``, NaN, infinite or negative
    numbers, wrong types), become a ``failed`` trial with the reason and the failure penalty,
    never a crashed episode, a non-finite reward or an observation outside the space.

    ## Cost per step
    Table: a dictionary lookup (about 0.013 ms of CPU time per step through ``gym.make``, 1.7x
    CartPole-v1's, see ``benchmarks/env_speed.py``). Surrogate: one model prediction. Live: a real training
    run (seconds on the synthetic suite, minutes on real data).

    ## Version History
    * v0: initial version.
    * v1: a harder space (issue 29): EASE joins the families, three choices per dimension
      (embedding 32-128, 1-3 layers, dropout 0-0.5, lr 3e-4 to 3e-3, history 20-100, ItemKNN
      neighbours, EASE L2; the loss four: CE, BCE with 1 or 16 negatives, sampled softmax over
      64) and three fidelities: 1,312 configurations, so the best one differs between datasets.
      Action space ``[7, 3 x 5, 4, 3 x 2, 3]``, observation ``Box(0, 10, (41,))``. Live backend by default (no table is
      shipped); ``space="v1"`` on ``AutoTrain-v0`` is the same env.
    """

    env_name: ClassVar[str] = "autotrain"
    registry_id: ClassVar[str] = "agenticrs/AutoTrain-v0"
    default_weights: ClassVar[Mapping[str, float]] = DEFAULT_WEIGHTS
    seconds_budget: ClassVar[bool] = True

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
        space: str | None = None,
    ):
        if max_seconds is not None and not max_seconds > 0:
            raise ValueError(f"max_seconds must be > 0, got {max_seconds}")
        if space is not None:
            if space not in SPACES:
                raise ValueError(f"unknown AutoTrain space {space!r}; named spaces: {sorted(SPACES)}")
            families, dims, fidelities = SPACES[space]
            if space != "v0":
                self.registry_id = f"agenticrs/AutoTrain-{space}"  # type: ignore[misc]
        self.max_seconds_override = max_seconds
        self._space_args = (families, dims, fidelities)  # read by _space() inside the base __init__
        super().__init__(backend=backend, suite=suite, split=split, tasks=tasks, max_trials=max_trials,
                         reward_weights=reward_weights, metric_scale=metric_scale, cost_scale=cost_scale,
                         obs_mode=obs_mode, backend_kwargs=backend_kwargs, store=store, run_id=run_id,
                         agent=agent, render_mode=render_mode)
        self.agent = agent  # as given: the base replaces an empty agent with env_name

    # ------------------------------------------------------------------ TrialEnv hooks
    def _space(self) -> AutoTrainSpace:  # type: ignore[override]
        sp = AutoTrainSpace(*self._space_args, CLOSED_FORM)
        self._pairs = sp.enumerate()
        self._pair_family = [int(a[0]) for a in sp._canonical_actions]
        # Per family: best validation metric, trials / max_trials (the layout's last slice).
        self.n_result_features = 2 * len(sp.families)  # type: ignore[misc]
        return sp

    def _canonical_actions(self) -> Sequence[np.ndarray]:
        return self.action_space._canonical_actions  # type: ignore[attr-defined]

    def _decode(self, action: Any, state: EpisodeState) -> tuple[int, TrialConfig, float]:
        pid = self.action_space.pair_id(action)  # type: ignore[attr-defined]
        config, fidelity = self._pairs[pid]
        return pid, config, fidelity

    def _new_state(self, task: Task, scale: float, max_trials: int) -> EpisodeState:
        max_seconds = self.max_seconds_override if self.max_seconds_override is not None else task.max_seconds
        return EpisodeState(task, task.metric, scale, max_seconds or self.cost_scale, max_trials, max_seconds)

    def _on_reset(self, state: EpisodeState) -> None:  # type: ignore[override]
        self._family_best = [0.0] * len(self.action_space.families)  # type: ignore[attr-defined]
        self._family_count = [0] * len(self.action_space.families)  # type: ignore[attr-defined]

    def _before_terms(self, result: TrialResult, state: EpisodeState) -> None:  # type: ignore[override]
        fam = self._pair_family[self._pid]
        self._family_count[fam] += 1
        value = result.valid.get(state.metric, math.nan) if result.ok else math.nan
        if value > self._family_best[fam]:  # False for NaN: a trial without the metric
            self._family_best[fam] = value

    def _write_result_features(self, obs: np.ndarray, result: TrialResult, state: EpisodeState) -> None:
        # Only the tried family's two features change: two scalar writes.
        fam = self._pair_family[self._pid]
        j = self._i_result + 2 * fam
        x = self._family_best[fam] / state.scale
        obs[j] = x if x < OBS_HIGH else OBS_HIGH
        obs[j + 1] = self._family_count[fam] / state.max_trials

    def _step_info(self, result: TrialResult, state: EpisodeState, terms: dict[str, float]) -> dict[str, Any]:  # type: ignore[override]
        return {"reward_terms": terms, "result": result, "task": state.task.name}

    def _decision_record(self, result: TrialResult, st: EpisodeState, reward: float) -> dict[str, Any]:  # type: ignore[override]
        return {"config": result.config.to_dict(), "fidelity": result.fidelity, "reward": reward,
                "best": st.best, "terminal": st.terminal}

    def _scale(self, task: Task) -> float | None:
        return task_scale(task, self.backend, self.suite)

    def _live_backend(self, kwargs: dict[str, Any]) -> Backend:
        from agenticrs.envs.backends import make_backend  # lazy: backends may import heavy modules

        return make_backend("live", **kwargs)

    def render(self) -> str | None:
        return render_episode(
            self, "AutoTrainEnv",
            lambda r, st: (f"last: {r.config.model} {r.config.param_dict} @{r.fidelity:g} -> {r.status} "
                           f"{st.metric}={r.valid.get(st.metric, float('nan')):.4f}"),
            lambda st: f"incumbent: {st.incumbent.config.model} {st.incumbent.config.param_dict} {st.metric}={st.best:.4f}",
            live_seconds=True)


def task_scale(task: Task, backend: Any, suite: TaskSuite) -> float | None:
    """The task's best known validation metric, used to normalise metrics and rewards.

    Order: ``backend.best_known(task, metric)``; the backend's own table (``backend.table``,
    table and surrogate backends); the shipped AutoTrain table of the suite, so that live
    episodes are scaled like the table episodes a policy was trained on. ``None`` if unknown.
    """
    return backend_scale(task, backend, "autotrain", suite.name)
