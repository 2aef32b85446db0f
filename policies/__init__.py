"""Evolution policies (RLlib, Stable-Baselines3) and search baselines, behind one interface.

* :mod:`~agenticrs.policies.base`: :class:`Policy` (``begin / act / observe``) and the ask/tell
  :class:`Searcher`; a trained policy and a baseline are interchangeable in the benchmark.
* :mod:`~agenticrs.policies.search`: random, grid, regularised evolution, TPE (Optuna),
  successive halving over the fidelity dimension; on every registered env through
  :mod:`~agenticrs.policies.search_space` (a view of AutoTrainSpace / ConditionalSpace).
* :mod:`~agenticrs.policies.training`: :class:`TrainSpec`, :func:`train` (``--resume``,
  checkpoints, TensorBoard) and :func:`load_policy`; the frameworks live in
  :mod:`~agenticrs.policies.rllib_adapter` and :mod:`~agenticrs.policies.sb3_adapter` only.
* :mod:`~agenticrs.policies.episode` / :mod:`~agenticrs.policies.regret`: traced episodes and
  normalised regret; :mod:`~agenticrs.policies.main_job`: ``agenticrs evolve``.

Importing this package imports neither RLlib nor SB3.
"""

from agenticrs.policies.base import Budget, BudgetExhausted, Policy, Searcher
from agenticrs.policies.training import TrainSpec, load_policy, train

__all__ = ["Budget", "BudgetExhausted", "Policy", "Searcher", "TrainSpec", "load_policy", "train"]
