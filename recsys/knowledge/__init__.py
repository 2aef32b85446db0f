"""LWGR's knowledge side: soft-instruction extraction, the fusion constraint's primal-dual
multiplier, and the nearline per-user knowledge store with its online serving path."""

from agenticrs.recsys.knowledge.extractors import (
    SmallTextEncoder,
    SoftInstructionExtractor,
    SoftInstructionPooling,
    fixed_templates,
)
from agenticrs.recsys.knowledge.lagrangian import PrimalDual

__all__ = ["PrimalDual", "SmallTextEncoder", "SoftInstructionExtractor", "SoftInstructionPooling", "fixed_templates"]
