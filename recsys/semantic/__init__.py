"""Semantic ids: items as short token tuples from quantised text vectors (RQ-VAE or residual
k-means) plus a collision token, with a prefix trie for constrained generation."""

from agenticrs.recsys.semantic.ids import SemanticIdConfig, SemanticIds, build_semantic_ids
from agenticrs.recsys.semantic.trie import SemanticIdTrie

__all__ = ["SemanticIdConfig", "SemanticIdTrie", "SemanticIds", "build_semantic_ids"]
