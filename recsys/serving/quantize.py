"""Embedding tables stored and scored at fp32, fp16 or int8 precision — for real, not simulated.

* ``fp32``: the trained table.
* ``fp16``: the table stored as half precision; queries are cast to half for the dot products.
* ``int8``: symmetric per-row quantisation, ``W[i] ~= scale[i] * Q[i]`` with ``Q`` int8 in
  ``[-127, 127]`` and ``scale[i] = max|W[i]| / 127``; queries are quantised per row the same
  way and the dot products run as an int8 x int8 -> int32 matrix product (``torch._int_mm``,
  else an int32 product), rescaled by both scales.

``nbytes`` is the stored size (what the memory budget counts).
"""

from __future__ import annotations

import torch

PRECISIONS = ("fp32", "fp16", "int8")


def quantize_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``[N, d]`` float -> (``[N, d]`` int8, ``[N]`` float32 scales), symmetric per row."""
    scale = x.abs().amax(dim=1).clamp_min(1e-12) / 127.0
    q = torch.clamp(torch.round(x / scale[:, None]), -127, 127).to(torch.int8)
    return q, scale.float()


def _int8_matmul(a: torch.Tensor, b_t: torch.Tensor) -> torch.Tensor:
    """``a [B, d]`` int8 @ ``b_t [d, N]`` int8 -> ``[B, N]`` int32."""
    rows = a.shape[0]
    if rows <= 16:  # the int8 GEMM kernel wants more than 16 rows: pad with zero rows
        a = torch.cat([a, a.new_zeros(17 - rows, a.shape[1])])
    try:
        return torch._int_mm(a, b_t)[:rows]
    except (RuntimeError, AttributeError):  # no int8 kernel for this device / shape
        return (a.to(torch.int32) @ b_t.to(torch.int32))[:rows]


class QuantizedTable:
    """An item (or any) embedding table at one precision.

    Args:
        weight: ``[N, d]`` float table (row 0 may be padding).
        precision: ``fp32``, ``fp16`` or ``int8``.
    """

    def __init__(self, weight: torch.Tensor, precision: str = "fp32"):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        self.precision = precision
        w = weight.detach().float().contiguous()
        self.shape = tuple(w.shape)
        self.scale: torch.Tensor | None = None
        if precision == "fp32":
            self.data = w
        elif precision == "fp16":
            self.data = w.half()
        else:
            q, self.scale = quantize_rows(w)
            self.data_t = q.T.contiguous()  # [d, N]: the layout the int8 GEMM reads
            self.data = q

    @property
    def nbytes(self) -> int:
        """Bytes stored: the table plus int8 scales."""
        n = self.data.numel() * self.data.element_size()
        return n + (self.scale.numel() * 4 if self.scale is not None else 0)

    def dequantize(self) -> torch.Tensor:
        """``[N, d]`` float32 reconstruction (exact for fp32)."""
        if self.precision == "int8":
            return self.data.float() * self.scale[:, None]  # type: ignore[index]
        return self.data.float()

    def scores(self, queries: torch.Tensor) -> torch.Tensor:
        """``queries [B, d]`` -> ``[B, N]`` float32 dot products at this precision."""
        if self.precision == "fp32":
            return queries.float() @ self.data.T
        if self.precision == "fp16":
            return (queries.half() @ self.data.T).float()
        q, qs = quantize_rows(queries.float())
        return _int8_matmul(q, self.data_t).float() * qs[:, None] * self.scale[None, :]  # type: ignore[index]
