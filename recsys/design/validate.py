"""Validation: ranges, choices, size limits and incompatible combinations, each error naming its field.

:func:`find_errors` lists every problem of a typed program (a repairing proposer reads them
all); :func:`validate` raises the first. Both are pure functions of the program, the
:class:`Limits` and, for the parameter-count and negatives checks, the catalogue size.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from agenticrs.recsys.design.errors import DesignError, IncompatibleError, LimitError, ValueRangeError
from agenticrs.recsys.design.program import SECTIONS, Attention, MoE, Program
from agenticrs.recsys.design.size import count_parameters


@dataclass(frozen=True)
class Limits:
    """Budgets a program must fit (stricter than the language's own field ranges).

    Attributes:
        max_blocks: blocks in the encoder.
        max_dim: embedding / hidden width.
        max_len: sequence length.
        max_epochs: training epochs.
        max_params: parameters of the compiled model (checked only when ``n_items`` is known).
    """

    max_blocks: int = 12
    max_dim: int = 256
    max_len: int = 200
    max_epochs: int = 100
    max_params: int | None = 20_000_000


DEFAULT_LIMITS = Limits()
NO_LIMITS = Limits(max_blocks=10**6, max_dim=10**9, max_len=10**9, max_epochs=10**9, max_params=None)
"""Only the language's own ranges and rules (what compiling needs; budgets are the caller's)."""


def _range_errors(obj: Any, path: str) -> list[DesignError]:
    """Every field of ``obj`` against its ``choices`` / ``min`` / ``max`` metadata."""
    out: list[DesignError] = []
    for f in dataclasses.fields(obj):
        value, meta = getattr(obj, f.name), f.metadata
        where = f"{path}.{f.name}" if path else f.name
        if "choices" in meta and value not in meta["choices"]:
            out.append(ValueRangeError(f"must be one of {', '.join(map(str, meta['choices']))}, got {value!r}", where))
        if "min" in meta and value < meta["min"] or "max" in meta and value > meta["max"]:
            out.append(ValueRangeError(f"must lie in [{meta.get('min', '-inf')}, {meta.get('max', 'inf')}], "
                                       f"got {value!r}", where))
    return out


def find_errors(program: Program, limits: Limits = DEFAULT_LIMITS, n_items: int | None = None) -> list[DesignError]:
    """Every problem of ``program`` (empty: valid), in field order.

    Args:
        program: a typed program (:func:`~.text.parse` / :func:`~.program.from_dict` output).
        limits: size budgets.
        n_items: catalogue size; enables the parameter-count and negative-sample checks.
    """
    p = program
    errors = _range_errors(p, "")
    for name in SECTIONS:
        errors += _range_errors(getattr(p, name), name)
    for i, block in enumerate(p.blocks):
        errors += _range_errors(block, f"blocks[{i}]")
    if errors:  # combinations and limits assume in-range values
        return errors

    # ---- limits
    if not p.blocks:
        errors.append(LimitError("a program needs at least one block", "blocks"))
    if len(p.blocks) > limits.max_blocks:
        errors.append(LimitError(f"{len(p.blocks)} blocks exceed the limit of {limits.max_blocks}", "blocks"))
    if p.dim > limits.max_dim:
        errors.append(LimitError(f"{p.dim} exceeds the width limit of {limits.max_dim}", "dim"))
    if p.max_len > limits.max_len:
        errors.append(LimitError(f"{p.max_len} exceeds the sequence-length limit of {limits.max_len}", "max_len"))
    if p.train.epochs > limits.max_epochs:
        errors.append(LimitError(f"{p.train.epochs} exceeds the epoch limit of {limits.max_epochs}", "train.epochs"))

    # ---- combinations
    ins = p.inputs
    if not (ins.item_id or ins.text or ins.attributes):
        errors.append(IncompatibleError("no item feature: turn on item_id, text or attributes", "inputs"))
    for i, block in enumerate(p.blocks):
        where = f"blocks[{i}]"
        if isinstance(block, Attention) and p.dim % block.heads:
            errors.append(IncompatibleError(f"dim {p.dim} is not divisible by heads {block.heads}", f"{where}.heads"))
        if isinstance(block, MoE) and block.top_k > block.experts:
            errors.append(IncompatibleError(f"top_k {block.top_k} exceeds experts {block.experts}", f"{where}.top_k"))
        if p.loss.objective == "next" and not block.is_causal():
            errors.append(IncompatibleError(
                f"a bidirectional {block.kind} block sees the next item it must predict under loss.objective=next; "
                "set causal=true or use loss.objective=cloze", f"{where}.causal"))
    if n_items is not None:
        if p.loss.kind != "ce" and p.loss.negatives >= n_items:
            errors.append(LimitError(f"{p.loss.negatives} negatives need more than {n_items} items", "loss.negatives"))
        if limits.max_params is not None and not errors:
            n = count_parameters(p, n_items)
            if n > limits.max_params:
                errors.append(LimitError(f"{n:,} parameters exceed the limit of {limits.max_params:,} "
                                         f"(at {n_items:,} items)", ""))
    return errors


def validate(program: Program, limits: Limits = DEFAULT_LIMITS, n_items: int | None = None) -> Program:
    """``program`` unchanged if valid.

    Raises:
        DesignError: the first problem :func:`find_errors` reports (a subclass naming the field).
    """
    errors = find_errors(program, limits, n_items)
    if errors:
        raise errors[0]
    return program


__all__ = ["DEFAULT_LIMITS", "Limits", "NO_LIMITS", "find_errors", "validate"]
