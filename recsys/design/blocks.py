"""Torch modules for the design language's blocks: ``op(x [B, W, D], valid [B, W]) -> [B, W, D]``.

Sequences are LEFT-padded with right-aligned positions (as in :mod:`~agenticrs.recsys.models.transformer`),
and every op keeps a real position's output independent of how much padding its row carries,
so batches can be trimmed to their longest row (``encode_by_length``) and scoring matches
training: attention masks padding keys, the GRU runs on packed right-padded rows, convolutions
and filters see padding as zeros (the wrapper zeroes it after every block), and the filters
work in a fixed ``max_len`` window.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from agenticrs.recsys.design.program import GRU, MLP, Attention, Block, Conv, Filter, GatedMLP, MoE
from agenticrs.recsys.models.transformer import MultiHeadSelfAttention, attention_mask

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}


class AttentionOp(nn.Module):
    """Multi-head self-attention; causal or bidirectional over the real positions."""

    def __init__(self, block: Attention, dim: int):
        super().__init__()
        self.causal = block.causal
        self.attn = MultiHeadSelfAttention(dim, block.heads, block.dropout)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        return self.attn(x, attention_mask(valid, self.causal))


class MLPOp(nn.Module):
    """``Linear(dim, expansion * dim) -> activation -> dropout -> Linear(., dim)``."""

    def __init__(self, block: MLP, dim: int):
        super().__init__()
        hidden = block.expansion * dim
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
        self.act, self.drop = _ACTIVATIONS[block.activation](), nn.Dropout(block.dropout)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.drop(self.act(self.fc1(x))))


class GatedMLPOp(nn.Module):
    """``Linear(activation(x W) * (x V))``: one ``Linear(dim, 2 * hidden)`` gives both halves."""

    def __init__(self, block: GatedMLP, dim: int):
        super().__init__()
        hidden = block.expansion * dim
        self.fc_in, self.fc_out = nn.Linear(dim, 2 * hidden), nn.Linear(hidden, dim)
        self.act, self.drop = _ACTIVATIONS[block.activation](), nn.Dropout(block.dropout)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        gate, value = self.fc_in(x).chunk(2, dim=-1)
        return self.fc_out(self.drop(self.act(gate) * value))


def _rotate(x: torch.Tensor, lengths: torch.Tensor, direction: int) -> torch.Tensor:
    """Roll each row of ``x [B, W, ...]`` by ``direction * (W - lengths[b])`` steps along dim 1."""
    width = x.shape[1]
    shift = (width - lengths).unsqueeze(1)  # [B, 1]
    index = (torch.arange(width, device=x.device).unsqueeze(0) + direction * shift) % width  # [B, W]
    return x.gather(1, index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x))


def left_to_right(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Rotate each LEFT-padded row of ``x [B, W, ...]`` so its ``lengths[b]`` real steps come first."""
    return _rotate(x, lengths, 1)


def right_to_left(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`left_to_right`."""
    return _rotate(x, lengths, -1)


class GRUOp(nn.Module):
    """A GRU of width ``dim`` over the real steps only (packed, so padding never enters the state)."""

    def __init__(self, block: GRU, dim: int):
        super().__init__()
        self.gru = nn.GRU(dim, dim, batch_first=True)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        lengths = valid.sum(1)
        if x.shape[0] == 0:
            return x
        right = left_to_right(x, lengths)
        packed = pack_padded_sequence(right, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.gru(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return right_to_left(out, lengths)


class ConvOp(nn.Module):
    """Depthwise ``kernel``-tap convolution per channel, then a pointwise ``Linear``."""

    def __init__(self, block: Conv, dim: int):
        super().__init__()
        k = block.kernel
        self.pad = (k - 1, 0) if block.causal else ((k - 1) // 2, k // 2)
        self.depthwise = nn.Conv1d(dim, dim, k, groups=dim)
        self.pointwise = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        y = self.depthwise(F.pad(x.transpose(1, 2), self.pad))  # [B, D, W]
        return self.pointwise(y.transpose(1, 2))


class MoEOp(nn.Module):
    """``experts`` MLPs; each position mixes its ``top_k`` router choices by their softmax weights.

    Experts are computed densely (one batched matmul over experts), which is the fastest way at
    the sizes this language allows; the sparse gate still decides what each position uses.
    """

    def __init__(self, block: MoE, dim: int):
        super().__init__()
        hidden = block.expansion * dim
        self.top_k = block.top_k
        self.router = nn.Linear(dim, block.experts)
        self.w1 = nn.Parameter(torch.empty(block.experts, dim, hidden))
        self.b1 = nn.Parameter(torch.zeros(block.experts, hidden))
        self.w2 = nn.Parameter(torch.empty(block.experts, hidden, dim))
        self.b2 = nn.Parameter(torch.zeros(block.experts, dim))
        for w in (self.w1, self.w2):
            nn.init.normal_(w, std=dim ** -0.5)
        self.act, self.drop = _ACTIVATIONS[block.activation](), nn.Dropout(block.dropout)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        logits = self.router(x)  # [B, W, E]
        top, idx = logits.topk(self.top_k, dim=-1)
        gates = torch.zeros_like(logits).scatter(-1, idx, torch.softmax(top, dim=-1))  # [B, W, E]
        h = self.drop(self.act(torch.einsum("bwd,edh->bweh", x, self.w1) + self.b1))
        y = torch.einsum("bweh,ehd->bwed", h, self.w2) + self.b2  # [B, W, E, D]
        return (gates.unsqueeze(-1) * y).sum(2)


class FilterOp(nn.Module):
    """Learned global filter over a fixed ``max_len`` window (rows right-aligned, zero padded).

    Causal: a learned kernel ``k [max_len, D]`` applied as ``y_t = sum_{s <= t} k_{t-s} x_s`` by
    FFT over ``2 * max_len`` points (linear, not circular, convolution). Non-causal: FMLP-Rec's
    complex filter on the ``max_len``-point spectrum (circular: every position sees all).
    """

    def __init__(self, block: Filter, dim: int, max_len: int):
        super().__init__()
        self.causal, self.max_len = block.causal, max_len
        if block.causal:
            # Decaying random kernel: recent items weigh most at initialisation.
            decay = torch.exp(-torch.arange(max_len, dtype=torch.float32) / 4.0).unsqueeze(1)
            self.filter_kernel = nn.Parameter(decay * (1.0 + 0.02 * torch.randn(max_len, dim)))
        else:
            self.filter_weight = nn.Parameter(0.02 * torch.randn(max_len // 2 + 1, dim, 2))

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        width, n = x.shape[1], self.max_len
        window = F.pad(x, (0, 0, n - width, 0))  # [B, max_len, D], right-aligned
        if self.causal:
            spec = torch.fft.rfft(window, n=2 * n, dim=1) * torch.fft.rfft(self.filter_kernel, n=2 * n, dim=0)
            y = torch.fft.irfft(spec, n=2 * n, dim=1)[:, :n]
        else:
            y = torch.fft.irfft(torch.fft.rfft(window, n=n, dim=1) * torch.view_as_complex(self.filter_weight),
                                n=n, dim=1)
        return y[:, n - width:]


def make_op(block: Block, dim: int, max_len: int) -> nn.Module:
    """The op module of ``block``."""
    if isinstance(block, Attention):
        return AttentionOp(block, dim)
    if isinstance(block, MLP):
        return MLPOp(block, dim)
    if isinstance(block, GatedMLP):
        return GatedMLPOp(block, dim)
    if isinstance(block, GRU):
        return GRUOp(block, dim)
    if isinstance(block, Conv):
        return ConvOp(block, dim)
    if isinstance(block, MoE):
        return MoEOp(block, dim)
    if isinstance(block, Filter):
        return FilterOp(block, dim, max_len)
    raise TypeError(f"no op for block {type(block).__name__}")


class Unit(nn.Module):
    """One block: the op inside its norm / residual / dropout wrapper; padding zeroed after it."""

    def __init__(self, block: Block, dim: int, max_len: int):
        super().__init__()
        self.placement, self.residual = block.norm, block.residual
        self.op = make_op(block, dim, max_len)
        self.norm = nn.LayerNorm(dim) if block.norm != "none" else nn.Identity()
        self.drop = nn.Dropout(block.dropout)

    def forward(self, x: torch.Tensor, valid: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """``x [B, W, D]``, ``valid [B, W]`` bool, ``keep [B, W, 1]`` float -> ``[B, W, D]``."""
        skip = x if self.residual else 0.0
        if self.placement == "pre":
            out = skip + self.drop(self.op(self.norm(x), valid))
        else:  # post-LN normalises the sum; "none" has an Identity norm
            out = self.norm(skip + self.drop(self.op(x, valid)))
        return out * keep


class Encoder(nn.Module):
    """The program's blocks in order, then an optional final LayerNorm."""

    def __init__(self, blocks: tuple[Block, ...], dim: int, max_len: int, final_norm: bool):
        super().__init__()
        self.units = nn.ModuleList(Unit(b, dim, max_len) for b in blocks)
        self.final_norm = nn.LayerNorm(dim) if final_norm else nn.Identity()

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        keep = valid.unsqueeze(-1).to(x.dtype)
        x = x * keep
        for unit in self.units:
            x = unit(x, valid, keep)
        return self.final_norm(x)


__all__ = ["Encoder", "Unit", "left_to_right", "make_op", "right_to_left"]
