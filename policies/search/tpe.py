"""TPE (Bergstra et al. 2011) through Optuna's ask/tell interface, on the conditional space.

The family (first choice) is suggested first; then only the dimensions that apply given the
earlier choices (define-by-run, :meth:`SearchSpace.suggest`), so TPE never models choices
that are ignored. A configuration suggested again is told its
earlier value without spending a trial, and TPE is asked again.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from agenticrs.envs.core import TrialResult
from agenticrs.policies.base import Searcher


class TPESearch(Searcher):
    """Optuna ``TPESampler`` (multivariate, grouped) over full-fidelity configurations.

    Args:
        n_startup_trials: random trials before TPE models the results.
        max_duplicates: repeated suggestions tolerated per trial before a random unseen
            configuration is proposed instead.
    """

    name = "tpe"

    def __init__(self, n_startup_trials: int = 5, max_duplicates: int = 20, metric: str | None = None):
        super().__init__(metric)
        self.n_startup_trials = n_startup_trials
        self.max_duplicates = max_duplicates

    def _setup(self) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        seed = int(self.rng.integers(2**31 - 1))
        with warnings.catch_warnings():  # `group` is marked experimental; it is what conditional spaces need
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.TPESampler(
                n_startup_trials=self.n_startup_trials, seed=seed, multivariate=True, group=True,
            )
        self._study = optuna.create_study(direction="maximize", sampler=sampler)
        self._values: dict[int, float] = {}
        self._pending: dict[int, Any] = {}  # pair id -> optuna trial awaiting its result
        self._pool = self.candidates(0)

    def _suggest(self, trial: Any) -> int:
        assert self.space is not None
        return self.space.suggest(trial)

    def _ask(self) -> np.ndarray:
        import optuna

        for _ in range(self.max_duplicates):
            trial = self._study.ask()
            pid = self._suggest(trial)
            if pid in self._values:  # already evaluated: teach TPE for free, ask again
                self._study.tell(trial, self._told(self._values[pid]))
                continue
            if pid in self._pending:
                self._study.tell(trial, state=optuna.trial.TrialState.FAIL)
                continue
            self._pending[pid] = trial
            return self.action_of(pid)
        pid = self.random_unseen(self._pool)
        return self.action_of(pid)

    def _tell(self, pid: int, value: float, result: TrialResult) -> None:
        self._values[pid] = value
        trial = self._pending.pop(pid, None)
        if trial is not None:
            self._study.tell(trial, self._told(value))

    @staticmethod
    def _told(value: float) -> float:
        # Optuna rejects inf; a failed trial is worse than any real metric (all are >= 0).
        return value if math.isfinite(value) else -1.0
