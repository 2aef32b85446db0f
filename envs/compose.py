"""``agenticrs/Compose-v0``: compositional evolution — which agents form the pipeline, wired how."""

from __future__ import annotations

import time
from typing import Any, Mapping

import numpy as np

from agenticrs.envs.backends.registry import register_backend
from agenticrs.envs.core import Backend, Task, TrialConfig, TrialResult
from agenticrs.envs.grid_space import Choice, ConditionalSpace, when
from agenticrs.envs.rewards import EpisodeState, RewardTerm, register_reward_term
from agenticrs.envs.trial_env import TrialEnv, TrialEpisodeState

RECALL = ("pop", "itemknn", "bprmf", "sasrec")
RANKERS = ("none", "bprmf", "sasrec")
FULL_EPOCHS = 10
"""Epochs of a trainable component at fidelity 1.0."""
COMPONENT_PARAMS: Mapping[str, Mapping[str, Any]] = {
    "pop": {}, "itemknn": {}, "bprmf": {"embedding_dim": 64}, "sasrec": {"loss": "ce", "embedding_dim": 64},
}
"""Fixed architecture of each component (AutoTrain evolves those; Compose evolves the wiring)."""


def repair_wiring(values: dict[str, Any]) -> dict[str, Any]:
    """A second recall agent identical to the first is dropped (``recall_b = none``)."""
    if values.get("recall_b") == values.get("recall_a"):
        return {**values, "recall_b": "none"}
    return values


COMPOSE_CHOICES = (
    Choice("recall_a", RECALL),
    Choice("recall_b", ("none",) + RECALL),
    Choice("quota", (50, 100)),
    Choice("merge", ("rrf", "round_robin"), when(recall_b=RECALL)),
    Choice("ranker", RANKERS),
    Choice("rerank", ("none", "mmr")),
    Choice("mmr_weight", (0.8, 0.5), when(rerank=("mmr",))),
    Choice("mmr_sim", ("model", "text"), when(rerank=("mmr",))),
)


def pipeline_config(params: Mapping[str, Any], fidelity: float = 1.0, full_epochs: int = FULL_EPOCHS) -> Any:
    """A Compose ``TrialConfig``'s params -> :class:`~agenticrs.recsys.pipeline.PipelineConfig`."""
    from agenticrs.recsys.pipeline import ComponentSpec, PipelineConfig, RecallSpec

    epochs = max(1, int(round(fidelity * full_epochs)))

    def comp(name: str) -> ComponentSpec:
        return ComponentSpec.make(name, epochs=epochs, **COMPONENT_PARAMS[name])

    quota = int(params["quota"])
    recall = [RecallSpec(comp(params["recall_a"]), quota)]
    if params.get("recall_b", "none") != "none":
        recall.append(RecallSpec(comp(params["recall_b"]), quota))
    ranker = params.get("ranker", "none")
    return PipelineConfig(
        recall=tuple(recall), merge=params.get("merge", "rrf"), candidates=100,
        rank=comp(ranker) if ranker != "none" else None, rerank=params.get("rerank", "none"),
        mmr_weight=float(params.get("mmr_weight", 1.0)), mmr_embedding=params.get("mmr_sim", "model"),
        list_size=50,
    )


def run_compose_trial(task: Task, config: TrialConfig, fidelity: float, seed: int, *, full_epochs: int = FULL_EPOCHS,
                      device: str = "cpu", eval_batch_size: int = 256) -> TrialResult:
    """Live trial: build the pipeline (components cached per process), evaluate on valid and test.

    Cost: ``seconds`` = component training (charged whether or not it came from the cache, so
    results do not depend on trial order) + both evaluations; ``inference_ms_per_user`` and
    ``p99_ms_per_user`` of the test run; ``params`` of all components.
    """
    from agenticrs.envs.backends.function import task_data
    from agenticrs.recsys.pipeline import build_pipeline, evaluate_pipeline

    dataset, split = task_data(task)
    pipe = build_pipeline(dataset, split, pipeline_config(config.param_dict, fidelity, full_epochs), seed, device)
    start = time.perf_counter()
    valid = evaluate_pipeline(pipe, split.valid, dataset, batch_size=eval_batch_size)
    test = evaluate_pipeline(pipe, split.test, dataset, batch_size=eval_batch_size)
    cost = {"seconds": pipe.train_seconds + time.perf_counter() - start, "train_seconds": pipe.train_seconds,
            "params": float(pipe.params), "inference_ms_per_user": test.latency_ms_per_user,
            "p99_ms_per_user": test.p99_ms_per_user}
    return TrialResult(config, task.name, fidelity, seed, "ok", valid.metrics, test.metrics, cost, "", "live")


@register_backend("compose-live", overwrite=True)
def compose_live_backend(**kwargs: Any) -> Backend:
    """Compose's live backend: a FunctionBackend running :func:`run_compose_trial`.

    ``full_epochs``, ``device`` and ``eval_batch_size`` go to the trial function, the rest to
    the FunctionBackend (``timeout_s``, ``isolate``, ``store``...). ``agenticrs build-table
    --env agenticrs/Compose-v0 --backend compose-live`` builds the shipped table with it.
    """
    from agenticrs.envs.backends.function import FunctionBackend

    fn_kwargs = {k: kwargs.pop(k) for k in ("full_epochs", "device", "eval_batch_size") if k in kwargs}
    kwargs.setdefault("agent", "compose")
    return FunctionBackend("agenticrs.envs.compose:run_compose_trial", fn_kwargs=fn_kwargs, **kwargs)


# ---------------------------------------------------------------------- reward terms
class _TerminalIncumbent(RewardTerm):
    """At the episode's last step, a figure of the final incumbent (chosen on validation NDCG); else 0."""

    def figure(self, result: TrialResult, state: EpisodeState) -> float:
        raise NotImplementedError

    def update(self, result: TrialResult, state: EpisodeState) -> float:
        if not state.terminal or state.incumbent is None:
            return 0.0
        return self.figure(state.incumbent, state)


@register_reward_term("coverage")
class IncumbentCoverage(_TerminalIncumbent):
    """Test catalogue coverage@10 of the final incumbent pipeline (in ``[0, 1]``)."""

    def figure(self, result: TrialResult, state: EpisodeState) -> float:
        return float(result.test.get("coverage@10", 0.0))


@register_reward_term("diversity")
class IncumbentDiversity(_TerminalIncumbent):
    """Test intra-list diversity@10 of the final incumbent pipeline (mean pairwise ``1 - cosine``)."""

    def figure(self, result: TrialResult, state: EpisodeState) -> float:
        return float(result.test.get("diversity@10", 0.0))


@register_reward_term("latency")
class IncumbentLatency(_TerminalIncumbent):
    """Minus the final incumbent's serving latency (ms per user) / the env's ``latency_scale_ms``."""

    def figure(self, result: TrialResult, state: EpisodeState) -> float:
        scale = getattr(state, "extra", {}).get("latency_scale_ms", 1.0)
        return -float(result.cost.get("inference_ms_per_user", 0.0)) / scale


class ComposeEnv(TrialEnv):
    """Select and wire pipeline agents (recall -> merge -> rank -> re-rank), one pipeline per step.

    ## Description
    The compositional-evolution agent of an agentic recommender system: on one task it
    chooses which *agents* make up the pipeline and how they are connected — one or two
    recall agents with a candidate quota, how their candidates are merged, a ranking agent (or
    none), a re-ranking agent (MMR diversity with a weight, or none). The backend runs the
    pipeline end to end (:mod:`agenticrs.recsys.pipeline`) and reports full-ranking-compatible
    validation and test metrics, coverage, diversity and latency.

    ## Action Space
    ``MultiDiscrete([4, 5, 2, 2, 3, 2, 2, 2])`` (a :class:`~agenticrs.envs.grid_space.ConditionalSpace`):

    | # | name | choices (index 0 first) | active when |
    |---|------|-------------------------|-------------|
    | 0 | recall_a | pop, itemknn, bprmf, sasrec | always |
    | 1 | recall_b | none, pop, itemknn, bprmf, sasrec | always |
    | 2 | quota | 50, 100 candidates per recall agent | always |
    | 3 | merge | rrf, round_robin (union cut to 100 candidates) | recall_b != none |
    | 4 | ranker | none, bprmf, sasrec | always |
    | 5 | rerank | none, mmr | always |
    | 6 | mmr_weight | 0.8, 0.5 (relevance weight) | rerank = mmr |
    | 7 | mmr_sim | model (learned item embeddings), text (TF-IDF + SVD) | rerank = mmr |

    Inactive choices are ignored (canonicalised to index 0): 840 canonical pipelines. The one
    *invalid wiring*, ``recall_b == recall_a``, is repaired to ``recall_b = none``,
    ``info["repaired"]`` is set and the ``invalid`` term is -1. ``action_masks()`` is the
    union mask; ``action_space.mask({"recall_a": "pop"})`` the conditional one (masks
    ``recall_b = pop``). Wrong shape, dtype, NaN or range raise ``ValueError``, state untouched.
    Components have fixed architectures (``COMPONENT_PARAMS``), trained for 10 epochs.

    ## Observation Space
    ``Box(0, 10, (28,), float32)``: AutoTrain's 7 task meta-features, attribute coverage,
    log1p(median length)/5, budget (2), incumbent (2), last trial (ok, failed, validation
    NDCG@10 / scale, log1p(live seconds)/10), the last canonical action (8, each / (n - 1)),
    and the last pipeline's validation coverage@10, diversity@10 and log1p(ms per user).
    ``obs_mode="dict"`` adds ``action_mask``.

    ## Rewards
    Weighted sum (``reward_weights``; default ``inner 1, cost 0.1, failure 0.1, invalid 0.1,
    outer 1, coverage 0.1, diversity 0.1, latency 0.1``), every term in ``info["reward_terms"]``:
    ``inner`` (improvement of the best validation NDCG@10 / scale), ``cost`` (-live seconds /
    ``cost_scale``), ``failure``, ``invalid``; on the last step the final incumbent's test
    NDCG@10 / scale (``outer``), test ``coverage``@10, test ``diversity``@10 and ``latency``
    (-ms per user / ``latency_scale_ms``).

    ## Starting State / Episode End
    As AutoTrain: ``reset(options={"task": ...})`` or a drawn task of ``split``; terminated
    after ``max_trials`` (default the task's, 20) pipelines.

    ## Arguments
    ``backend`` (``table`` default, ``surrogate``, ``live``, a registered kind or an instance),
    ``backend_kwargs`` (for live: ``full_epochs``, ``timeout_s``, ``isolate``, ``store``...),
    ``suite``, ``split``, ``tasks``, ``max_trials``, ``reward_weights``, ``metric_scale``,
    ``cost_scale``, ``latency_scale_ms`` (1.0), ``obs_mode``, ``store``, ``run_id``,
    ``agent``, ``render_mode``.

    ## Backend
    *live*: :class:`~agenticrs.envs.backends.function.FunctionBackend` running
    :func:`run_compose_trial` in a worker process (fitted components cached there across
    trials; timeouts, crashes and divergence become failed trials). *table* / *surrogate*:
    the shipped ``compose__{suite}.jsonl.gz`` (built with ``agenticrs build-table``).

    ## Cost per step
    Table: a dict lookup, about 0.02 ms of CPU time (``benchmarks/env_speed.py``). Live:
    evaluating a pipeline (well under a second per 1,000 users on the synthetic suite) plus
    training any component not cached yet (seconds to a minute).

    ## Version History
    * v0: initial version.
    """

    env_name = "compose"
    default_weights = {"inner": 1.0, "cost": 0.1, "failure": 0.1, "invalid": 0.1, "outer": 1.0,
                       "coverage": 0.1, "diversity": 0.1, "latency": 0.1}
    n_task_features = 2
    n_result_features = 3

    def __init__(self, *args: Any, latency_scale_ms: float = 1.0, **kwargs: Any):
        if not latency_scale_ms > 0:
            raise ValueError(f"latency_scale_ms must be > 0, got {latency_scale_ms}")
        self.latency_scale_ms = float(latency_scale_ms)
        super().__init__(*args, **kwargs)

    def _space(self) -> ConditionalSpace:
        return ConditionalSpace("pipeline", COMPOSE_CHOICES, repair=repair_wiring)

    def _live_backend(self, kwargs: dict[str, Any]) -> Backend:
        return compose_live_backend(**{"env": self._env_id(), **kwargs})

    def _task_features(self, task: Task, stats: Mapping[str, float]) -> np.ndarray:
        return np.asarray([stats.get("attribute_coverage", 0.0), np.log1p(stats.get("median_length", 0.0)) / 5.0],
                          dtype=np.float32)

    def _on_reset(self, state: TrialEpisodeState) -> None:
        state.extra["latency_scale_ms"] = self.latency_scale_ms

    def _result_features(self, result: TrialResult, state: TrialEpisodeState) -> np.ndarray:
        if not result.ok:
            return np.zeros(3, dtype=np.float32)
        return np.asarray([result.valid.get("coverage@10", 0.0), result.valid.get("diversity@10", 0.0),
                           np.log1p(result.cost.get("inference_ms_per_user", 0.0))], dtype=np.float32)
