"""The four agents of ``agenticrs/AgenticRS-v0`` and their action spaces.

Each agent owns one part of one pipeline and acts in a
:class:`~agenticrs.envs.grid_space.ConditionalSpace` (a ``MultiDiscrete`` with a decoder,
masks and repairs), a documented subset of the single-agent env it corresponds to:

| agent | single-agent env | dimensions (index 0 = the agent's default) |
|-------|------------------|--------------------------------------------|
| ``model`` | AutoTrain | embedding_dim (32, 64), layers (1, 2) |
| ``feature`` | AutoFeature | text (off, on), attributes (off, on); item id always on |
| ``serving`` | AutoPerf | precision (fp32, fp16, int8), batch_size (16, 1, 64), refresh (0, 5) |
| ``composer`` | Compose | recall_a (itemknn, pop, bprmf, sasrec), recall_b (none, + the four), quota (100, 50), merge (rrf, round_robin; with recall_b), ranker (on, off) |

``model`` and ``feature`` together define the ranking agent's recommender (a
:class:`~agenticrs.recsys.models.sasrec_features.SASRecFeatures`); ``serving`` how that ranker
is served (item-table precision, request batching, nearline user-state refresh); ``composer``
which recall agents feed it and whether it runs at all.

A :class:`JointConfig` is the four agents' active values: the pipeline a round evaluates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from agenticrs.envs.grid_space import Choice, ConditionalSpace, when

AGENTS = ("model", "feature", "serving", "composer")
"""Agent ids, in the order they appear in joint observations and the state."""

RECALL_SOURCES = ("itemknn", "pop", "bprmf", "sasrec")
"""Fixed-architecture recall components (Compose's :data:`~agenticrs.envs.compose.COMPONENT_PARAMS`)."""

MODEL_CHOICES = (Choice("embedding_dim", (32, 64)), Choice("layers", (1, 2)))
FEATURE_CHOICES = (Choice("text", (False, True)), Choice("attributes", (False, True)))
SERVING_CHOICES = (
    Choice("precision", ("fp32", "fp16", "int8")),
    Choice("batch_size", (16, 1, 64)),
    Choice("refresh", (0, 5)),
)
COMPOSER_CHOICES = (
    Choice("recall_a", RECALL_SOURCES),
    Choice("recall_b", ("none",) + RECALL_SOURCES),
    Choice("quota", (100, 50)),
    Choice("merge", ("rrf", "round_robin"), when(recall_b=RECALL_SOURCES)),
    Choice("ranker", (True, False)),
)


def repair_recall(values: dict[str, Any]) -> dict[str, Any]:
    """A second recall agent identical to the first is dropped (``recall_b = none``), as in Compose."""
    if values.get("recall_b") == values.get("recall_a"):
        return {**values, "recall_b": "none"}
    return values


def agent_spaces() -> dict[str, ConditionalSpace]:
    """A fresh ``{agent: ConditionalSpace}`` (each env owns its own, so seeding one never moves another)."""
    return {
        "model": ConditionalSpace("ranker", MODEL_CHOICES),
        "feature": ConditionalSpace("ranker", FEATURE_CHOICES),
        "serving": ConditionalSpace("serving", SERVING_CHOICES),
        "composer": ConditionalSpace("pipeline", COMPOSER_CHOICES, repair=repair_recall),
    }


def _frozen(values: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(values.items()))


@dataclass(frozen=True)
class JointConfig:
    """The pipeline the four agents' current parts assemble (each a sorted ``(name, value)`` tuple).

    ``JointConfig.make(model={...}, ...)`` fills missing values with the agents' defaults and
    checks every value, so search baselines can build one without the env.
    """

    model: tuple[tuple[str, Any], ...]
    feature: tuple[tuple[str, Any], ...]
    serving: tuple[tuple[str, Any], ...]
    composer: tuple[tuple[str, Any], ...]

    @classmethod
    def make(cls, **parts: Mapping[str, Any]) -> "JointConfig":
        unknown = set(parts) - set(AGENTS)
        if unknown:
            raise ValueError(f"JointConfig: unknown agent(s) {sorted(unknown)}; agents are {AGENTS}")
        spaces = _SPACES()
        out = {}
        for agent in AGENTS:
            sp = spaces[agent]
            given = dict(parts.get(agent) or {})
            bad = set(given) - {c.name for c in sp.choices}
            if bad:
                raise ValueError(f"JointConfig: {agent} has no choice(s) {sorted(bad)}; "
                                 f"choices: {[c.name for c in sp.choices]}")
            pid = sp.lookup(sp.encode(given))[0]  # encode raises for a value outside the choices
            values = sp.values(pid)
            if agent == "composer":
                values = repair_recall(values)
            out[agent] = _frozen(values)
        return cls(**out)

    @classmethod
    def default(cls) -> "JointConfig":
        """Every agent at index 0 of every choice (the incumbent pipeline of a fresh episode)."""
        return cls.make()

    def part(self, agent: str) -> dict[str, Any]:
        """The active values of one agent's part."""
        return dict(getattr(self, agent))

    def replace(self, agent: str, values: Mapping[str, Any]) -> "JointConfig":
        """A copy with ``agent``'s part set to ``values`` (active values, as ``ConditionalSpace.values``)."""
        return JointConfig(**{a: (_frozen(values) if a == agent else getattr(self, a)) for a in AGENTS})

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {a: self.part(a) for a in AGENTS}

    @classmethod
    def from_dict(cls, d: Mapping[str, Mapping[str, Any]]) -> "JointConfig":
        return cls.make(**{a: dict(v) for a, v in d.items()})

    def ranker_params(self) -> dict[str, Any]:
        """The ranking agent's ``SASRecFeatures`` overrides (``model`` and ``feature`` parts)."""
        return {**self.part("model"), **self.part("feature")}


_SPACE_CACHE: list[dict[str, ConditionalSpace]] = []


def _SPACES() -> dict[str, ConditionalSpace]:
    """Module-level spaces used only to decode and validate (never sampled)."""
    if not _SPACE_CACHE:
        _SPACE_CACHE.append(agent_spaces())
    return _SPACE_CACHE[0]


def default_actions() -> dict[str, np.ndarray]:
    """``{agent: canonical action of its default}`` (all zeros)."""
    return {a: np.zeros(len(sp.nvec), dtype=np.int64) for a, sp in _SPACES().items()}
