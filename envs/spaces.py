"""The AutoTrain action space: one ``MultiDiscrete`` action = one recommender configuration.

Every dimension is a list of choices. A dimension that does not apply to the chosen model
family (``heads`` for GRU4Rec, anything for Pop...) is *ignored and canonicalised*:
:meth:`AutoTrainSpace.decode` treats it as index 0, so every action maps to one of a few
hundred canonical ``(TrialConfig, fidelity)`` pairs and equal configurations get equal keys
(the table backend covers exactly :meth:`AutoTrainSpace.enumerate`).

Decoding is a table lookup (the whole grid is precomputed at construction), because
``env.step`` must stay within a few microseconds for the table backend. The grid is built
once per process and set of constructor arguments
(:func:`~agenticrs.envs.grid_space.cached_tables`), so unpickling a space is cheap.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from gymnasium import spaces

from agenticrs.envs.core import TrialConfig
from agenticrs.envs.grid_space import cached_tables, typed_key

FAMILIES: tuple[str, ...] = ("pop", "itemknn", "bprmf", "gru4rec", "sasrec", "bert4rec")
"""Default model families (registered names in :mod:`agenticrs.recsys.models`)."""

CLOSED_FORM: frozenset[str] = frozenset({"pop", "itemknn", "ease"})
"""Families without a training loop: the fidelity (epochs) does not apply to them.

(``ease`` joined for AutoTrain-v1; it is in no v0 family list, so v0's space is unchanged.)"""


@dataclass(frozen=True)
class Fields:
    """A choice that sets several config fields at once, e.g. ``loss="bce"`` with 16 negatives.

    Attributes:
        label: how the choice is shown (``describe()``, docs).
        fields: ``((field, value), ...)`` written into the configuration.
    """

    label: str
    fields: tuple[tuple[str, Any], ...]

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class Dim:
    """One hyperparameter dimension of the action.

    Attributes:
        name: the model ``Config`` or ``TrainConfig`` field it sets (``embedding_dim``, ``lr``...).
        choices: the values, index 0 is the canonical value used when the dimension does not apply.
        families: the families it applies to.
    """

    name: str
    choices: tuple[Any, ...]
    families: frozenset[str]


DEFAULT_DIMS: tuple[Dim, ...] = (
    Dim("embedding_dim", (32, 64), frozenset({"bprmf", "gru4rec", "sasrec", "bert4rec"})),
    Dim("layers", (1, 2), frozenset({"sasrec", "bert4rec"})),
    Dim("heads", (1, 2), frozenset({"bert4rec"})),
    Dim("dropout", (0.2, 0.5), frozenset({"gru4rec", "sasrec", "bert4rec"})),
    Dim("lr", (1e-3, 3e-3), frozenset({"bprmf", "gru4rec", "sasrec", "bert4rec"})),
    Dim("max_len", (20, 50), frozenset({"itemknn", "gru4rec", "sasrec"})),
    Dim("loss", ("bce", "ce"), frozenset({"sasrec"})),
)
"""Default dimensions: 119 canonical configurations, 235 with fidelities (see ``enumerate``).

Sized so that the shipped table (every pair x 6 tasks x 3 seeds, live) builds in under an
hour on a 2-core machine: SASRec (64 configurations) keeps one head, BERT4Rec (32) its
``max_len`` of 50, GRU4Rec (16) one layer.
"""

GENERATIVE_FAMILIES: tuple[str, ...] = ("tiger", "lwgr", "lwgr_fixed")
"""Opt-in generative families (semantic-id TIGER, LWGR and its fixed-instruction baseline).

Not in :data:`FAMILIES`: they need item text, train far slower than the default families and
are not in the shipped table. Choose them with ``families=FAMILIES + GENERATIVE_FAMILIES,
dims=GENERATIVE_DIMS`` (live backend)."""

_GENERATIVE = frozenset(GENERATIVE_FAMILIES)
_KNOWLEDGE = frozenset({"lwgr", "lwgr_fixed"})

GENERATIVE_ONLY_DIMS: tuple[Dim, ...] = (
    Dim("encoder_layers", (2, 1), _GENERATIVE),  # decoder_layers follows it (DERIVED)
    Dim("n_instructions", (4, 2), _KNOWLEDGE),  # knowledge tokens per user
    Dim("strategy", ("frozen", "end_to_end"), _KNOWLEDGE),
    Dim("constraint", (True, False), frozenset({"lwgr"})),  # lwgr_fixed is the plain-fusion baseline
    Dim("gates", (True, False), frozenset({"lwgr"})),
)
"""The generative architecture and LWGR knowledge options (index 0 = the models' defaults).

Instruction type is the family itself: ``lwgr`` (soft, personalised) or ``lwgr_fixed``
(KAR-style template), which also keeps its plain fusion (no constraint, no gates)."""

_WIDENED: Mapping[str, frozenset[str]] = {"embedding_dim": _GENERATIVE, "lr": _GENERATIVE}
"""Default dimensions that also size / train the generative families."""

GENERATIVE_DIMS: tuple[Dim, ...] = (
    *(Dim(d.name, d.choices, d.families | _WIDENED.get(d.name, frozenset())) for d in DEFAULT_DIMS),
    *GENERATIVE_ONLY_DIMS,
)
"""A superset of :data:`DEFAULT_DIMS` (same choices, ``embedding_dim`` and ``lr`` widened to the
generative families) plus :data:`GENERATIVE_ONLY_DIMS`; dimension names must be unique, hence
one tuple rather than ``DEFAULT_DIMS + ...``. With ``families=FAMILIES`` it gives the default
119 configurations; with ``FAMILIES + GENERATIVE_FAMILIES``, 119 + 8 TIGER + 128 LWGR + 32
LWGR-fixed."""

# ---------------------------------------------------------------------- AutoTrain-v1 (issue 29)
V1_FAMILIES: tuple[str, ...] = ("pop", "itemknn", "ease", "bprmf", "gru4rec", "sasrec", "bert4rec")
"""AutoTrain-v1 families: v0's plus EASE, a closed-form model strong on sparse, short-history data."""

_V1_NEURAL = frozenset({"bprmf", "gru4rec", "sasrec", "bert4rec"})
_V1_SEQ = frozenset({"gru4rec", "sasrec", "bert4rec"})
_V1_TRANSFORMERS = frozenset({"sasrec", "bert4rec"})

V1_DIMS: tuple[Dim, ...] = (
    Dim("embedding_dim", (64, 32, 128), _V1_NEURAL),
    Dim("layers", (2, 1, 3), _V1_TRANSFORMERS),
    Dim("dropout", (0.2, 0.0, 0.5), _V1_SEQ),
    Dim("lr", (1e-3, 3e-4, 3e-3), _V1_NEURAL),
    Dim("max_len", (50, 20, 100), _V1_SEQ),
    Dim("loss", ("ce", Fields("bce-1", (("loss", "bce"), ("n_negatives", 1))),
                 Fields("bce-16", (("loss", "bce"), ("n_negatives", 16))),
                 Fields("ssm-64", (("loss", "sampled_softmax"), ("n_negatives", 64)))), frozenset({"sasrec"})),
    Dim("k_neighbors", (100, 20, 500), frozenset({"itemknn"})),
    Dim("l2", (200.0, 50.0, 1000.0), frozenset({"ease"})),
)
"""AutoTrain-v1 dimensions: three choices each (the loss four), index 0 the model's usual default.

Wider than v0 on every axis (embedding 32-128, 1-3 layers, dropout 0-0.5, lr 3e-4 to 3e-3,
history 20-100, full-softmax CE, BCE with 1 or 16 sampled negatives, or sampled softmax over 64) and with the
closed-form families' own knobs (ItemKNN's neighbourhood, EASE's L2), so that which
family and settings win depends on the data: 1,312 configurations, 3,922 with fidelities,
183,708 raw actions (the lookup table builds in about a second). No table is shipped for
it: use ``backend="live"`` (its registered default)."""

V1_FIDELITIES: tuple[float, ...] = (1.0, 0.5, 0.25)
"""AutoTrain-v1 fidelities: full, half and a quarter of the epochs (v0: full and a quarter)."""

FIDELITIES: tuple[float, ...] = (1.0, 0.25)
"""Training fidelity = fraction of the backend's full epoch budget; index 0 (full) is canonical."""

SPACES: Mapping[str, tuple[tuple[str, ...], tuple[Dim, ...], tuple[float, ...]]] = {
    "v0": (FAMILIES, DEFAULT_DIMS, FIDELITIES),
    "v1": (V1_FAMILIES, V1_DIMS, V1_FIDELITIES),
}
"""Named AutoTrain spaces ``(families, dims, fidelities)``: ``AutoTrainEnv(space="v1")``, one per env version."""

DERIVED: Mapping[str, Mapping[str, str]] = {
    "gru4rec": {"hidden": "embedding_dim"},
    **{f: {"decoder_layers": "encoder_layers"} for f in GENERATIVE_FAMILIES},
}
"""Parameters copied from another one, so one "size" choice sizes the whole model."""


class AutoTrainSpace(spaces.MultiDiscrete):
    """``MultiDiscrete([n_families, *len(dim.choices), n_fidelities])`` with a decoder.

    Dimension order: ``family``, then ``dims`` in order, then ``fidelity``.

    Args:
        families: model family names (index order of the first dimension).
        dims: hyperparameter dimensions (default :data:`DEFAULT_DIMS`).
        fidelities: fractions of the full training budget (index 0 is canonical).
        closed_form: families for which the fidelity does not apply.
        seed: seed of ``sample()``.
    """

    def __init__(
        self,
        families: Sequence[str] = FAMILIES,
        dims: Sequence[Dim] = DEFAULT_DIMS,
        fidelities: Sequence[float] = FIDELITIES,
        closed_form: Iterable[str] = CLOSED_FORM,
        seed: int | np.random.Generator | None = None,
    ):
        self.families = tuple(families)
        self.dims = tuple(dims)
        self.fidelities = tuple(float(f) for f in fidelities)
        self.closed_form = frozenset(closed_form)
        self._check()
        self.names: tuple[str, ...] = ("family", *(d.name for d in self.dims), "fidelity")
        nvec = [len(self.families), *(len(d.choices) for d in self.dims), len(self.fidelities)]
        super().__init__(np.asarray(nvec, dtype=np.int64), dtype=np.int64, seed=seed)
        self._nvec_list: list[int] = nvec
        self._offsets = np.concatenate([[0], np.cumsum(nvec)]).astype(np.int64)
        self._applies_by_family = [self._applies(f) for f in self.families]
        key = typed_key((type(self), self.families, self.dims, self.fidelities, self.closed_form))
        cached_tables(self, key, self._build_tables, ("_pairs", "_pair_index", "_action_index", "_canonical_actions"))

    # ------------------------------------------------------------------ construction
    def _check(self) -> None:
        if not self.families:
            raise ValueError("AutoTrainSpace: families must not be empty")
        if len(set(self.families)) != len(self.families):
            raise ValueError(f"AutoTrainSpace: duplicate families in {self.families}")
        if not self.fidelities or any(not 0.0 < f <= 1.0 for f in self.fidelities):
            raise ValueError(f"AutoTrainSpace: fidelities must lie in (0, 1], got {self.fidelities}")
        names = [d.name for d in self.dims]
        if len(set(names)) != len(names) or {"family", "fidelity"} & set(names):
            raise ValueError(f"AutoTrainSpace: dimension names must be unique and not family/fidelity: {names}")
        for d in self.dims:
            if not d.choices:
                raise ValueError(f"AutoTrainSpace: dimension {d.name!r} has no choices")

    def _applies(self, family: str) -> list[bool]:
        """Per action dimension: does it matter for ``family``? (family itself always does.)"""
        return [True, *(family in d.families for d in self.dims), family not in self.closed_form]

    def _build_tables(self) -> None:
        pairs: list[tuple[TrialConfig, float]] = []
        index: dict[tuple[TrialConfig, float], int] = {}
        canonical_actions: list[np.ndarray] = []
        lut = np.empty(int(np.prod(self._nvec_list)), dtype=np.int64)
        by_canon: dict[tuple[int, ...], int] = {}  # most raw actions share a canonical one: build each config once
        for flat, action in enumerate(itertools.product(*(range(n) for n in self._nvec_list))):
            canon = self._canonical(action)
            pid = by_canon.get(canon)
            if pid is None:
                config, fidelity = self._materialise(canon)
                key = (config, fidelity)
                pid = index.get(key)
                if pid is None:
                    pid = index[key] = len(pairs)
                    pairs.append(key)
                    canonical_actions.append(np.asarray(canon, dtype=np.int64))
                by_canon[canon] = pid
            lut[flat] = pid
        self._pairs = pairs
        self._pair_index = index
        # Raw action tuple -> pair id: one hash lookup per step (validation included: a miss is invalid).
        self._action_index: dict[tuple[int, ...], int] = dict(
            zip(itertools.product(*(range(n) for n in self._nvec_list)), lut.tolist())
        )
        self._canonical_actions = canonical_actions

    def _canonical(self, action: Sequence[int]) -> tuple[int, ...]:
        applies = self._applies_by_family[action[0]]
        return tuple(int(a) if ok else 0 for a, ok in zip(action, applies))

    def _materialise(self, canon: Sequence[int]) -> tuple[TrialConfig, float]:
        family = self.families[canon[0]]
        params: dict[str, Any] = {}
        for d, i, ok in zip(self.dims, canon[1:-1], self._applies(family)[1:-1]):
            if ok:
                choice = d.choices[i]
                params.update(choice.fields if isinstance(choice, Fields) else ((d.name, choice),))
        for target, source in DERIVED.get(family, {}).items():
            if source in params:
                params[target] = params[source]
        return TrialConfig.make(family, **params), self.fidelities[canon[-1]]

    # ------------------------------------------------------------------ public API
    @property
    def n_pairs(self) -> int:
        """Number of canonical ``(config, fidelity)`` pairs (``len()`` keeps MultiDiscrete's meaning)."""
        return len(self._pairs)

    def validate(self, action: Any) -> list[int]:
        """Check an action and return it as a list of Python ints.

        Raises:
            ValueError: wrong shape, non-integer dtype (floats, NaN, bool) or an index out of range,
                naming the dimension.
        """
        arr = np.asarray(action)
        if arr.shape != self.shape:
            raise ValueError(f"action must have shape {self.shape} ({', '.join(self.names)}), got {arr.shape}")
        if arr.dtype.kind not in "iu":
            raise ValueError(
                f"action must be an integer array, got dtype {arr.dtype}"
                + (" containing NaN" if arr.dtype.kind == "f" and np.isnan(arr).any() else "")
            )
        values = arr.tolist()
        for i, (v, n) in enumerate(zip(values, self._nvec_list)):
            if not 0 <= v < n:
                raise ValueError(f"action[{i}] ({self.names[i]}) = {v} is out of range [0, {n})")
        return values

    def pair_id(self, action: Any) -> int:
        """Index into :meth:`enumerate` of the canonical pair ``action`` stands for (validated)."""
        arr = np.asarray(action)
        if arr.shape == self._shape and arr.dtype.kind in "iu":
            # Hot path: one dict lookup; a miss (out of range) falls through to the full check.
            pid = self._action_index.get(tuple(arr.tolist()))
            if pid is not None:
                return pid
        values = self.validate(arr)
        raise AssertionError(f"validated action {values} missing from the lookup table")  # pragma: no cover

    def decode(self, action: Any) -> tuple[TrialConfig, float]:
        """``action -> (TrialConfig, fidelity)``; non-applicable choices are ignored."""
        return self._pairs[self.pair_id(action)]

    def encode(self, config: TrialConfig, fidelity: float = 1.0) -> np.ndarray:
        """The canonical action of ``(config, fidelity)`` (inapplicable dimensions at index 0).

        Raises:
            ValueError: the configuration is not in this space (unknown family, value or field).
        """
        if config.model in self.families and config.model in self.closed_form:
            fidelity = self.fidelities[0]  # fidelity is ignored for closed-form models
        pid = self._pair_index.get((config, float(fidelity)))
        if pid is None:
            raise ValueError(
                f"({config.to_dict()}, fidelity={fidelity}) is not a canonical configuration of this space; "
                f"families {self.families}, fidelities {self.fidelities}, "
                f"dims { {d.name: d.choices for d in self.dims} }"
            )
        return self._canonical_actions[pid].copy()

    def enumerate(self) -> list[tuple[TrialConfig, float]]:
        """Every canonical ``(TrialConfig, fidelity)`` pair, in a fixed order (the table covers them all)."""
        return list(self._pairs)

    def configs(self) -> list[TrialConfig]:
        """Every canonical configuration (fidelity aside), in first-seen order."""
        return list(dict.fromkeys(c for c, _ in self._pairs))

    def mask(self, family: str | int | None = None) -> np.ndarray:
        """Flat ``[sum(nvec)]`` bool action mask (sb3-contrib ``MaskablePPO`` layout).

        With ``family``: the *conditional* mask for that family (the family's own index, and
        only index 0 of every dimension that does not apply to it) — for autoregressive
        policies and search baselines that pick the family first. Without: the union over all
        families (a dimension no family uses keeps only index 0). A ``MultiDiscrete`` policy
        samples its dimensions independently, so the env exposes the union and canonicalises.
        """
        out = np.zeros(int(self._offsets[-1]), dtype=bool)
        fams = range(len(self.families)) if family is None else [self._family_index(family)]
        for f in fams:
            applies = self._applies_by_family[f]
            for i, (ok, n) in enumerate(zip(applies, self._nvec_list)):
                lo = int(self._offsets[i])
                if i == 0:
                    out[lo + f] = True
                elif ok:
                    out[lo : lo + n] = True
                else:
                    out[lo] = True
        return out

    def sample_canonical(self, rng: np.random.Generator) -> np.ndarray:
        """A canonical action drawn uniformly over the canonical pairs (not over raw actions)."""
        return self._canonical_actions[int(rng.integers(len(self._pairs)))].copy()

    def describe(self) -> dict[str, Any]:
        """JSON-able summary: dimensions, choices and sizes (for ``agenticrs envs`` and docs)."""
        return {
            "family": list(self.families),
            **{d.name: {"choices": [str(c) if isinstance(c, Fields) else c for c in d.choices],
                        "families": sorted(d.families)} for d in self.dims},
            "fidelity": list(self.fidelities),
            "canonical_configs": len(self.configs()),
            "canonical_pairs": len(self._pairs),
        }

    def _family_index(self, family: str | int) -> int:
        if isinstance(family, (int, np.integer)):
            if not 0 <= int(family) < len(self.families):
                raise ValueError(f"family index {family} out of range [0, {len(self.families)})")
            return int(family)
        try:
            return self.families.index(family)
        except ValueError:
            raise ValueError(f"unknown family {family!r}; this space has {self.families}") from None

    def __repr__(self) -> str:
        return f"AutoTrainSpace({self._nvec_list}, families={self.families}, canonical_pairs={len(self._pairs)})"

    # The canonical tables are derived from the constructor arguments: pickle only those (an unpickle
    # in a process that has built the same space before takes its tables from the cache).
    def __getstate__(self) -> dict[str, Any]:
        return {
            "families": self.families, "dims": self.dims, "fidelities": self.fidelities,
            "closed_form": self.closed_form, "np_random": self._np_random,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["families"], state["dims"], state["fidelities"], state["closed_form"])  # type: ignore[misc]
        self._np_random = state["np_random"]
