"""The text-encoder interface ("world knowledge" source) and its registry.

An encoder turns strings into fixed-size vectors. Some encoders learn from the corpus they
encode (TF-IDF + SVD fits its vocabulary and projection on the item texts), so the
interface is ``fit`` then ``encode``; pretrained encoders implement ``fit`` as a no-op.
``config()`` is the encoder's identity: two encoders with equal configs produce equal
vectors for the same corpus, which is what the on-disk cache keys on.
"""

from __future__ import annotations

import abc
from typing import Any, Callable, ClassVar, Sequence, TypeVar

import numpy as np


class TextEncoder(abc.ABC):
    """Strings -> ``[n, dim]`` float32 vectors (rows L2-normalised, empty text -> zeros)."""

    name: ClassVar[str] = ""

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """Output dimension."""

    @abc.abstractmethod
    def config(self) -> dict[str, Any]:
        """JSON-serialisable identity of this encoder (cache key; includes ``name``)."""

    def fit(self, texts: Sequence[str]) -> "TextEncoder":
        """Learn from the corpus (no-op for pretrained encoders); returns ``self``."""
        return self

    @abc.abstractmethod
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``len(texts)`` strings -> ``[len(texts), dim]`` float32."""

    def fit_encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.fit(texts).encode(texts)


E = TypeVar("E", bound=type[TextEncoder])
_ENCODERS: dict[str, type[TextEncoder]] = {}


def register_encoder(name: str) -> Callable[[E], E]:
    """Class decorator: ``make_encoder("name:key=value")`` builds the class with those kwargs."""

    def deco(cls: E) -> E:
        if name in _ENCODERS and _ENCODERS[name] is not cls:
            raise ValueError(f"text encoder {name!r} is already registered ({_ENCODERS[name].__module__})")
        cls.name = name
        _ENCODERS[name] = cls
        return cls

    return deco


def list_encoders() -> list[str]:
    _load_builtin()
    return sorted(_ENCODERS)


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``"tfidf:dim=64,analyzer=char_wb"`` -> ``("tfidf", {"dim": "64", ...})``; ``"hf:/path"`` -> path kwarg."""
    name, _, rest = spec.partition(":")
    name = name.strip().lower()
    kwargs: dict[str, str] = {}
    if rest:
        if "=" not in rest:  # a bare argument is a path ("hf:/models/minilm")
            return name, {"path": rest}
        for part in rest.split(","):
            key, eq, value = part.partition("=")
            if not eq or not key.strip():
                raise ValueError(f"text encoder spec {spec!r}: expected key=value, got {part!r}")
            kwargs[key.strip()] = value.strip()
    return name, kwargs


def make_encoder(spec: "str | TextEncoder") -> TextEncoder:
    """Build an encoder from a spec string (``tfidf``, ``tfidf:dim=64``, ``hf:/path/to/model``)."""
    if isinstance(spec, TextEncoder):
        return spec
    _load_builtin()
    name, kwargs = parse_spec(spec)
    if name not in _ENCODERS:
        raise KeyError(f"unknown text encoder {name!r} in {spec!r}; registered: {', '.join(sorted(_ENCODERS))}")
    cls = _ENCODERS[name]
    try:
        return cls(**kwargs)  # each encoder converts its own string arguments
    except TypeError as e:
        raise ValueError(f"text encoder {spec!r}: {e}") from None


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Row-normalise ``[n, d]``; zero rows stay zero."""
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norm > 0, norm, 1.0)).astype(np.float32)


def _load_builtin() -> None:
    from agenticrs.recsys.text import hf, tfidf  # noqa: F401  (registers "tfidf", "hf")
