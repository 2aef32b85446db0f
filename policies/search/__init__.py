"""Search baselines behind one ask/tell interface (:class:`~agenticrs.policies.base.Searcher`).

=============  ====================================================================
``random``     uniform over full-fidelity configurations, without repeats
``grid``       every full-fidelity configuration, families interleaved
``evolution``  regularised (aging) evolution, Real et al. 2019
``tpe``        Optuna's Tree-structured Parzen Estimator, conditional search space
``gp``         Optuna's Gaussian-process sampler (needs torch and scipy)
``halving``    successive halving over the fidelity dimension (low fidelity first)
``best-default-order``  the train tasks' static ranking of configurations
=============  ====================================================================

No searcher proposes a canonical configuration twice: deduplication sits once in the
shared ask/tell layer (:meth:`Searcher.ask`), not in each searcher.

Every baseline runs on every registered env through the env's
:class:`~agenticrs.policies.search_space.SearchSpace` view (AutoTrain's ``AutoTrainSpace``,
the other envs' ``ConditionalSpace``): it proposes only canonical, unrepaired, unmasked
actions and spends exactly the episode's trial budget. ``halving`` needs a fidelity
dimension (AutoTrain); on an env without one it raises ``ValueError`` naming the env, and
``searcher.applies_to(space)`` says why beforehand (the benchmark skips it with that note).
AutoPerf's experiment decisions are not searched: the baselines evaluate configurations
offline there.

``make_searcher("tpe", n_startup_trials=5)`` builds one by name; ``register_searcher``
adds your own.
"""

from __future__ import annotations

from typing import Any, Callable

from agenticrs.policies.base import Searcher
from agenticrs.policies.search.default_order import BestDefaultOrder
from agenticrs.policies.search.evolution import RegularizedEvolution
from agenticrs.policies.search.grid import GridSearch
from agenticrs.policies.search.halving import SuccessiveHalving
from agenticrs.policies.search.random import RandomSearch
from agenticrs.policies.search.tpe import GPSearch, TPESearch

_SEARCHERS: dict[str, Callable[..., Searcher]] = {
    "random": RandomSearch,
    "grid": GridSearch,
    "evolution": RegularizedEvolution,
    "tpe": TPESearch,
    "halving": SuccessiveHalving,
    "gp": GPSearch,
    "best-default-order": BestDefaultOrder,
}


def register_searcher(name: str, factory: Callable[..., Searcher], *, overwrite: bool = False) -> None:
    """Make ``factory`` available as ``make_searcher(name)`` and in ``agenticrs bench --policies``."""
    if name in _SEARCHERS and not overwrite:
        raise ValueError(f"searcher {name!r} is already registered; pass overwrite=True")
    _SEARCHERS[name] = factory


def make_searcher(name: str, **kwargs: Any) -> Searcher:
    if name not in _SEARCHERS:
        raise KeyError(f"unknown searcher {name!r}; registered: {', '.join(sorted(_SEARCHERS))}")
    return _SEARCHERS[name](**kwargs)


def list_searchers() -> list[str]:
    return sorted(_SEARCHERS)


__all__ = ["BestDefaultOrder", "GPSearch", "GridSearch", "RandomSearch", "RegularizedEvolution", "Searcher", "SuccessiveHalving", "TPESearch",
           "list_searchers", "make_searcher", "register_searcher"]
