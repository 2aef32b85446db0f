"""A response cache on disk, keyed by (model, prompt, params): re-running a seeded search or a
paper-autotrain report costs no model calls."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping


class ResponseCache:
    """One JSON file per reply under ``folder``, named by the SHA-256 of the call's key.

    Writes are atomic (temporary file + ``os.replace``), so concurrent searches sharing a cache
    never read a torn reply; a corrupt entry is treated as a miss.
    """

    def __init__(self, folder: str | os.PathLike[str]):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(model: str, prompt: str, params: Mapping[str, Any]) -> str:
        """Hex key of a call: the model, the exact prompt and every sampling parameter."""
        blob = json.dumps({"model": model, "prompt": prompt, "params": params}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(dict(value), sort_keys=True))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def __len__(self) -> int:
        return sum(1 for _ in self.folder.glob("*/*.json"))


__all__ = ["ResponseCache"]
