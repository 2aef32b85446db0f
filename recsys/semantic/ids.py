"""Semantic ids of items: quantised text vectors plus a collision-resolving token.

``build_semantic_ids(vectors, config)`` runs the RQ-VAE (or residual k-means) on the item
text vectors and appends one more token that numbers the items sharing the same codes
(0, 1, 2...), so every item's id is unique (TIGER, Section 3.1). The result carries the
prefix trie used by constrained decoding.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass

import numpy as np

from agenticrs.recsys.semantic.trie import SemanticIdTrie

logger = logging.getLogger(__name__)

ALGORITHM_VERSION = 2
"""Part of the cache key: bump when quantisation changes what it produces (2: dead-code restarts)."""


@dataclass
class SemanticIdConfig:
    """How item ids are quantised (``levels`` codes + 1 collision token)."""

    method: str = "rqvae"
    """``rqvae`` or ``rkmeans`` (residual k-means, no training)."""
    levels: int = 3
    codebook_size: int = 256
    latent_dim: int = 32
    """RQ-VAE latent size."""
    epochs: int = 300
    """RQ-VAE training epochs over the items."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in ("rqvae", "rkmeans"):
            raise ValueError(f"semantic ids: field 'method' must be 'rqvae' or 'rkmeans', got {self.method!r}")
        for name in ("levels", "codebook_size", "latent_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"semantic ids: field {name!r} must be >= 1, got {getattr(self, name)}")


@dataclass
class SemanticIds:
    """Unique item ids as token tuples.

    Attributes:
        codes: ``[n_items + 1, levels + 1]`` int64; row 0 (padding) is all ``-1``.
        vocab: tokens per position (max of ``codebook_size`` and the collision count).
        trie: valid-prefix lookups for constrained decoding.
    """

    codes: np.ndarray
    vocab: int
    trie: SemanticIdTrie

    @property
    def depth(self) -> int:
        return self.codes.shape[1]

    @property
    def max_collisions(self) -> int:
        """Largest number of items that share the quantised codes (``1`` = no collision)."""
        return int(self.codes[1:, -1].max()) + 1 if len(self.codes) > 1 else 1

    def decode(self, ids: np.ndarray) -> np.ndarray:
        """Item ids of ``[N, depth]`` semantic ids (``0`` for ids no item has)."""
        import torch

        return self.trie.lookup(torch.as_tensor(np.asarray(ids, dtype=np.int64))).numpy()

    @classmethod
    def from_codes(cls, codes: np.ndarray, codebook_size: int) -> "SemanticIds":
        """Append the collision token to ``[n_items + 1, levels]`` codes (row 0 ignored)."""
        codes = np.asarray(codes, dtype=np.int64)
        real = codes[1:]
        _, group = np.unique(real, axis=0, return_inverse=True)
        group = group.reshape(-1)
        # Rank of each item within its group, in item-id order (stable -> deterministic).
        order = np.argsort(group, kind="stable")
        starts = np.r_[0, np.flatnonzero(np.diff(group[order])) + 1]
        rank = np.empty(len(real), dtype=np.int64)
        rank[order] = np.arange(len(real)) - np.repeat(starts, np.diff(np.r_[starts, len(real)]))
        full = np.full((len(codes), codes.shape[1] + 1), -1, dtype=np.int64)
        full[1:, :-1], full[1:, -1] = real, rank
        vocab = max(codebook_size, int(rank.max()) + 1 if len(rank) else 1)
        return cls(full, vocab, SemanticIdTrie(full, vocab))


def quantise(vectors: np.ndarray, config: SemanticIdConfig) -> np.ndarray:
    """``[n, d]`` vectors -> ``[n, levels]`` codes with the configured method."""
    if config.method == "rkmeans":
        from agenticrs.recsys.semantic.kmeans import residual_kmeans

        return residual_kmeans(vectors, config.levels, config.codebook_size, config.seed)
    from agenticrs.recsys.semantic.rqvae import RQVAEConfig, train_rqvae

    return train_rqvae(vectors, RQVAEConfig(levels=config.levels, codebook_size=config.codebook_size,
                                            latent_dim=config.latent_dim, epochs=config.epochs, seed=config.seed))


def build_semantic_ids(item_vectors: np.ndarray, config: SemanticIdConfig, *, cache_key: dict | None = None,
                       cache: bool = True) -> SemanticIds:
    """Semantic ids of items ``1..n`` from ``item_vectors [n + 1, d]`` (row 0 = padding).

    With ``cache_key`` (e.g. the dataset fingerprint and text encoder config), the codes are
    cached on disk next to the text vectors, keyed also by ``config``.
    """
    from agenticrs.recsys.text.cache import cached_array

    def compute() -> np.ndarray:
        # Minutes on a large catalogue (75 s for 4,382 items on a loaded 2-core CPU): say so, since
        # the CLI's --max-seconds counts it and nothing else prints meanwhile.
        logger.info("building semantic ids for %d items (%s, %d epochs)%s", len(item_vectors) - 1, config.method,
                    config.epochs, "; cached for the next run" if cache_key is not None and cache else "")
        start = time.perf_counter()
        codes = np.full((len(item_vectors), config.levels), -1, dtype=np.int64)
        codes[1:] = quantise(item_vectors[1:], config)
        logger.info("semantic ids built in %.0fs", time.perf_counter() - start)
        return codes

    if cache_key is None:
        codes = compute()
    else:
        key = {**cache_key, "semantic": dataclasses.asdict(config), "algorithm": ALGORITHM_VERSION}
        codes = cached_array("semantic_ids", key, compute, cache=cache)
    return SemanticIds.from_codes(codes, config.codebook_size)
