"""The compiled model's size from the program alone: a closed form, no torch, microseconds.

:func:`count_parameters` equals ``Cost.params`` of the compiled model (parameters plus buffers,
as the trainer counts them; the tests check it on every block kind and on sampled programs), so
validation can enforce a parameter budget on every proposal, and an edit mask can check all 72
operators, without building a model. Without the dataset an ``attributes`` input counts one
attribute slot per item and one attribute id (the real vocabulary adds ``dim`` per distinct id).
"""

from __future__ import annotations

from agenticrs.recsys.design.program import GRU, MLP, Attention, Block, Conv, Filter, GatedMLP, MoE, Program

GAP_BUCKETS = 32
"""Time-gap buckets (``agenticrs.recsys.models.sasrec_features.GAP_BUCKETS``; checked by a test)."""


def _linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def block_parameters(block: Block, dim: int, max_len: int) -> int:
    """Parameters of one block: its op plus the LayerNorm of its wrapper."""
    d = dim
    norm = 2 * d if block.norm != "none" else 0
    if isinstance(block, Attention):
        op = _linear(d, 3 * d) + _linear(d, d)
    elif isinstance(block, MLP):
        h = block.expansion * d
        op = _linear(d, h) + _linear(h, d)
    elif isinstance(block, GatedMLP):
        h = block.expansion * d
        op = _linear(d, 2 * h) + _linear(h, d)
    elif isinstance(block, GRU):
        op = 6 * d * d + 6 * d
    elif isinstance(block, Conv):
        op = d * block.kernel + d + _linear(d, d)
    elif isinstance(block, MoE):
        h, e = block.expansion * d, block.experts
        op = _linear(d, e) + e * (d * h + h + h * d + d)
    elif isinstance(block, Filter):
        op = max_len * d if block.causal else (max_len // 2 + 1) * d * 2
    else:
        raise TypeError(f"no size for block {type(block).__name__}")
    return norm + op


def count_parameters(program: Program, n_items: int) -> int:
    """Parameters plus buffers of ``program`` compiled for ``n_items`` items (see the module docstring)."""
    p, d, rows = program, program.dim, n_items + 2  # item tables: padding + items + [MASK]
    ins = p.inputs
    total = rows * d if ins.item_id else d  # the [MASK] vector when there is no id embedding
    parts = ins.item_id + ins.text + ins.attributes
    if ins.text:
        total += rows * ins.text_dim + _linear(ins.text_dim, d)
    if ins.attributes:
        total += rows * 1 + 1 * d
    if parts > 1 and ins.fusion == "concat":
        total += _linear(parts * d, d)
    elif parts > 1 and ins.fusion == "gating":
        total += _linear(parts * d, parts * d)
    total += p.max_len * d if ins.position else 0
    total += GAP_BUCKETS * d if ins.time_gap else 0
    total += 2 * d if ins.norm else 0
    total += sum(block_parameters(b, d, p.max_len) for b in p.blocks)
    out = p.readout
    total += 2 * d if out.final_norm else 0
    total += {"none": 0, "linear": _linear(d, d), "mlp": _linear(d, d) + 2 * d}[out.head]
    total += (n_items + 1) * d if not out.tied else 0
    total += n_items + 1 if out.bias else 0
    return total


__all__ = ["GAP_BUCKETS", "block_parameters", "count_parameters"]
