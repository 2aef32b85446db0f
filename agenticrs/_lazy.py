"""Module attributes imported on first use (PEP 562), so that importing a package stays light."""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping


def lazy_getattr(module: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` that imports ``names[name]`` (a module path) the first time ``name`` is read.

    Usage, in a package's ``__init__``: ``__getattr__ = lazy_getattr(__name__, _LAZY)``.
    """

    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
