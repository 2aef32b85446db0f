"""A conditional ``MultiDiscrete`` action space for the Compose, AutoFeature and AutoPerf envs.

Each dimension is a :class:`Choice`. A choice can depend on earlier ones (``active_if``):
when inactive it is *ignored and canonicalised* to index 0, as in
:class:`~agenticrs.envs.spaces.AutoTrainSpace`. On top of that, a ``repair`` function (a
module-level function, so the space pickles) turns an *invalid* combination (two identical
recall agents, a model without any item representation) into the nearest valid one; the
env reports it (``info["repaired"]``) and may penalise it. Decoding is one dict lookup: the
whole grid is precomputed at construction (a few thousand raw actions at most).

``mask()`` is the union mask (sb3-contrib ``MaskablePPO`` layout; a ``MultiDiscrete``
policy samples dimensions independently); ``mask(partial)`` is the conditional mask given
earlier choices (``{"recall_a": "pop"}`` masks ``recall_b = pop``), for autoregressive
policies and search baselines.

The canonical tables depend only on the constructor arguments, so they are built once per
process and shared (:func:`cached_tables`): a second space with the same arguments, and every
unpickled copy (RLlib, SB3 checkpoints and worker pools ship spaces between processes), costs
microseconds instead of the tens of milliseconds a build takes.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Mapping, Sequence

import numpy as np
from gymnasium import spaces

from agenticrs.envs.core import TrialConfig

Repair = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Choice:
    """One action dimension.

    Attributes:
        name: the config field it sets (or a decision name).
        choices: the values; index 0 is the canonical value used when the choice is inactive.
        active_if: ``((earlier_name, allowed_values), ...)``: the choice applies only when every
            named earlier choice is active and takes one of its allowed values.
        in_config: part of the :class:`TrialConfig` the backend evaluates (``False`` for
            env-level decisions such as AutoPerf's experiment action).
    """

    name: str
    choices: tuple[Any, ...]
    active_if: tuple[tuple[str, frozenset[Any]], ...] = ()
    in_config: bool = True


def when(**allowed: Sequence[Any]) -> tuple[tuple[str, frozenset[Any]], ...]:
    """``when(recall_b=("pop", "itemknn"))`` -> an ``active_if`` value."""
    return tuple((k, frozenset(v)) for k, v in allowed.items())


TABLE_CACHE_SIZE = 16
"""Spaces whose tables one process keeps (least recently used first out): a few per env kind."""

_TABLES: "OrderedDict[Hashable, dict[str, Any]]" = OrderedDict()
TABLE_BUILDS = {"builds": 0, "hits": 0}
"""Counters of :func:`cached_tables` (what tests read to prove an unpickle did not rebuild)."""


def cached_tables(space: Any, key: Hashable, build: Callable[[], None], names: Sequence[str]) -> None:
    """Give ``space`` the table attributes ``names`` that ``build()`` sets, built once per ``key`` and process.

    ``key`` (a :func:`typed_key`) holds every constructor argument the tables depend on (and the
    space's class, since a subclass may decode differently); spaces with equal keys share the same, never-mutated
    table objects (their canonical action arrays are read-only). A key that cannot be hashed
    (a user's unhashable choice value) builds every time, as before the cache.
    """
    try:
        hit = _TABLES.get(key)
    except TypeError:
        TABLE_BUILDS["builds"] += 1
        build()
        return
    if hit is None:
        TABLE_BUILDS["builds"] += 1
        build()
        hit = {n: space.__dict__[n] for n in names}
        for arr in _arrays(hit.values()):
            arr.setflags(write=False)  # shared between spaces: a write would change them all
        _TABLES[key] = hit
        if len(_TABLES) > TABLE_CACHE_SIZE:
            _TABLES.popitem(last=False)
    else:
        TABLE_BUILDS["hits"] += 1
        _TABLES.move_to_end(key)
        space.__dict__.update(hit)


def typed_key(x: Any) -> Hashable:
    """``x`` with the type of every leaf beside it: ``1 == 1.0 == True``, but as choice values they make
    different configurations (and config keys), so a cache keyed on ``x`` alone could mix them up.

    Tuples and lists stay ordered, sets and frozensets stay unordered (an unpickled frozenset
    may iterate in another order), dataclasses (``Choice``, ``Dim``, ``Fields``) become their
    class and fields; anything else (functions, classes, scalars) is ``(type, value)``.
    """
    if isinstance(x, (tuple, list)):
        return (type(x), tuple(typed_key(v) for v in x))
    if isinstance(x, (set, frozenset)):
        return (type(x), frozenset(typed_key(v) for v in x))
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (type(x), tuple(typed_key(getattr(x, f.name)) for f in dataclasses.fields(x)))
    return (type(x), x)


def clear_table_cache() -> None:
    """Forget every cached table (tests; the next space of each kind rebuilds)."""
    _TABLES.clear()


def _arrays(values: Any) -> list[np.ndarray]:
    out = []
    for v in values:
        if isinstance(v, np.ndarray):
            out.append(v)
        elif isinstance(v, list) and v and isinstance(v[0], np.ndarray):
            out.extend(v)
    return out


class ConditionalSpace(spaces.MultiDiscrete):
    """``MultiDiscrete([len(c.choices) for c in choices] (+ [n_fidelities]))`` with a decoder.

    Args:
        model: the ``TrialConfig.model`` every configuration carries.
        choices: the dimensions, in order (``active_if`` may only name earlier ones).
        fidelities: training fidelities; a last dimension is added when there are several.
        repair: maps an invalid value dict to a valid one (``None``: every combination is valid).
        canonicalize: maps a valid value dict to its canonical form *without* counting as a
            repair (for conditions ``active_if`` cannot express, e.g. "text or attributes").
        seed: seed of ``sample()``.
    """

    def __init__(self, model: str, choices: Sequence[Choice], fidelities: Sequence[float] = (1.0,),
                 repair: Repair | None = None, seed: int | np.random.Generator | None = None,
                 canonicalize: Repair | None = None):
        self.model = model
        self.canonicalize = canonicalize
        self.choices = tuple(choices)
        self.fidelities = tuple(float(f) for f in fidelities)
        self.repair = repair
        self._check()
        self.names: tuple[str, ...] = tuple(c.name for c in self.choices) + (
            ("fidelity",) if len(self.fidelities) > 1 else ())
        nvec = [len(c.choices) for c in self.choices] + ([len(self.fidelities)] if len(self.fidelities) > 1 else [])
        super().__init__(np.asarray(nvec, dtype=np.int64), dtype=np.int64, seed=seed)
        self._nvec_list = nvec
        self._offsets = np.concatenate([[0], np.cumsum(nvec)]).astype(np.int64)
        key = typed_key((type(self), model, self.choices, self.fidelities, repair, canonicalize))
        cached_tables(self, key, self._build, ("_values", "_pairs", "_canon_actions", "_lut", "_valid_raw", "_union_mask"))

    def _check(self) -> None:
        names = [c.name for c in self.choices]
        if len(set(names)) != len(names) or "fidelity" in names:
            raise ValueError(f"ConditionalSpace: choice names must be unique and not 'fidelity': {names}")
        for i, c in enumerate(self.choices):
            if not c.choices:
                raise ValueError(f"ConditionalSpace: choice {c.name!r} has no values")
            for dep, _ in c.active_if:
                if dep not in names[:i]:
                    raise ValueError(f"ConditionalSpace: {c.name!r} depends on {dep!r}, which is not an earlier choice")
        if not self.fidelities or any(not 0.0 < f <= 1.0 for f in self.fidelities):
            raise ValueError(f"ConditionalSpace: fidelities must lie in (0, 1], got {self.fidelities}")

    # ------------------------------------------------------------------ construction
    def _canonical(self, values: Mapping[str, Any]) -> tuple[tuple[int, ...], dict[str, Any]]:
        """Indices (inactive -> 0) and the dict of active values for a full value assignment."""
        idx, active = [], {}
        for c in self.choices:
            on = all(dep in active and active[dep] in ok for dep, ok in c.active_if)
            if on:
                active[c.name] = values[c.name]
                idx.append(c.choices.index(values[c.name]))
            else:
                idx.append(0)
        return tuple(idx), active

    def _build(self) -> None:
        pid_of: dict[tuple[int, ...], int] = {}
        self._values: list[dict[str, Any]] = []
        self._pairs: list[tuple[TrialConfig, float]] = []
        self._canon_actions: list[np.ndarray] = []
        self._lut: dict[tuple[int, ...], tuple[int, bool]] = {}
        n_fid = len(self.fidelities)
        for raw in itertools.product(*(range(n) for n in self._nvec_list)):
            values = {c.name: c.choices[i] for c, i in zip(self.choices, raw)}
            idx, active = self._canonical(values)
            if self.canonicalize is not None:
                values = {**values, **self.canonicalize(dict(active))}
                idx, active = self._canonical(values)
            repaired = False
            if self.repair is not None:
                fixed = self.repair(dict(active))
                if fixed != active:
                    values = {**values, **fixed}
                    idx, active = self._canonical(values)
                    if self.canonicalize is not None:
                        idx, active = self._canonical({**values, **self.canonicalize(dict(active))})
                    repaired = True
            fid = raw[-1] if n_fid > 1 else 0
            key = idx + ((fid,) if n_fid > 1 else ())
            pid = pid_of.get(key)
            if pid is None:
                pid = pid_of[key] = len(self._pairs)
                self._values.append(active)
                config = TrialConfig.make(self.model, **{c.name: active[c.name] for c in self.choices
                                                         if c.in_config and c.name in active})
                self._pairs.append((config, self.fidelities[fid]))
                self._canon_actions.append(np.asarray(key, dtype=np.int64))
            self._lut[raw] = (pid, repaired)
        self._valid_raw = [raw for raw, (_, rep) in self._lut.items() if not rep]
        self._union_mask = self._mask_of({})

    # ------------------------------------------------------------------ public API
    @property
    def n_pairs(self) -> int:
        """Canonical (configuration + decisions, fidelity) combinations."""
        return len(self._pairs)

    def validate(self, action: Any) -> tuple[int, ...]:
        """Check an action; ``ValueError`` names the problem (shape, dtype, NaN, range)."""
        arr = np.asarray(action)
        if arr.shape != self.shape:
            raise ValueError(f"action must have shape {self.shape} ({', '.join(self.names)}), got {arr.shape}")
        if arr.dtype.kind not in "iu":
            raise ValueError(f"action must be an integer array, got dtype {arr.dtype}"
                             + (" containing NaN" if arr.dtype.kind == "f" and np.isnan(arr).any() else ""))
        values = tuple(arr.tolist())
        for i, (v, n) in enumerate(zip(values, self._nvec_list)):
            if not 0 <= v < n:
                raise ValueError(f"action[{i}] ({self.names[i]}) = {v} is out of range [0, {n})")
        return values

    def lookup(self, action: Any) -> tuple[int, bool]:
        """``(pair id, repaired)`` of a validated action."""
        arr = np.asarray(action)
        if arr.shape == self._shape and arr.dtype.kind in "iu":
            hit = self._lut.get(tuple(arr.tolist()))
            if hit is not None:
                return hit
        return self._lut[self.validate(arr)]  # validate raises for anything the table lacks

    def decode(self, action: Any) -> tuple[TrialConfig, float]:
        return self._pairs[self.lookup(action)[0]]

    def values(self, pid: int) -> dict[str, Any]:
        """The active values (config and decisions) of a pair id."""
        return dict(self._values[pid])

    def pair(self, pid: int) -> tuple[TrialConfig, float]:
        return self._pairs[pid]

    def canonical_action(self, pid: int) -> np.ndarray:
        return self._canon_actions[pid].copy()

    def enumerate(self) -> list[tuple[TrialConfig, float]]:
        """Every distinct ``(TrialConfig, fidelity)`` a backend may be asked for (the table covers these).

        Canonical actions whose config choices are all inactive (AutoPerf's ramp / rollback)
        evaluate nothing and are left out.
        """
        has_config = any(c.in_config for c in self.choices)
        return list(dict.fromkeys(p for p in self._pairs if p[0].params or not has_config))

    def encode(self, values: Mapping[str, Any], fidelity: float | None = None) -> np.ndarray:
        """The canonical action of a value dict (missing choices take index 0)."""
        full = {c.name: values.get(c.name, c.choices[0]) for c in self.choices}
        for c in self.choices:
            if full[c.name] not in c.choices:
                raise ValueError(f"{c.name}={full[c.name]!r} is not one of {c.choices}")
        idx, active = self._canonical(full)
        if self.canonicalize is not None:
            idx, _ = self._canonical({**full, **self.canonicalize(active)})
        if len(self.fidelities) > 1:
            f = self.fidelities[0] if fidelity is None else float(fidelity)
            if f not in self.fidelities:
                raise ValueError(f"fidelity {f} is not one of {self.fidelities}")
            idx = idx + (self.fidelities.index(f),)
        return self.canonical_action(self._lut[idx][0])

    def mask(self, partial: Mapping[str, Any] | None = None) -> np.ndarray:
        """Flat ``[sum(nvec)]`` bool mask: indices used by some valid action consistent with ``partial``."""
        if not partial:
            return self._union_mask.copy()
        return self._mask_of(partial)

    def _mask_of(self, partial: Mapping[str, Any]) -> np.ndarray:
        fixed = {self.names.index(k): self.choices[self.names.index(k)].choices.index(v)
                 for k, v in partial.items()}
        out = np.zeros(int(self._offsets[-1]), dtype=bool)
        for raw in self._valid_raw:
            if all(raw[i] == v for i, v in fixed.items()):
                # Only what matters: inactive choices are ignored, so they keep index 0.
                canon = self._canon_actions[self._lut[raw][0]]
                for i, v in enumerate(canon.tolist()):
                    out[self._offsets[i] + v] = True
        return out

    def describe(self) -> dict[str, Any]:
        return {"model": self.model, **{c.name: list(c.choices) for c in self.choices},
                "fidelity": list(self.fidelities), "canonical": self.n_pairs, "configs": len(self.enumerate())}

    def __repr__(self) -> str:
        return f"ConditionalSpace({self._nvec_list}, model={self.model!r}, canonical={self.n_pairs})"

    # The tables are derived from the constructor arguments: pickle only those (an unpickle in a
    # process that has built the same space before takes its tables from the cache).
    def __getstate__(self) -> dict[str, Any]:
        return {"model": self.model, "choices": self.choices, "fidelities": self.fidelities, "repair": self.repair,
                "canonicalize": self.canonicalize, "np_random": self._np_random}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["model"], state["choices"], state["fidelities"], state["repair"],  # type: ignore[misc]
                      canonicalize=state["canonicalize"])
        self._np_random = state["np_random"]
