"""Optuna samplers behind the ask/tell layer: TPE (Bergstra et al. 2011) and, where it runs, GP-BO.

:class:`OptunaSearch` drives any Optuna sampler through ``study.ask()`` / ``study.tell()``
on the env's search space, define-by-run (:meth:`SearchSpace.suggest`). It relies on the
shared layer of :class:`~agenticrs.policies.base.Searcher` for deduplication and reports
back to the study so its model stays honest:

* a proposal the layer refuses (a canonical configuration already evaluated or pending) is
  told ``FAIL``, which Optuna's samplers ignore. (Telling it the earlier value instead, as
  this module did before, adds one more copy of that observation per repeat: TPE's "good"
  density filled with copies of the incumbent and proposed it ever more often.)
* a substitute the layer proposes instead is *enqueued* (``study.enqueue_trial``), so the
  study records what was actually evaluated, and learns from it;
* the first ``n_startup_trials`` trials are uniform over canonical configurations (random
  search without replacement, enqueued), not Optuna's default independent draw, which picks
  the family first: with 6 families of 1 to 64 configurations that draw spends 1/3 of the
  start on the two one-configuration families (Pop, ItemKNN) that random search almost never
  tries.

:class:`TPESearch` is multivariate and grouped (``group=True`` models each conditional
sub-space, e.g. one family's dimensions, jointly) with the constant liar, which makes
parallel workers (pending trials, :mod:`agenticrs.policies.autotune`) spread out.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from agenticrs.envs.core import TrialResult
from agenticrs.policies.base import Searcher


class OptunaSearch(Searcher):
    """Ask/tell over an Optuna sampler (see the module docstring); subclasses build the sampler.

    Args:
        n_startup_trials: uniform random trials (without replacement) before the sampler's model.
        flat: suggest every dimension on every trial (a fixed joint space) instead of only
            those that apply (define-by-run conditional space).
    """

    flat: bool = False

    def __init__(self, n_startup_trials: int = 5, metric: str | None = None):
        super().__init__(metric)
        if n_startup_trials < 0:
            raise ValueError(f"n_startup_trials must be >= 0, got {n_startup_trials}")
        self.n_startup_trials = n_startup_trials

    def _sampler(self, seed: int) -> Any:
        raise NotImplementedError

    def _setup(self) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        seed = int(self.rng.integers(2**31 - 1))
        with warnings.catch_warnings():  # `group`/GPSampler are marked experimental; they are what we need
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = self._sampler(seed)
        self._study = optuna.create_study(direction="maximize", sampler=sampler)
        self._pool = self.candidates(0)
        self._trial: Any = None  # the Optuna trial of the last proposal
        self._pending: dict[int, Any] = {}  # pair id -> Optuna trial awaiting its result

    def _ask(self) -> np.ndarray:
        assert self.space is not None
        if self._asked < self.n_startup_trials:
            return self.action_of(self._enqueue(self.random_unseen(self._pool)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna's per-trial "independent sampling" notices
            self._trial = self._study.ask()
            return self.action_of(self.space.suggest(self._trial, self.flat))

    def _enqueue(self, pid: int) -> int:
        """Make the next Optuna trial evaluate ``pid`` (recorded in the study like any other)."""
        assert self.space is not None
        self._study.enqueue_trial(self.space.params_of(pid, self.flat), skip_if_exists=False)
        self._trial = self._study.ask()
        got = self.space.suggest(self._trial, self.flat)
        assert got == pid, (got, pid)
        return pid

    def _on_duplicate(self, pid: int) -> None:
        import optuna

        # FAIL: samplers ignore it (no extra copy of an evaluated configuration in the model).
        self._study.tell(self._trial, state=optuna.trial.TrialState.FAIL)
        self._trial = None

    def _on_substitute(self, pid: int) -> None:
        self._enqueue(pid)

    def _on_proposed(self, pid: int) -> None:
        self._pending[pid] = self._trial
        self._trial = None

    def _tell(self, pid: int, value: float, result: TrialResult) -> None:
        trial = self._pending.pop(pid, None)
        if trial is not None:
            self._study.tell(trial, self._told(value))

    @staticmethod
    def _told(value: float) -> float:
        # Optuna rejects inf; a failed trial is worse than any real metric (all are >= 0).
        return value if math.isfinite(value) else -1.0


class TPESearch(OptunaSearch):
    """Optuna ``TPESampler``: multivariate, grouped for the conditional space, constant liar.

    Args:
        n_startup_trials: uniform random trials before TPE models the results.
        n_ei_candidates: candidates TPE scores per proposal (Optuna's default, 24).
    """

    name = "tpe"

    def __init__(self, n_startup_trials: int = 5, n_ei_candidates: int = 24, metric: str | None = None):
        super().__init__(n_startup_trials, metric)
        self.n_ei_candidates = n_ei_candidates

    def _sampler(self, seed: int) -> Any:
        import optuna

        # n_startup_trials=0 here: our own startup (uniform over configurations) is enqueued.
        return optuna.samplers.TPESampler(n_startup_trials=0, n_ei_candidates=self.n_ei_candidates, seed=seed,
                                          multivariate=True, group=True, constant_liar=True)


def gp_unavailable() -> str | None:
    """Why Optuna's GP sampler cannot run here (``None``: it can): it needs torch and scipy."""
    try:
        import optuna

        optuna.samplers.GPSampler  # noqa: B018 - Optuna >= 3.6
        import scipy  # noqa: F401
        import torch  # noqa: F401
    except (ImportError, AttributeError) as e:
        return f"Optuna's GPSampler is unavailable ({type(e).__name__}: {e})"
    return None


class GPSearch(OptunaSearch):
    """Optuna ``GPSampler`` (Gaussian-process BO) on the flat space (every dimension suggested).

    The GP models one fixed joint space, so every dimension is suggested on every trial and
    the ones that do not apply are canonicalised away (the dedup layer refuses the repeats
    this creates). Needs torch and scipy: :meth:`applies_to` says so when they are missing.
    """

    name = "gp"
    flat = True
    max_resample = 3  # each refused repeat costs a GP fit (~0.3 s): substitute sooner than TPE does

    def applies_to(self, space: Any) -> str | None:
        return gp_unavailable()

    def _sampler(self, seed: int) -> Any:
        import optuna

        return optuna.samplers.GPSampler(n_startup_trials=0, seed=seed, warn_independent_sampling=False)
