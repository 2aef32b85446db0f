"""Residual-quantised VAE (RQ-VAE, Zeghidour et al. 2021; used for semantic ids by TIGER, Rajput et al. 2023).

An MLP encoder maps an item's text vector to a latent ``z``; ``levels`` codebooks quantise it
residually (level ``l`` quantises what levels ``< l`` left over); an MLP decoder reconstructs
the text vector from the sum of the chosen code vectors. Codebooks are initialised with
k-means on the first batch's residuals (TIGER's fix for codebook collapse), and the
straight-through estimator passes reconstruction gradients to the encoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class RQVAEConfig:
    """RQ-VAE hyperparameters (TIGER: latent 32, 3 levels x 256 codes, beta 0.25)."""

    levels: int = 3
    codebook_size: int = 256
    latent_dim: int = 32
    hidden: tuple[int, ...] = (256, 128)
    beta: float = 0.25
    """Commitment weight: pulls the encoder output towards its code vectors."""
    epochs: int = 300
    batch_size: int = 1024
    lr: float = 1e-3
    restart_dead: bool = True
    """Re-seed unused codes on data residuals after each epoch of the first half of training."""
    seed: int = 0


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


def kmeans_centroids(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """``k`` k-means centroids of ``[n, d]`` points (repeats points when ``n < k``)."""
    from sklearn.cluster import KMeans

    if len(x) < k:  # too few points: every point is a centroid, the rest are jittered copies
        rng = np.random.default_rng(seed)
        extra = x[rng.integers(0, len(x), k - len(x))] + 1e-3 * rng.standard_normal((k - len(x), x.shape[1]))
        return np.concatenate([x, extra]).astype(np.float32)
    return KMeans(n_clusters=k, n_init=1, random_state=seed).fit(x).cluster_centers_.astype(np.float32)


class RQVAE(nn.Module):
    """``[n, in_dim]`` vectors -> ``[n, levels]`` codes in ``0..codebook_size-1``."""

    def __init__(self, in_dim: int, config: RQVAEConfig):
        super().__init__()
        self.config = config
        self.encoder = _mlp([in_dim, *config.hidden, config.latent_dim])
        self.decoder = _mlp([config.latent_dim, *reversed(config.hidden), in_dim])
        self.codebooks = nn.Parameter(torch.zeros(config.levels, config.codebook_size, config.latent_dim))
        self.initialised = False

    def quantise(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``z [n, latent]`` -> codes ``[n, levels]``, quantised sum ``[n, latent]``, per-level loss (scalar)."""
        residual, quantised = z, torch.zeros_like(z)
        codes, vq_loss = [], z.new_zeros(())
        for level in range(self.config.levels):
            book = self.codebooks[level]  # [K, latent]
            idx = torch.cdist(residual, book).argmin(1)  # [n]
            chosen = book[idx]
            # Codebook term moves codes to the (fixed) residuals; commitment term the reverse.
            vq_loss = vq_loss + F.mse_loss(chosen, residual.detach()) + self.config.beta * F.mse_loss(residual, chosen.detach())
            quantised = quantised + chosen
            residual = residual - chosen.detach()
            codes.append(idx)
        return torch.stack(codes, 1), quantised, vq_loss

    @torch.no_grad()
    def init_codebooks(self, x: torch.Tensor) -> None:
        """K-means on each level's residuals of the encoded ``x`` (avoids dead codes at the start)."""
        residual = self.encoder(x)
        for level in range(self.config.levels):
            centroids = torch.from_numpy(kmeans_centroids(residual.cpu().numpy(), self.config.codebook_size,
                                                          self.config.seed + level)).to(x.device)
            self.codebooks[level].copy_(centroids)
            residual = residual - centroids[torch.cdist(residual, centroids).argmin(1)]
        self.initialised = True

    @torch.no_grad()
    def restart_dead_codes(self, x: torch.Tensor, used: torch.Tensor, gen: torch.Generator) -> int:
        """Move codes no item chose (``used [levels, K]`` False) onto random residuals of ``x``.

        Dead codes waste id space and raise collisions; re-seeding them where the data is
        (a common VQ remedy) keeps the codebooks in use. Returns how many were moved.
        """
        residual, moved = self.encoder(x), 0
        for level in range(self.config.levels):
            dead = (~used[level]).nonzero().squeeze(1)
            if len(dead):
                pick = torch.randint(len(residual), (len(dead),), generator=gen)
                self.codebooks[level, dead] = residual[pick]
                moved += len(dead)
            book = self.codebooks[level]
            residual = residual - book[torch.cdist(residual, book).argmin(1)]
        return moved

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [n, in_dim]`` -> (total loss, codes ``[n, levels]``)."""
        z = self.encoder(x)
        codes, quantised, vq_loss = self.quantise(z)
        # Straight-through: the decoder sees the codes, the encoder receives their gradient.
        recon = self.decoder(z + (quantised - z).detach())
        return F.mse_loss(recon, x) + vq_loss, codes

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.quantise(self.encoder(x))[0]


def train_rqvae(vectors: np.ndarray, config: RQVAEConfig) -> np.ndarray:
    """Train an RQ-VAE on ``[n, d]`` vectors and return their ``[n, levels]`` int64 codes."""
    gen = torch.Generator().manual_seed(config.seed)
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        x = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
        model = RQVAE(x.shape[1], config)
        model.init_codebooks(x[torch.randperm(len(x), generator=gen)[: max(config.batch_size, config.codebook_size)]])
        opt = torch.optim.Adam(model.parameters(), lr=config.lr)
        for epoch in range(config.epochs):
            used = torch.zeros(config.levels, config.codebook_size, dtype=torch.bool)
            for idx in torch.randperm(len(x), generator=gen).split(config.batch_size):
                loss, codes = model(x[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                used.scatter_(1, codes.T, True)
            # Restart during the first half only, so the final codebooks have time to settle.
            if config.restart_dead and epoch < config.epochs // 2 and len(x) >= config.codebook_size:
                model.restart_dead_codes(x, used, gen)
        model.eval()
        return model.encode(x).numpy().astype(np.int64)
