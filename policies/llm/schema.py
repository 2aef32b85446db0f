"""The design language as a JSON Schema (what constrained decoding and structured outputs follow),
and the merge that turns a model's partial program into a whole one.

The schema is built from the language's own field metadata (``choices`` -> ``enum``, ``min`` /
``max`` -> ``minimum`` / ``maximum``, Python types -> JSON types), so it follows the language
when the language changes. Every field is optional: a reply names only what it changes, and
:func:`merge_partial` fills the rest from a base program (the task's default or the parent that
is being edited). Short replies matter: a 135M model on one CPU thread writes ~20 tokens/s.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from agenticrs.recsys.design.program import BLOCKS, SECTIONS, TOP_FIELDS, Program, field_types, from_dict, to_dict

_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}

SKIP_FIELDS = frozenset({"name"})
"""Fields the model never writes (a program's name is a label, not part of it)."""

COMPACT_SECTIONS: dict[str, tuple[str, ...]] = {
    "inputs": ("text", "attributes", "position", "time_gap", "scale", "norm"),
    "readout": ("pool", "final_norm", "head"),
    "loss": ("kind", "negatives", "objective"),
    "train": ("optimizer", "lr", "weight_decay", "schedule"),
}
"""The section fields a *compact* schema offers: the design decisions, not the fine print (dropout
rates, init, text_dim...), which keep the base program's values. A small model that may write
every field runs out of tokens inside the third block (seen with SmolLM2-135M at 120 tokens)."""
BLOCK_WRAPPER = ("norm", "residual", "dropout")
"""Fields every block has (its residual wrapper); a compact schema leaves them at their defaults."""


def _field_schema(cls: type, name: str) -> dict[str, Any]:
    f = {x.name: x for x in dataclasses.fields(cls)}[name]
    meta, py = f.metadata, field_types(cls)[name]
    if "choices" in meta:
        return {"enum": list(meta["choices"])}
    out: dict[str, Any] = {"type": _JSON_TYPES[py]}
    if "min" in meta:
        out["minimum"] = meta["min"]
    if "max" in meta:
        out["maximum"] = meta["max"]
    return out


def _object(cls: type, fields: list[str] | None = None, extra: Mapping[str, Any] | None = None,
            required: list[str] | None = None) -> dict[str, Any]:
    names = fields if fields is not None else [f.name for f in dataclasses.fields(cls) if f.name not in SKIP_FIELDS]
    props = {**dict(extra or {}), **{n: _field_schema(cls, n) for n in names}}
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def block_schema(kind: str, compact: bool = False) -> dict[str, Any]:
    """One block kind: ``{"kind": KIND, ...its fields}`` with ``kind`` required and first
    (``compact``: without the wrapper fields norm / residual / dropout)."""
    cls = BLOCKS[kind]
    fields = [f.name for f in dataclasses.fields(cls) if not (compact and f.name in BLOCK_WRAPPER)]
    return _object(cls, fields, extra={"kind": {"const": kind}}, required=["kind"])


def program_schema(max_blocks: int = 8, kinds: tuple[str, ...] | None = None, compact: bool = False) -> dict[str, Any]:
    """A JSON Schema of (partial) programs.

    Args:
        max_blocks: most blocks a reply may list.
        kinds: block kinds offered (default: every kind of the language).
        compact: offer only the design decisions (:data:`COMPACT_SECTIONS`, blocks without their
            wrapper fields, ``dim`` but not ``max_len`` / ``init``): shorter replies.
    """
    kinds = kinds or tuple(BLOCKS)
    unknown = sorted(set(kinds) - set(BLOCKS))
    if unknown:
        raise ValueError(f"program_schema: unknown block kind(s) {unknown}; kinds: {', '.join(BLOCKS)}")
    top = ("dim",) if compact else tuple(n for n in TOP_FIELDS if n not in SKIP_FIELDS)
    props: dict[str, Any] = {n: _field_schema(Program, n) for n in top}
    props["blocks"] = {"type": "array", "minItems": 1, "maxItems": int(max_blocks),
                       "items": {"anyOf": [block_schema(k, compact) for k in kinds]}}
    for name, cls in SECTIONS.items():
        props[name] = _object(cls, list(COMPACT_SECTIONS[name]) if compact else None)
    return {"type": "object", "properties": props, "required": ["blocks"], "additionalProperties": False}


def merge_partial(base: Program, partial: Mapping[str, Any]) -> Program:
    """``partial`` (a reply's dict form) over ``base``: sections merge field by field, a given
    ``blocks`` list replaces the base's blocks, a block lists only the fields it changes from
    its kind's defaults. The result has no ``name``.

    Raises:
        DesignError: structure or types of ``partial`` (as :func:`~agenticrs.recsys.design.program.from_dict`).
    """
    data = {**to_dict(base), "name": ""}  # a new program: the base's label does not carry over
    if not isinstance(partial, Mapping):
        return from_dict(partial)  # the language's own error for a non-mapping
    for key, value in partial.items():
        if key in SECTIONS and isinstance(value, Mapping) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return from_dict(data)


__all__ = ["BLOCK_WRAPPER", "COMPACT_SECTIONS", "block_schema", "merge_partial", "program_schema"]
