"""Deterministic repair: the smallest mechanical edits that make a typed program valid.

A proposer (or a language model's reply) often gets one detail wrong -- heads that do not divide
the width, a bidirectional block under a next-item objective, a value out of range. :func:`repair`
fixes what has an obvious fix and says what it changed, so a proposer can keep the idea without
another model call; what it cannot fix (there is nothing mechanical to do) still raises.

Fixes, in order: out-of-range numbers are clipped and unknown choices reset to the field's default;
no item feature turns ``item_id`` on; bidirectional blocks become causal under ``objective=next``;
heads become the largest divisor of ``dim`` not above them; ``top_k`` is capped at ``experts``;
the block list is cut to ``max_blocks`` (an empty one gets one attention block); ``dim``,
``max_len`` and ``epochs`` are capped at the limits; ``negatives`` below the item count; then,
while over the parameter budget, ``dim`` is halved (down to 8).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from agenticrs.recsys.design.errors import DesignError
from agenticrs.recsys.design.program import SECTIONS, Attention, Block, MoE, Program
from agenticrs.recsys.design.size import count_parameters
from agenticrs.recsys.design.validate import DEFAULT_LIMITS, Limits, find_errors


def _clip_fields(obj: Any, path: str, notes: list[str]) -> Any:
    """``obj`` with every field inside its ``choices`` / ``min`` / ``max`` metadata."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value, meta = getattr(obj, f.name), f.metadata
        where = f"{path}.{f.name}" if path else f.name
        if "choices" in meta and value not in meta["choices"]:
            changes[f.name] = f.default
        elif "min" in meta and value < meta["min"]:
            changes[f.name] = type(value)(meta["min"])
        elif "max" in meta and value > meta["max"]:
            changes[f.name] = type(value)(meta["max"])
        if f.name in changes:
            notes.append(f"{where}: {value!r} -> {changes[f.name]!r}")
    return dataclasses.replace(obj, **changes) if changes else obj


def _fit_block(block: Block, p: Program, i: int, notes: list[str]) -> Block:
    where = f"blocks[{i}]"
    if p.loss.objective == "next" and not block.is_causal():
        notes.append(f"{where}.causal: false -> true (objective=next)")
        block = dataclasses.replace(block, causal=True)
    if isinstance(block, Attention) and p.dim % block.heads:
        heads = max(h for h in range(1, block.heads + 1) if p.dim % h == 0)
        notes.append(f"{where}.heads: {block.heads} -> {heads} (divides dim {p.dim})")
        block = dataclasses.replace(block, heads=heads)
    if isinstance(block, MoE) and block.top_k > block.experts:
        notes.append(f"{where}.top_k: {block.top_k} -> {block.experts}")
        block = dataclasses.replace(block, top_k=block.experts)
    return block


def repair(program: Program, limits: Limits = DEFAULT_LIMITS, n_items: int | None = None
           ) -> tuple[Program, list[str]]:
    """A valid program close to ``program``, and what was changed (``"path: old -> new"`` lines).

    A valid program comes back unchanged with no notes.

    Raises:
        DesignError: the first remaining error, when the fixes above are not enough.
    """
    notes: list[str] = []
    p = _clip_fields(program, "", notes)
    p = dataclasses.replace(p, **{name: _clip_fields(getattr(p, name), name, notes) for name in SECTIONS})
    p = dataclasses.replace(p, blocks=tuple(_clip_fields(b, f"blocks[{i}]", notes) for i, b in enumerate(p.blocks)))
    if not (p.inputs.item_id or p.inputs.text or p.inputs.attributes):
        notes.append("inputs.item_id: false -> true (no item feature)")
        p = dataclasses.replace(p, inputs=dataclasses.replace(p.inputs, item_id=True))
    if len(p.blocks) > limits.max_blocks:
        notes.append(f"blocks: {len(p.blocks)} -> the first {limits.max_blocks}")
        p = dataclasses.replace(p, blocks=p.blocks[: limits.max_blocks])
    if not p.blocks:
        notes.append("blocks: none -> one attention block")
        p = dataclasses.replace(p, blocks=(Attention(causal=p.loss.objective == "next"),))
    for name, cap in (("dim", limits.max_dim), ("max_len", limits.max_len)):
        if getattr(p, name) > cap:
            notes.append(f"{name}: {getattr(p, name)} -> {cap} (limit)")
            p = dataclasses.replace(p, **{name: cap})
    if p.train.epochs > limits.max_epochs:
        notes.append(f"train.epochs: {p.train.epochs} -> {limits.max_epochs} (limit)")
        p = dataclasses.replace(p, train=dataclasses.replace(p.train, epochs=limits.max_epochs))
    if n_items is not None and p.loss.kind != "ce" and p.loss.negatives >= n_items:
        notes.append(f"loss.negatives: {p.loss.negatives} -> {max(1, n_items - 1)} (items)")
        p = dataclasses.replace(p, loss=dataclasses.replace(p.loss, negatives=max(1, n_items - 1)))
    if n_items is not None and limits.max_params is not None:
        while count_parameters(p, n_items) > limits.max_params and p.dim > 8:
            notes.append(f"dim: {p.dim} -> {p.dim // 2} (parameter budget {limits.max_params:,})")
            p = dataclasses.replace(p, dim=p.dim // 2)
    p = dataclasses.replace(p, blocks=tuple(_fit_block(b, p, i, notes) for i, b in enumerate(p.blocks)))
    errors = find_errors(p, limits, n_items)
    if errors:
        raise errors[0]
    return p, notes


__all__ = ["repair"]
