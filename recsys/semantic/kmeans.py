"""Residual k-means: the training-free alternative to the RQ-VAE for semantic ids.

Level ``l`` clusters the residuals left by levels ``< l`` into ``codebook_size`` centroids
(as in hierarchical / residual quantisation baselines of generative retrieval).
"""

from __future__ import annotations

import numpy as np

from agenticrs.recsys.semantic.rqvae import kmeans_centroids


def residual_kmeans(vectors: np.ndarray, levels: int, codebook_size: int, seed: int = 0) -> np.ndarray:
    """``[n, d]`` vectors -> ``[n, levels]`` int64 codes in ``0..codebook_size-1``."""
    residual = np.asarray(vectors, dtype=np.float32).copy()
    codes = np.zeros((len(residual), levels), dtype=np.int64)
    for level in range(levels):
        centroids = kmeans_centroids(residual, codebook_size, seed + level)
        d2 = (residual**2).sum(1, keepdims=True) - 2 * residual @ centroids.T + (centroids**2).sum(1)
        codes[:, level] = d2.argmin(1)
        residual -= centroids[codes[:, level]]
    return codes
