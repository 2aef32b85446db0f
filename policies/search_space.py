"""What a search baseline sees of an env's action space: canonical candidates and their neighbours.

The search baselines (:mod:`agenticrs.policies.search`) work on every registered env through
one view, :class:`SearchSpace`, built by :func:`search_space` from the env's action space:

* :class:`AutoTrainView` for :class:`~agenticrs.envs.spaces.AutoTrainSpace` (AutoTrain):
  families, hyperparameter dimensions, a fidelity dimension and closed-form families;
* :class:`ConditionalView` for :class:`~agenticrs.envs.grid_space.ConditionalSpace`
  (Compose, AutoFeature, AutoPerf): conditional choices, repairs, env-level decisions.

A candidate is identified by its *pair id*, an index into :attr:`SearchSpace.pairs` (the
distinct ``(TrialConfig, fidelity)`` a backend evaluates, in the space's enumeration order),
and is always proposed as its *canonical* action, which is valid under the env's mask.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable

import numpy as np

from agenticrs.envs.core import TrialConfig
from agenticrs.envs.grid_space import ConditionalSpace
from agenticrs.envs.spaces import AutoTrainSpace

Pair = tuple[TrialConfig, float]
Choose = Callable[[str, list[Any]], Any]
"""``choose(name, options) -> one of options``: Optuna's ``trial.suggest_categorical`` or a replay."""


class SearchSpace(ABC):
    """The candidates of one action space, and the moves search baselines make between them.

    Attributes:
        pairs: every candidate ``(TrialConfig, fidelity)``, indexed by pair id.
        fidelities: the space's training fidelities; index 0 is the canonical (full) one.
        label: the env (or space) named in error messages.
    """

    pairs: list[Pair]
    fidelities: tuple[float, ...]
    label: str

    @property
    def has_fidelity(self) -> bool:
        """Whether there is a fidelity dimension to search over (successive halving needs one)."""
        return len(self.fidelities) > 1

    @abstractmethod
    def pair_id(self, action: Any) -> int:
        """The pair id an action stands for (``ValueError`` if it is not a search candidate)."""

    @abstractmethod
    def action_of(self, pid: int) -> np.ndarray:
        """The canonical action ``[n_dims]`` int64 of pair ``pid``."""

    @abstractmethod
    def pair_of(self, config: TrialConfig, fidelity: float) -> int:
        """The pair id of ``config`` at ``fidelity`` (fixed-fidelity configurations: their only pair)."""

    @abstractmethod
    def fixed_fidelity(self, pid: int) -> bool:
        """True when the fidelity does not apply to ``pid``'s configuration (AutoTrain's Pop, ItemKNN)."""

    @abstractmethod
    def group(self, pid: int) -> Any:
        """The top-level choice of ``pid`` (AutoTrain: the family); grid search interleaves groups."""

    @abstractmethod
    def mutate(self, pid: int, rng: np.random.Generator) -> int:
        """``pid`` with one applicable choice changed at random, at fidelity index 0 (``pid`` if none can change)."""

    @abstractmethod
    def _build(self, choose: Choose, flat: bool) -> int:
        """A pair id at fidelity index 0 built define-by-run from ``choose`` (see :meth:`suggest`)."""

    @abstractmethod
    def _target(self, pid: int, name: str) -> Any:
        """The value ``pid`` takes for the Optuna parameter ``name`` (the inverse of :meth:`_build`)."""

    def suggest(self, trial: Any, flat: bool = False) -> int:
        """A pair id at fidelity index 0 built define-by-run from an Optuna ``trial``.

        ``flat=False``: only the choices that apply given the earlier ones are suggested (TPE's
        grouped, conditional space). ``flat=True``: every searchable dimension is suggested, so
        the parameter set is fixed (samplers that model one joint space, such as Optuna's GP);
        the choices that do not apply are then ignored by canonicalisation.
        """
        return self._build(trial.suggest_categorical, flat)

    def params_of(self, pid: int, flat: bool = False) -> dict[str, Any]:
        """The Optuna parameters whose :meth:`suggest` gives ``pid`` (for ``study.enqueue_trial``)."""
        params: dict[str, Any] = {}

        def replay(name: str, options: list[Any]) -> Any:
            params[name] = value = self._target(pid, name)
            return value

        got = self._build(replay, flat)
        if got != pid:  # a broken view would evaluate another pair than the one enqueued
            raise AssertionError(f"{self.label}: the parameters of pair {pid} rebuild pair {got}")
        return params


class AutoTrainView(SearchSpace):
    """:class:`AutoTrainSpace`: pair ids are indices into ``space.enumerate()``."""

    def __init__(self, space: AutoTrainSpace, label: str = "AutoTrainSpace"):
        self.space = space
        self.pairs = space.enumerate()
        self.fidelities = space.fidelities
        self.label = label
        self._offsets = np.concatenate([[0], np.cumsum(space.nvec)])

    def pair_id(self, action: Any) -> int:
        return self.space.pair_id(np.asarray(action, dtype=np.int64))

    def action_of(self, pid: int) -> np.ndarray:
        config, fidelity = self.pairs[pid]
        return self.space.encode(config, fidelity)

    def pair_of(self, config: TrialConfig, fidelity: float) -> int:
        return self.space.pair_id(self.space.encode(config, fidelity))

    def fixed_fidelity(self, pid: int) -> bool:
        return self.pairs[pid][0].model in self.space.closed_form

    def group(self, pid: int) -> str:
        return self.pairs[pid][0].model

    def _choice_dims(self, family: int) -> list[int]:
        """Dimensions with a choice for ``family`` (the family dimension itself always; fidelity never)."""
        sp, mask, off = self.space, self.space.mask(family), self._offsets
        return [d for d in range(len(sp.nvec) - 1)
                if sp.nvec[d] > 1 and (d == 0 or mask[off[d]:off[d + 1]].sum() > 1)]

    def mutate(self, pid: int, rng: np.random.Generator) -> int:
        action = self.action_of(pid)
        dims = self._choice_dims(int(action[0]))
        if not dims:  # a one-configuration space: nothing to mutate
            return pid
        d = int(dims[int(rng.integers(len(dims)))])
        n = int(self.space.nvec[d])
        action[d] = (action[d] + 1 + int(rng.integers(n - 1))) % n  # any other value
        action[-1] = 0  # full fidelity
        config, fidelity = self.space.decode(action)  # canonicalises dimensions the new family ignores
        return self.pair_of(config, fidelity)

    def _build(self, choose: Choose, flat: bool) -> int:
        sp = self.space
        family = choose("family", list(sp.families))
        f = sp.families.index(family)
        action = np.zeros(len(sp.nvec), dtype=np.int64)
        action[0] = f
        mask = sp.mask(f)
        for d, dim in enumerate(sp.dims, start=1):
            applies = mask[self._offsets[d]:self._offsets[d + 1]].sum() > 1
            if applies or (flat and sp.nvec[d] > 1):
                action[d] = choose(dim.name, list(range(len(dim.choices))))
        return self.pair_of(*sp.decode(action))

    def _target(self, pid: int, name: str) -> Any:
        action = self.action_of(pid)
        if name == "family":
            return self.space.families[int(action[0])]
        return int(action[1 + [d.name for d in self.space.dims].index(name)])


class ConditionalView(SearchSpace):
    """:class:`ConditionalSpace`: one candidate per distinct evaluated ``(TrialConfig, fidelity)``.

    Candidates are the space's :meth:`~ConditionalSpace.enumerate` (canonical actions that
    evaluate a configuration; repaired ones never), each represented by its first canonical
    action in enumeration order. Choices outside the config (AutoPerf's ``decision``) are not
    searched: they keep the representative's value (AutoPerf: ``offline``, always unmasked),
    so the baselines run offline hyperparameter search there.
    """

    def __init__(self, space: ConditionalSpace, label: str = "ConditionalSpace"):
        self.space = space
        self.fidelities = space.fidelities
        self.label = label
        has_config = any(c.in_config for c in space.choices)
        self._index: dict[Pair, int] = {}
        self._rep: list[int] = []  # pair id -> the space's pair id of its representative action
        for spid in range(space.n_pairs):
            pair = space.pair(spid)
            if has_config and not pair[0].params:  # evaluates nothing (AutoPerf's ramp / rollback)
                continue
            if pair in self._index or space.lookup(space.canonical_action(spid)) != (spid, False):
                continue
            self._index[pair] = len(self._rep)
            self._rep.append(spid)
        if not self._rep:
            raise ValueError(f"{label}: the action space has no configuration to search")
        self.pairs = list(self._index)
        # Values each choice takes among the candidates where it applies, in index order: the
        # (static, as Optuna needs) categorical choices of TPE. One value: nothing to suggest.
        self._options: dict[str, list[int]] = {}
        for c in space.choices:
            seen = {c.choices.index(v[c.name]) for v in map(space.values, self._rep) if c.name in v}
            self._options[c.name] = sorted(seen)
        self._top = next((c.name for c in space.choices if c.in_config and len(self._options[c.name]) > 1), None)

    def _values(self, pid: int) -> dict[str, Any]:
        return self.space.values(self._rep[pid])

    def _searchable(self, name: str) -> bool:
        c = self.space.choices[self.space.names.index(name)]
        return c.in_config and len(self._options[name]) > 1

    def _from_values(self, values: dict[str, Any], fidelity: float) -> int | None:
        """Pair id of a value dict (repairs applied), ``None`` if it evaluates no candidate."""
        spid = self.space.lookup(self.space.encode(values, fidelity))[0]
        return self._index.get(self.space.pair(spid))

    def pair_id(self, action: Any) -> int:
        pair = self.space.pair(self.space.lookup(action)[0])
        pid = self._index.get(pair)
        if pid is None:
            raise ValueError(f"{self.label}: action {np.asarray(action).tolist()} evaluates no configuration "
                             "the search baselines propose")
        return pid

    def action_of(self, pid: int) -> np.ndarray:
        return self.space.canonical_action(self._rep[pid])

    def pair_of(self, config: TrialConfig, fidelity: float) -> int:
        pid = self._index.get((config, float(fidelity)))
        if pid is None:
            raise ValueError(f"{self.label}: ({config.to_dict()}, fidelity={fidelity}) is not a candidate")
        return pid

    def fixed_fidelity(self, pid: int) -> bool:
        return False  # a ConditionalSpace's fidelity dimension applies to every configuration

    def group(self, pid: int) -> Any:
        return None if self._top is None else self._values(pid).get(self._top)

    def mutate(self, pid: int, rng: np.random.Generator) -> int:
        values = self._values(pid)
        names = [name for name in values if self._searchable(name)]
        if not names:
            return pid
        name = names[int(rng.integers(len(names)))]
        c = self.space.choices[self.space.names.index(name)]
        current = c.choices.index(values[name])
        others = [i for i in self._options[name] if i != current]
        values[name] = c.choices[others[int(rng.integers(len(others)))]]
        child = self._from_values(values, self.fidelities[0])  # choices it activates take index 0
        return pid if child is None else child

    def _build(self, choose: Choose, flat: bool) -> int:
        # ``flat`` has no meaning here: a ConditionalSpace's choices are conditional by design
        # (a flat set would suggest choices the repairs then overwrite).
        values: dict[str, Any] = {}
        fixed = self._values(0)  # choices not searched keep the first candidate's value
        for c in self.space.choices:
            if not all(dep in values and values[dep] in ok for dep, ok in c.active_if):
                continue  # inactive given the earlier choices: not suggested
            if self._searchable(c.name):
                values[c.name] = c.choices[choose(c.name, self._options[c.name])]
            elif c.name in fixed:
                values[c.name] = fixed[c.name]
            elif self._options[c.name]:
                values[c.name] = c.choices[self._options[c.name][0]]
        pid = self._from_values(values, self.fidelities[0])
        return self.pair_of(*self.pairs[0]) if pid is None else pid

    def _target(self, pid: int, name: str) -> Any:
        c = self.space.choices[self.space.names.index(name)]
        return c.choices.index(self._values(pid)[name])


def search_space(space: Any, label: str | None = None) -> SearchSpace:
    """The :class:`SearchSpace` of an action space (a view is returned as is).

    Raises:
        TypeError: a space the search baselines do not know, named with ``label``.
    """
    if isinstance(space, SearchSpace):
        return space
    if isinstance(space, AutoTrainSpace):
        return AutoTrainView(space, label or "AutoTrainSpace")
    if isinstance(space, ConditionalSpace):
        return ConditionalView(space, label or "ConditionalSpace")
    raise TypeError(f"search baselines need an AutoTrainSpace or ConditionalSpace action space, "
                    f"got {type(space).__name__}" + (f" from {label}" if label else ""))
