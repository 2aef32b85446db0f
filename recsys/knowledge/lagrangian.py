"""Lagrangian primal-dual handling of "knowledge may cost at most epsilon of behaviour loss".

The constrained problem (LWGR's knowledge fusion)::

    minimise   f(theta)                                   (fused behaviour + knowledge objectives)
    subject to g(theta) = L_know(theta) - (1 + eps) * L_free(theta) <= 0

is solved on its Lagrangian ``f + lambda * g``: the primal step is the optimiser's gradient
step on ``theta``; the dual step is projected gradient ASCENT on the multiplier,
``lambda <- max(0, lambda + lr * g)``, which grows while the constraint is violated and
decays to exactly zero once it holds.
"""

from __future__ import annotations

import torch
from torch import nn


class PrimalDual(nn.Module):
    """The multiplier ``lambda >= 0`` (a buffer: saved and restored with the model).

    Args:
        epsilon: allowed relative degradation of the behaviour loss.
        lr: dual step size.
        init: initial multiplier.
    """

    def __init__(self, epsilon: float = 0.02, lr: float = 0.05, init: float = 0.0):
        super().__init__()
        if epsilon < 0 or lr <= 0 or init < 0:
            raise ValueError(f"PrimalDual: need epsilon >= 0, lr > 0, init >= 0 (got {epsilon}, {lr}, {init})")
        self.epsilon, self.lr = float(epsilon), float(lr)
        self.register_buffer("lam", torch.tensor(float(init)))

    def violation(self, loss_with: torch.Tensor, loss_without: torch.Tensor) -> torch.Tensor:
        """``g = loss_with - (1 + eps) * loss_without`` (<= 0 means satisfied); the knowledge-free
        loss is detached, so the multiplier never pushes the reference model to get worse."""
        return loss_with - (1.0 + self.epsilon) * loss_without.detach()

    def penalty(self, violation: torch.Tensor) -> torch.Tensor:
        """The Lagrangian term ``lambda * g`` (``lambda`` is a constant for the primal step)."""
        return float(self.lam) * violation  # a copy: the dual update may change lam before backward

    @torch.no_grad()
    def update(self, violation: torch.Tensor | float) -> float:
        """Dual ascent step, projected onto ``lambda >= 0``; returns the new ``lambda``."""
        self.lam.add_(self.lr * float(violation)).clamp_(min=0.0)
        return float(self.lam)
