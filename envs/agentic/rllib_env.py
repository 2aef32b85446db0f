"""The RLlib face of ``AgenticRS-v0`` (new API stack ``MultiAgentEnv``), registered as ``agenticrs/AgenticRS-v0``."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from gymnasium import spaces
from ray.rllib.env.multi_agent_env import MultiAgentEnv

from agenticrs.envs.agentic.core import AgenticCore


class AgenticRSEnv(MultiAgentEnv):
    """Four agents (model, feature, serving, composer) co-evolve one pipeline, one simultaneous round per step.

    ## Description
    The AgenticRS setting: the modules of a recall -> rank pipeline are *agents*, each with its
    own decision space and local (*inner*) reward, coupled to a global (*outer*) reward -- the
    business objective of the whole pipeline. One task (a dataset) per episode. Each round every
    agent proposes its part, the pipeline is assembled from the four current parts and
    evaluated, the result is A/B-tested against the incumbent (production) pipeline, and every
    agent observes the outcome. A round whose pipeline wins its A/B (CI above 0) within the SLA
    *ships* and becomes the new incumbent. A shared knowledge summary (best known
    configuration per module on the task, negative results) is the agents' coordination layer.

    ## Agents and Action Spaces
    ``possible_agents = ["model", "feature", "serving", "composer"]``; each acts in a
    ``MultiDiscrete`` (a :class:`~agenticrs.envs.grid_space.ConditionalSpace`), index 0 = the
    agent's default (see :mod:`~agenticrs.envs.agentic.spaces`):

    | agent | space | dimensions | subset of |
    |-------|-------|------------|-----------|
    | ``model`` | ``[2, 2]`` | ranker embedding_dim (32, 64), layers (1, 2) | AutoTrain (SASRec family) |
    | ``feature`` | ``[2, 2]`` | ranker item text (off, on), attributes (off, on) | AutoFeature |
    | ``serving`` | ``[3, 3, 2]`` | precision (fp32, fp16, int8), batch_size (16, 1, 64), refresh (0, 5) | AutoPerf |
    | ``composer`` | ``[4, 5, 2, 2, 2]`` | recall_a (itemknn, pop, bprmf, sasrec), recall_b (none + the four), quota (100, 50), merge (rrf, round_robin; with recall_b), ranker (on, off) | Compose |

    The ranker is a ``SASRecFeatures`` (ce loss, max_len 50, 8 epochs) whose architecture the
    model agent and whose inputs the feature agent choose; the serving agent decides how it is
    served; the composer which recall agents (fixed architectures, as Compose) feed it and
    whether it runs. ``recall_b == recall_a`` is repaired to ``none`` (``info["repaired"]``,
    ``inner/invalid`` term). Action masks: ``infos[agent]["action_mask"]`` in the PettingZoo /
    Gymnasium form (a tuple of one int8 mask per dimension: ``action_space(agent).sample(mask=...)``)
    and, with ``obs_mode="dict"``, in the observation as the union mask in the masking
    RLModule's layout (``[sum(nvec)]`` floats). Every value of these spaces is valid in *some* combination, so
    the union masks are all ones; the one invalid combination is repaired as above, and
    ``action_space(agent).mask({"recall_a": "pop"})`` gives the conditional mask (here:
    ``recall_b = pop`` masked) for autoregressive policies. Custom spaces with unusable values
    get them masked.

    **Bad joint actions** raise ``ValueError`` naming the problem and leave the episode as it
    was: not a dict, an unknown agent key, a missing agent (unless
    ``missing_action="keep"``: the agent's part stays), a wrong shape or dtype, NaN or an
    out-of-range value. Stepping before ``reset`` or after the end raises ``RuntimeError``.

    ## Observation Space (per agent)
    ``Box(0, 10, (n,), float32)`` with ``n = 42 + 2 * len(nvec)`` (46 model / feature, 48
    serving, 52 composer), every feature clipped to ``[0, 10]``:

    | slice | features |
    |-------|----------|
    | 0-6 | task meta-features (as AutoTrain) |
    | 7-10 | agent id one-hot (model, feature, serving, composer) |
    | 11-12 | round / max_rounds, rounds left / max_rounds |
    | own (len(nvec) + 4) | own canonical action (each index / (n - 1)), own module metric, own best, own last inner reward (0.5 + 0.5 clip(x, -1, 1)), own action repaired |
    | recent (9) | last 3 rounds: pipeline valid NDCG@10 / scale, 0.5 + 0.5 clip(outer), shipped |
    | global (8) | pipeline valid NDCG@10 / scale, incumbent's, p99 / SLA, memory / budget, A/B relative lift (squashed), CI above 0, CI below 0, the multiplier |
    | knowledge (8 + len(nvec)) | best known metric of each module on this task, log1p(negative results)/5 of each module, own best known configuration (normalised action) |

    Module metrics: ``model`` / ``feature``: the ranker's standalone validation NDCG@10 /
    the default ranker's; ``composer``: the pipeline's validation NDCG@10 / the default
    pipeline's; ``serving``: (p99 / SLA + memory / budget) / 2 (lower is better; 0 below the
    quality floor). ``obs_mode="dict"``: ``Dict(observations=<Box>, action_mask=Box(0, 1,
    (sum(nvec),)))``. ``state()`` (and ``state_space``, ``Box(0, 10, (46,))``): task, round,
    every agent's action, global, recent and knowledge features, for a centralised critic.

    ## Rewards
    Inner terms per agent (``inner/*``, all relative to the best so far in the episode, which
    starts at the default pipeline's):

    * ``model``, ``feature``: ``improvement`` = max(0, ranker valid NDCG@10 - best) / default
      ranker's (both own the ranker);
    * ``serving``: ``improvement`` of -(p99 / SLA + memory / budget) / 2 when the pipeline's
      validation NDCG@10 is at least ``quality_floor`` x the same pipeline's at default
      serving; ``floor`` = -``floor_penalty`` below it;
    * ``composer``: ``improvement`` = max(0, pipeline valid NDCG@10 - best) / default pipeline's;
    * every agent: ``invalid`` (-``invalid_penalty`` for a repaired action), ``failure`` (-1
      for a failed live pipeline).

    Outer objective ``O = ab + sla`` (shared): ``ab`` = relative click lift of one simulated
    A/B period (:func:`~agenticrs.recsys.serving.ab.simulate_ab`, ``ab_share`` of
    ``ab_requests`` requests, position-based clicks on the test split's ``pos@1..10``) of the
    round's pipeline against the incumbent; ``sla`` = -``sla_weight`` x (max(0, p99 /
    ``latency_sla_ms`` - 1) + max(0, memory / ``memory_budget_mb`` - 1)).

    Coupling (``coupling``): ``inner``, ``outer``, ``layered`` (inner + ``outer_weight`` x O),
    ``lagrangian`` (inner + lambda (O - ``outer_target``), lambda by projected dual ascent:
    ``lambda <- clip(lambda - dual_lr (mean O - target), 0, lambda_max)`` at every unseeded
    reset (``dual_every="episode"``) or every round (``"round"``); a seeded reset restarts it
    at ``lambda_init`` unless ``options={"keep_multiplier": True}``; ``set_multiplier`` lets a
    callback synchronise env runners), ``difference`` (O - O with the agent's part at its
    default, common random numbers). See :mod:`~agenticrs.envs.agentic.rewards`.

    ``infos[agent]``: ``reward_terms`` (summing exactly to the reward), ``rewards_by_mode``
    (every coupling's reward this round, with ``report_all_modes``), ``inner``, ``outer``,
    ``outer_terms``, ``counterfactual_outer``, ``multiplier``, ``pipeline`` (status, valid /
    test NDCG@10, ranker NDCG@10, p99_ms, memory_mb, train_seconds), ``ab`` (lift, ci_low,
    ci_high, revenue_lift), ``shipped``, ``negative_result``, ``repaired``, ``action_mask``,
    ``task``, ``round``.

    ## Starting State
    ``reset(seed=..., options={"task": name_or_Task})`` (else a task of ``split`` drawn with
    the env's RNG). Every agent starts at its default; that pipeline is evaluated (round 0) and
    is the incumbent. Options ``keep_multiplier`` / ``keep_knowledge`` keep them across a seeded
    reset. With ``store`` (a KnowledgeStore), the knowledge summary is read from it at reset and
    every round is recorded (the pipeline as a trial, one decision per agent).

    ## Episode End
    All agents terminate after ``max_rounds`` rounds (default 10). Never truncated.

    ## Arguments
    ``backend`` (``"cached"`` default, ``"live"``, or an object with ``evaluate(task, joint,
    seed)``), ``backend_kwargs``, ``suite`` (``"synthetic"``), ``split``, ``tasks``,
    ``max_rounds`` (10), ``coupling`` (``"layered"``), ``outer_weight`` (1.0),
    ``outer_target`` (0.0), ``dual_lr`` (0.5), ``dual_every`` (``"episode"``), ``lambda_init``
    (1.0), ``lambda_max`` (100), ``latency_sla_ms`` (30), ``memory_budget_mb`` (0.6),
    ``sla_weight`` (1.0), ``quality_floor`` (0.95), ``floor_penalty`` (0.1),
    ``invalid_penalty`` (0.1), ``ab_share`` (0.5), ``ab_requests`` (20,000), ``obs_mode``
    (``"flat"`` / ``"dict"``), ``missing_action`` (``"error"`` / ``"keep"``),
    ``report_all_modes`` (True), ``store``, ``run_id``. RLlib passes them as ``env_config``.

    ## Backend
    ``cached`` (default): components trained once per (task, training seed) and their per-user
    statistics cached; the pipeline is assembled with numpy at each step
    (:mod:`~agenticrs.envs.agentic.backend` says exactly what is cached and when a cache is
    built). The embedded ``synthetic`` suite's cache (training seed 0) ships with the package.
    ``live``: every pipeline trained and measured in an isolated worker (timeouts, failures).

    ## Cost per step
    Cached: one numpy assembly per distinct pipeline (memoised), one A/B draw, and with
    ``report_all_modes`` or ``difference`` up to four counterfactuals: about 250 us of CPU per
    round, 16,000 agent-steps per CPU second; 7,000 agent-steps/s of wall time through this
    RLlib face on the shared 2-core machine at load average 8 (``python -m
    agenticrs.benchmarks.agentic_speed``; ``benchmarks/results/agentic_speed.json``).
    Live: training the pipeline's components (seconds on the synthetic suite).

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any):
        super().__init__()
        kwargs = {**dict(config or {}), **kwargs}  # RLlib passes an EnvContext (a dict); gym.make kwargs
        self.render_mode = kwargs.pop("render_mode", None)
        self.core = AgenticCore(**kwargs)
        self.possible_agents = list(self.core.possible_agents)
        self.agents = list(self.possible_agents)
        self.observation_spaces = dict(self.core.observation_spaces)
        self.action_spaces = dict(self.core.action_spaces)
        # Old-API-stack and Gymnasium tooling read these: the per-agent spaces as Dict spaces.
        self.observation_space = spaces.Dict(self.observation_spaces)
        self.action_space = spaces.Dict(self.action_spaces)
        self.state_space = self.core.state_space

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, infos = self.core.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        return obs, infos

    def step(self, action_dict: Mapping[str, Any]):
        obs, rewards, terms, truncs, infos = self.core.step(action_dict)
        done = self.core.done
        terms["__all__"] = done
        truncs["__all__"] = False
        if done:
            self.agents = []
        return obs, rewards, terms, truncs, infos

    def state(self) -> np.ndarray:
        return self.core.state()

    def set_multiplier(self, value: float) -> None:
        self.core.set_multiplier(value)

    def render(self) -> str | None:
        return self.core.render() if self.render_mode == "ansi" else None

    def close(self) -> None:
        self.core.close()
