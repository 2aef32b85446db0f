"""Evaluation backends: ``live`` trains, ``table`` looks up, ``surrogate`` predicts.

All implement :class:`agenticrs.envs.core.Backend`
(``evaluate(task, config, fidelity, seed) -> TrialResult``) and every result carries the
cost a live run had (or would have had). Build one with :func:`make_backend`; add your own
with :func:`register_backend`.

Backend classes are imported lazily (``from agenticrs.envs.backends import LiveBackend``
works), so the table backend never pays for importing torch or scikit-learn.
"""

from __future__ import annotations

from agenticrs._lazy import lazy_getattr

from agenticrs.envs.backends.registry import list_backends, make_backend, register_backend

_LAZY = {
    "LiveBackend": "agenticrs.envs.backends.live",
    "run_trial": "agenticrs.envs.backends.live",
    "TableBackend": "agenticrs.envs.backends.table",
    "Table": "agenticrs.envs.backends.table",
    "load_table": "agenticrs.envs.backends.table",
    "table_path": "agenticrs.envs.backends.table",
    "MissingEntryError": "agenticrs.envs.backends.table",
    "SurrogateBackend": "agenticrs.envs.backends.surrogate",
}

__all__ = ["list_backends", "make_backend", "register_backend", *_LAZY]


__getattr__ = lazy_getattr(__name__, _LAZY)
