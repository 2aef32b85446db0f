"""The backend registry: ``make_backend("table", path=...)`` and ``@register_backend("mine")``.

Built-in kinds are registered as lazy ``"module:attr"`` strings so that importing the env
package does not import torch (the live backend) or scikit-learn (the surrogate).
Plugins register through the ``agenticrs.backends`` entry-point group
(``mybackend = mypkg.backends:MyBackend``); they are loaded on the first unknown kind.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, TypeVar

from agenticrs.envs.core import Backend

F = TypeVar("F", bound=Callable[..., Backend])
ENTRY_POINT_GROUP = "agenticrs.backends"

_BACKENDS: dict[str, Callable[..., Backend] | str] = {
    "live": "agenticrs.envs.backends.live:LiveBackend",
    "table": "agenticrs.envs.backends.table:TableBackend",
    "surrogate": "agenticrs.envs.backends.surrogate:SurrogateBackend",
}
_entry_points_loaded = False


def register_backend(kind: str, *, overwrite: bool = False) -> Callable[[F], F]:
    """Decorator registering a backend factory (a class or a function returning a Backend).

    Example::

        @register_backend("cached-http")
        class HttpBackend:
            kind = "cached-http"
            def evaluate(self, task, config, fidelity, seed): ...
    """

    def deco(factory: F) -> F:
        key = kind.lower()
        existing = _BACKENDS.get(key)
        if existing is not None and existing is not factory and not overwrite:
            raise ValueError(f"backend kind {key!r} is already registered ({existing}); pass overwrite=True")
        _BACKENDS[key] = factory
        return factory

    return deco


def _resolve(key: str) -> Callable[..., Backend]:
    factory = _BACKENDS[key]
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module), attr)
        _BACKENDS[key] = factory
    return factory


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        _BACKENDS.setdefault(ep.name.lower(), ep.value)


def list_backends() -> list[str]:
    """Registered backend kinds (built-ins, decorators and entry-point plugins)."""
    _load_entry_points()
    return sorted(_BACKENDS)


def make_backend(kind: str | Backend, **kwargs: Any) -> Backend:
    """Build a backend by kind; an object that already has ``evaluate`` is returned unchanged."""
    if not isinstance(kind, str):
        if not hasattr(kind, "evaluate"):
            raise TypeError(f"make_backend: expected a backend kind or a Backend, got {type(kind).__name__}")
        if kwargs:
            raise TypeError("make_backend: keyword arguments given with a ready Backend instance")
        return kind
    key = kind.lower()
    if key not in _BACKENDS:
        _load_entry_points()
    if key not in _BACKENDS:
        raise KeyError(f"unknown backend kind {kind!r}; registered: {', '.join(sorted(_BACKENDS))}")
    return _resolve(key)(**kwargs)
