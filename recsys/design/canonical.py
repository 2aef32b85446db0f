"""Canonical form and stable hash: two programs that train the same model hash the same.

:func:`canonicalise` drops what does not change the trained model: the ``name``, and fields
that the rest of the program makes irrelevant (``loss.negatives`` under full softmax, the
cloze settings under a next-item objective, ``inputs.fusion`` with a single item feature,
``inputs.text_dim`` without text). :func:`program_hash` is the SHA-256 of the canonical
form's compact, key-sorted JSON, so it is the same in every process and Python version; the
KnowledgeStore and the env cache key programs by it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from agenticrs.recsys.design.program import Inputs, Loss, Program, to_dict


def canonicalise(program: Program) -> Program:
    """The canonical program (pure: ``program`` is not changed)."""
    p = program
    loss, ins = p.loss, p.inputs
    if loss.kind == "ce":
        loss = dataclasses.replace(loss, negatives=Loss.negatives)
    if loss.objective == "next":
        loss = dataclasses.replace(loss, mask_prob=Loss.mask_prob, last_item_prob=Loss.last_item_prob)
    if ins.item_id + ins.text + ins.attributes < 2:
        ins = dataclasses.replace(ins, fusion=Inputs.fusion)
    if not ins.text:
        ins = dataclasses.replace(ins, text_dim=Inputs.text_dim)
    return dataclasses.replace(p, name="", loss=loss, inputs=ins)


def _normalise(value: Any) -> Any:
    """Floats with 12 significant digits (``0.1 + 0.2`` and ``0.3`` agree), recursively."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def canonical_dict(program: Program) -> dict[str, Any]:
    """The canonical program as plain data (no ``name``)."""
    d = _normalise(to_dict(canonicalise(program)))
    d.pop("name")
    return d


def canonical_json(program: Program) -> str:
    """Compact, key-sorted JSON of the canonical form (what the hash and the trial config hold)."""
    return json.dumps(canonical_dict(program), sort_keys=True, separators=(",", ":"))


def program_hash(program: Program, length: int = 16) -> str:
    """Hex SHA-256 of :func:`canonical_json`, cut to ``length`` characters (64: all)."""
    return hashlib.sha256(canonical_json(program).encode()).hexdigest()[:length]


__all__ = ["canonical_dict", "canonical_json", "canonicalise", "program_hash"]
