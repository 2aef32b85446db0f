"""``agenticrs/AutoFeature-v0``: the feature agent — which input features a SASRec backbone uses.

With ``backbone="lwgr"`` the same agent chooses the generative backbone's *knowledge* options
instead (none = TIGER, fixed-instruction or soft-instruction world knowledge, encoder strategy,
the fusion constraint and gates); that space is live-only (no shipped table)."""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping

import numpy as np

from agenticrs.envs.backends.registry import register_backend
from agenticrs.envs.core import Backend, Task, TrialConfig, TrialResult
from agenticrs.envs.grid_space import Choice, ConditionalSpace, when
from agenticrs.envs.rewards import EpisodeState, RewardTerm, register_reward_term
from agenticrs.envs.trial_env import TrialEnv, TrialEpisodeState

BACKBONE = "sasrec_features"
FULL_EPOCHS = 8
"""Epochs at fidelity 1.0 (the live backend's ``full_epochs``)."""
BACKBONE_DEFAULTS: Mapping[str, Any] = {"embedding_dim": 32, "layers": 1}
"""Fixed architecture (not evolved here; AutoTrain evolves it), passed as ``train_defaults``-like params."""


def repair_features(values: dict[str, Any]) -> dict[str, Any]:
    """An item needs a representation: with id, text and attributes all off, the id embedding is switched on."""
    if not (values.get("item_id") or values.get("text") or values.get("attributes")):
        return {**values, "item_id": True}
    return values


def canonical_fusion(values: dict[str, Any]) -> dict[str, Any]:
    """With a single item feature there is nothing to fuse: ``fusion`` is canonicalised to ``sum``."""
    n = sum(bool(values.get(k)) for k in ("item_id", "text", "attributes"))
    return {**values, "fusion": "sum"} if n < 2 else values


FEATURE_CHOICES = (
    Choice("item_id", (True, False)),
    Choice("text", (False, True)),
    Choice("attributes", (False, True)),
    Choice("positional", (True, False)),
    Choice("time_gap", (False, True)),
    Choice("max_len", (50, 20)),
    Choice("fusion", ("sum", "concat", "gating")),
)


GENERATIVE_BACKBONE = "lwgr"
GENERATIVE_DEFAULTS: Mapping[str, Any] = {
    "embedding_dim": 64, "encoder_layers": 1, "decoder_layers": 1, "heads": 2, "ff_dim": 128,
    "id_levels": 3, "codebook_size": 32, "text_encoder": "tfidf:dim=64",
}
"""Fixed generative backbone, sized for the embedded suite's few hundred items (a 32-code
codebook per level instead of TIGER's 256)."""
_WITH_KNOWLEDGE = ("soft", "fixed")
KNOWLEDGE_CHOICES = (
    Choice("knowledge", ("soft", "fixed", "none")),
    Choice("strategy", ("frozen", "end_to_end"), when(knowledge=_WITH_KNOWLEDGE)),
    Choice("n_instructions", (4, 8), when(knowledge=("soft",))),
    Choice("constraint", (True, False), when(knowledge=_WITH_KNOWLEDGE)),
    Choice("epsilon", (0.02, 0.1), when(constraint=(True,))),
    Choice("gates", (True, False), when(knowledge=_WITH_KNOWLEDGE)),
    Choice("max_len", (20, 50)),
)
"""LWGR's knowledge options (index 0 = LWGR's defaults): 74 canonical configurations."""
BACKBONES = ("sasrec", "lwgr")


def knowledge_config(config: TrialConfig, defaults: Mapping[str, Any] = GENERATIVE_DEFAULTS) -> TrialConfig:
    """A knowledge-space config -> the model config the live backend trains.

    ``knowledge="none"`` is plain TIGER; ``"fixed"`` / ``"soft"`` is LWGR with that instruction
    type (``instructions``) and the chosen fusion options.
    """
    params = dict(config.param_dict)
    knowledge = params.pop("knowledge")
    if knowledge == "none":
        return TrialConfig.make("tiger", **{**defaults, **params})
    return TrialConfig.make("lwgr", **{**defaults, **params, "instructions": knowledge})


@register_backend("autofeature-live", overwrite=True)
def autofeature_live_backend(**kwargs: Any) -> Backend:
    """AutoFeature's live backend: the AutoTrain LiveBackend training ``sasrec_features`` with the
    fixed backbone (:data:`BACKBONE_DEFAULTS`) and ``full_epochs=8``; Ray works as for AutoTrain
    (``use_ray``, ``ray_address``). ``agenticrs build-table --env agenticrs/AutoFeature-v0
    --backend autofeature-live`` builds the shipped table with it.

    ``backbone="lwgr"``: configs of :data:`KNOWLEDGE_CHOICES`, trained as TIGER / LWGR by
    :func:`knowledge_config` on the fixed :data:`GENERATIVE_DEFAULTS` backbone.
    ``backbone_params``: overrides of the fixed backbone's parameters (either backbone).
    """
    from agenticrs.envs.backends.live import LiveBackend

    backbone = kwargs.pop("backbone", "sasrec")
    if backbone not in BACKBONES:
        raise ValueError(f"autofeature-live: backbone must be one of {BACKBONES}, got {backbone!r}")
    overrides = dict(kwargs.pop("backbone_params", None) or {})
    kwargs.setdefault("full_epochs", FULL_EPOCHS)
    kwargs.setdefault("agent", "autofeature")
    if backbone == "lwgr":
        params = {**GENERATIVE_DEFAULTS, **overrides}
        return _FixedBackbone(LiveBackend(**kwargs), params, resolve=functools.partial(knowledge_config, defaults=params))
    return _FixedBackbone(LiveBackend(**kwargs), {**BACKBONE_DEFAULTS, **overrides})


@register_reward_term("size")
class ModelSize(RewardTerm):
    """Minus the trial's parameter count / the env's ``param_scale`` (feature tables cost memory)."""

    def update(self, result: TrialResult, state: EpisodeState) -> float:
        scale = getattr(state, "extra", {}).get("param_scale", 1e6)
        return -float(result.cost.get("params", 0.0)) / scale


class AutoFeatureEnv(TrialEnv):
    """Choose the input features of a SASRec backbone, one feature set (a training run) per step.

    ## Description
    The *AutoFeature* evolution agent: it analyses the task's data (text and attribute
    coverage, sequence-length distribution, in the observation) and decides which features
    the backbone (:class:`~agenticrs.recsys.models.sasrec_features.SASRecFeatures`) reads and
    how side information is fused. Feature sets that do worse than the current best (the
    incumbent feature set) are recorded as *negative results* in the KnowledgeStore.

    ## Action Space
    ``MultiDiscrete([2, 2, 2, 2, 2, 2, 3])``:

    | # | name | choices (index 0 first) |
    |---|------|-------------------------|
    | 0 | item_id | on, off (learned id embedding) |
    | 1 | text | off, on (item-text TF-IDF + SVD embedding, projected) |
    | 2 | attributes | off, on (mean of attribute embeddings) |
    | 3 | positional | on, off |
    | 4 | time_gap | off, on (log-bucketed gap embedding; no information without timestamps) |
    | 5 | max_len | 50, 20 (history length) |
    | 6 | fusion | sum (none), concat, gating — canonicalised to sum with a single item feature |

    120 canonical feature sets. *Invalid*: no item representation at all (id, text and
    attributes off) is repaired to ``item_id = on``, ``info["repaired"]`` is set and the
    ``invalid`` term is -1. ``action_masks()`` is the union mask (all true: each choice is
    valid in some combination); ``action_space.mask({"item_id": False, "text": False})`` the
    conditional one. Bad actions raise ``ValueError``, state untouched. Backbone fixed:
    ``embedding_dim=32, layers=1, loss=ce``, 8 epochs.

    ## Observation Space
    ``Box(0, 10, (26,), float32)``: AutoTrain's 7 task meta-features (text coverage among them),
    attribute coverage, log1p(median length)/5, mean/median length ratio/2, budget (2),
    incumbent (2), last trial (ok, failed, validation NDCG@10 / scale, log1p(seconds)/10),
    the last canonical action (7), and log1p(last params)/20. ``obs_mode="dict"`` adds
    ``action_mask``.

    ## Rewards
    Default weights ``inner 1, cost 0.1, size 0.1, failure 0.1, invalid 0.1, outer 1``:
    ``inner`` = validation improvement over the incumbent feature set / scale, ``cost`` =
    -training seconds / ``cost_scale`` (feature computation is part of training), ``size`` =
    -params / ``param_scale`` (1e6), ``failure``, ``invalid``, ``outer`` = the final incumbent's
    test NDCG@10 / scale on the last step. Every term is in ``info["reward_terms"]``.

    ## Starting State / Episode End
    As AutoTrain; terminated after ``max_trials`` (default the task's, 20) feature sets.

    ## Arguments
    Those of :class:`~agenticrs.envs.trial_env.TrialEnv` (``backend``, ``suite``, ``split``,
    ``tasks``, ``max_trials``, ``reward_weights``, ``metric_scale``, ``cost_scale``,
    ``obs_mode``, ``backend_kwargs``, ``store``, ``run_id``, ``agent``, ``render_mode``),
    ``param_scale`` and ``backbone``.

    **Generative backbone** (``backbone="lwgr"``, live only): the actions choose the world
    knowledge of a fixed TIGER/LWGR backbone (:data:`GENERATIVE_DEFAULTS`) instead --
    ``MultiDiscrete([3, 2, 2, 2, 2, 2, 2])`` = knowledge (soft instructions, fixed template,
    none = plain TIGER), strategy (frozen encoder, end to end; with knowledge), n_instructions
    (4, 8; soft), constraint (on, off; with knowledge), epsilon (0.02, 0.1; constraint on),
    gates (on, off; with knowledge), max_len (20, 50): 74 canonical configurations; inactive
    choices are canonicalised, never invalid. Its table name is ``autofeature_lwgr``.

    ## Backend
    *live*: the AutoTrain :class:`~agenticrs.envs.backends.live.LiveBackend` (model
    ``sasrec_features``; worker isolation, timeouts, failures, warm starts) with
    ``full_epochs=8``. *table* / *surrogate*: ``autofeature__{suite}.jsonl.gz``.

    ## Cost per step
    Table: a dict lookup, about 0.015 ms of CPU time (``benchmarks/env_speed.py``). Live: one
    SASRec training run (seconds on the synthetic suite).

    ## Version History
    * v0: initial version.
    """

    env_name = "autofeature"
    default_weights = {"inner": 1.0, "cost": 0.1, "size": 0.1, "failure": 0.1, "invalid": 0.1, "outer": 1.0}
    n_task_features = 3
    n_result_features = 1

    def __init__(self, *args: Any, param_scale: float = 1e6, backbone: str = "sasrec", **kwargs: Any):
        if not param_scale > 0:
            raise ValueError(f"param_scale must be > 0, got {param_scale}")
        if backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {BACKBONES}, got {backbone!r}")
        self.param_scale, self.backbone = float(param_scale), backbone
        if backbone == "lwgr":
            self.env_name = "autofeature_lwgr"  # its own table name: the shipped table is SASRec's
        super().__init__(*args, **kwargs)

    def _space(self) -> ConditionalSpace:
        if self.backbone == "lwgr":
            return ConditionalSpace(GENERATIVE_BACKBONE, KNOWLEDGE_CHOICES)
        return ConditionalSpace(BACKBONE, FEATURE_CHOICES, repair=repair_features, canonicalize=canonical_fusion)

    def _live_backend(self, kwargs: dict[str, Any]) -> Backend:
        return autofeature_live_backend(**{"env": self._env_id(), "backbone": self.backbone, **kwargs})

    def _task_features(self, task: Task, stats: Mapping[str, float]) -> np.ndarray:
        median = max(stats.get("median_length", 0.0), 1e-9)
        return np.asarray([stats.get("attribute_coverage", 0.0), np.log1p(median) / 5.0,
                           stats.get("mean_length", 0.0) / median / 2.0], dtype=np.float32)

    def _on_reset(self, state: TrialEpisodeState) -> None:
        state.extra["param_scale"] = self.param_scale

    def _result_features(self, result: TrialResult, state: TrialEpisodeState) -> np.ndarray:
        return np.asarray([np.log1p(result.cost.get("params", 0.0)) / 20.0], dtype=np.float32)

    def _decision_info(self, result: TrialResult, state: TrialEpisodeState) -> dict[str, Any]:
        """A feature set that fails or scores below the incumbent before it is a negative result."""
        value = result.valid.get(state.metric) if result.ok else None
        if state.trials > 1 and (value is None or value < state.prev_best):
            return {"negative_result": True, "baseline": state.prev_best,
                    "delta": None if value is None else value - state.prev_best}
        return {"negative_result": False}


class _FixedBackbone:
    """Adds the fixed backbone architecture to every config before the live backend trains it
    (``resolve``: a function that maps the env's config to the trained one instead).

    The table stores the env's own configs (feature switches only), so results are keyed the
    same in every mode.
    """

    kind = "live"

    def __init__(self, inner: Any, params: Mapping[str, Any] = BACKBONE_DEFAULTS,
                 resolve: Callable[[TrialConfig], TrialConfig] | None = None):
        self.inner, self.params, self.resolve = inner, dict(params), resolve

    def evaluate(self, task: Task, config: Any, fidelity: float, seed: int) -> TrialResult:
        import dataclasses

        if self.resolve is not None:
            full = self.resolve(config)
        else:
            full = TrialConfig.make(config.model, **{**self.params, **config.param_dict})
        return dataclasses.replace(self.inner.evaluate(task, full, fidelity, seed), config=config)

    def clone(self) -> "_FixedBackbone":
        return _FixedBackbone(self.inner.clone(), self.params, self.resolve)

    def close(self) -> None:
        self.inner.close()
