"""Models and datasets a user registered in this process, shipped to live-trial workers.

A live trial runs in a worker subprocess (forked from a forkserver started before the user's
script registered anything) or as a Ray task on another machine: neither sees registrations
made at run time, e.g. ``@register_model("shop_mf")`` or ``register_dataset("shop", ...)`` in a
user's ``__main__``. Every trial request therefore carries the registrations that did not come
from the package itself, pickled with ``cloudpickle`` (by value for ``__main__`` and other
non-importable code, by reference for importable modules), and the worker registers them
before the trial. A registration the worker cannot rebuild fails the trial with a reason
that says what to do.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from typing import Any

PACKAGE = "agenticrs."


@dataclass(frozen=True)
class Registrations:
    """Pickled user registrations: ``blob`` (cloudpickle bytes) and ``digest`` (its sha256, so a
    worker applies each set once). ``names`` are for messages: ``model 'x' (module m)``."""

    blob: bytes
    digest: str
    names: tuple[str, ...]


def _user_models() -> dict[str, Any]:
    # Not imported yet: nothing can have been registered (and the caller need not import torch).
    if "agenticrs.recsys.models.base" not in sys.modules:
        return {}
    from agenticrs.recsys.models.base import _MODELS

    return {k: cls for k, cls in _MODELS.items() if not getattr(cls, "__module__", "").startswith(PACKAGE)}


def _user_datasets() -> dict[str, Any]:
    if "agenticrs.recsys.data.registry" not in sys.modules:
        return {}
    from agenticrs.recsys.data.registry import _REGISTRY

    out = {}
    for key, entry in _REGISTRY.items():
        loader = entry.loader
        if loader is None or not getattr(loader, "__module__", "").startswith(PACKAGE):
            out[key] = entry  # aliases are plain data; user loaders are the point
    return out


_CACHE: dict[tuple[Any, ...], Registrations | None] = {}


def collect() -> Registrations | None:
    """This process's user registrations (``None``: there are none). Cached while they do not change."""
    models, datasets = _user_models(), _user_datasets()
    key = (tuple((k, id(v)) for k, v in models.items()), tuple((k, id(v)) for k, v in datasets.items()))
    if key not in _CACHE:
        if not models and not datasets:
            _CACHE[key] = None
        else:
            import cloudpickle

            blob = cloudpickle.dumps({"models": models, "datasets": datasets})
            names = tuple([f"model {k!r} ({getattr(v, '__module__', '?')})" for k, v in models.items()]
                          + [f"dataset {k!r}" for k in datasets])
            _CACHE.clear()
            _CACHE[key] = Registrations(blob, hashlib.sha256(blob).hexdigest(), names)
    return _CACHE[key]


_APPLIED: set[str] = set()


def apply(regs: Registrations | None) -> None:
    """Register ``regs`` in this (worker) process, once per digest.

    Raises:
        RuntimeError: they cannot be unpickled here (e.g. they import a module this worker lacks),
            with what to do instead.
    """
    if regs is None or regs.digest in _APPLIED:
        return
    import cloudpickle

    from agenticrs.recsys.data.registry import _REGISTRY
    from agenticrs.recsys.models.base import register_model

    try:
        found = cloudpickle.loads(regs.blob)
    except Exception as e:  # noqa: BLE001 - any unpickling failure gets the same instructions
        raise RuntimeError(
            f"the live-trial worker could not rebuild your registrations ({', '.join(regs.names)}): "
            f"{type(e).__name__}: {e}. Register them at module level of an importable module and pass "
            f"LiveBackend(setup_modules=['that.module']) (or install it as a plugin), or use isolate=False"
        ) from None
    for name, cls in found["models"].items():
        register_model(name, overwrite=True)(cls)
    for name, entry in found["datasets"].items():
        _REGISTRY[name] = entry
    _APPLIED.add(regs.digest)
