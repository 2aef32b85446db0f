"""TIGER: generative retrieval with semantic ids (Rajput et al., NeurIPS 2023).

Items are short token tuples (semantic ids, :mod:`agenticrs.recsys.semantic`) quantised
from their text vectors. An encoder-decoder transformer reads the user's history as
semantic-id tokens, preceded by one hashed user token, and the decoder generates the next
item's id token by token. Inference is beam search constrained by the prefix trie of valid
ids; the ranked beams become scores (beam log-probability, ``-inf`` for items outside the
beam) so the same full-ranking Recall/NDCG apply as for every other model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agenticrs.recsys.data.dataset import PAD, Dataset, Split
from agenticrs.recsys.models.base import ModelConfig, Recommender, register_model
from agenticrs.recsys.semantic import SemanticIdConfig, SemanticIds, build_semantic_ids
from agenticrs.recsys.semantic.beam import constrained_beam_search
from agenticrs.recsys.text import encode_items

_HASH = 2654435761  # Knuth's multiplicative hash: spreads consecutive user indices over buckets


@dataclass
class TIGERConfig(ModelConfig):
    """TIGER hyperparameters; the defaults are a CPU-sized version of the paper's (4+4 layers, d=128)."""

    max_len: int = 20
    """History items read (the paper: 20)."""
    embedding_dim: int = 128
    encoder_layers: int = 2
    decoder_layers: int = 2
    heads: int = 4
    ff_dim: int = 512
    dropout: float = 0.1
    sample_positions: int = 0
    """Targets per user per epoch: 0 = every prefix of every sequence (the paper); k > 0 = at
    most k random positions per user, which makes a CPU epoch several times cheaper."""
    bucket_by_length: bool = True
    """Group training targets of similar history length into batches (shuffled in chunks),
    so the encoder pads to the batch's longest history rather than to ``max_len``: on
    Beauty (mean history 6.7 of 20 items) this makes an epoch about 2.4x cheaper on a CPU."""
    masked_loss: bool = False
    """Normalise each digit's training softmax over the tokens that continue a valid id
    (the prefix trie), as constrained decoding does, instead of over the whole codebook (the
    paper). The model then never spends capacity on learning which ids exist; decoding
    renormalises over the same tokens."""
    user_buckets: int = 2000
    """Hash buckets of the user token (the paper: 2000)."""
    beam_size: int = 20
    """Beams kept when decoding; items outside the final beams score ``-inf``."""
    decode_batch: int = 128
    """Users decoded together (bounds beam-search memory: ``decode_batch * beam_size`` memories)."""
    beam_excludes_history: bool = True
    """Forbid history items at the last decoding step, so all beams are rankable items
    (the evaluator masks history items anyway)."""
    text_encoder: str = "tfidf:dim=128"
    """Item text encoder spec (:func:`agenticrs.recsys.text.make_encoder`)."""
    id_method: str = "rqvae"
    """Semantic ids: ``rqvae`` or ``rkmeans``."""
    id_levels: int = 3
    codebook_size: int = 256
    id_latent_dim: int = 32
    id_epochs: int = 300
    id_seed: int = 0
    cache: bool = True
    """Cache item text vectors and semantic ids on disk (per dataset and config)."""

    def __post_init__(self) -> None:
        if self.sample_positions < 0:
            raise ValueError(f"{type(self).__name__}: field 'sample_positions' must be >= 0, got {self.sample_positions}")
        for name in ("max_len", "embedding_dim", "encoder_layers", "decoder_layers", "heads", "ff_dim",
                     "user_buckets", "beam_size", "decode_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{type(self).__name__}: field {name!r} must be >= 1, got {getattr(self, name)}")
        if self.embedding_dim % self.heads:
            raise ValueError(f"{type(self).__name__}: embedding_dim ({self.embedding_dim}) must be divisible "
                             f"by heads ({self.heads})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"{type(self).__name__}: field 'dropout' must be in [0, 1), got {self.dropout}")
        self.id_config()  # validates id_method, id_levels...

    def id_config(self) -> SemanticIdConfig:
        return SemanticIdConfig(method=self.id_method, levels=self.id_levels, codebook_size=self.codebook_size,
                                latent_dim=self.id_latent_dim, epochs=self.id_epochs, seed=self.id_seed)


class TigerBatch(NamedTuple):
    """Next-item examples: every (history prefix, next item) pair of the training sequences.

    Attributes:
        users: ``[B]`` dense user indices.
        histories: ``[B, W]`` left-padded item ids (``W <= max_len``).
        targets: ``[B]`` the next item.
    """

    users: torch.Tensor
    histories: torch.Tensor
    targets: torch.Tensor


def prefix_pairs(train: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All (user, position) next-item pairs of ``train``.

    Returns:
        ``flat`` (all items concatenated), ``offsets [n_users + 1]``, and for each pair the
        ``user`` and the ``position`` of its target inside the user's sequence (``>= 1``).
    """
    lengths = np.fromiter((len(s) for s in train), dtype=np.int64, count=len(train))
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    flat = np.concatenate(train).astype(np.int64) if len(train) else np.zeros(0, np.int64)
    n_pairs = np.maximum(lengths - 1, 0)
    users = np.repeat(np.arange(len(train)), n_pairs)
    position = np.arange(n_pairs.sum()) - np.repeat(np.cumsum(n_pairs) - n_pairs, n_pairs) + 1
    return flat, offsets, users, position


def length_buckets(order: np.ndarray, lengths: np.ndarray, batch_size: int, rng: np.random.Generator,
                   chunk_batches: int = 50) -> list[np.ndarray]:
    """Cut a shuffled ``order`` into batches of similar ``lengths [len(order)]``.

    Each chunk of ``chunk_batches`` batches is sorted by length (stably, so ties keep their
    random order) and cut into batches; the batches are then shuffled, so consecutive
    steps still see different lengths and every target is used once.
    """
    batches: list[np.ndarray] = []
    chunk = batch_size * chunk_batches
    for lo in range(0, len(order), chunk):
        part = order[lo : lo + chunk]
        part = part[np.argsort(lengths[lo : lo + chunk], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def gather_histories(flat: np.ndarray, offsets: np.ndarray, users: np.ndarray, position: np.ndarray,
                     max_len: int) -> np.ndarray:
    """``[n, max_len]`` left-padded histories: the ``max_len`` items before each pair's target."""
    start = offsets[users] + position  # global index of the target
    idx = start[:, None] - max_len + np.arange(max_len)
    valid = idx >= offsets[users][:, None]
    return np.where(valid, flat[np.clip(idx, 0, None)], PAD)


@register_model("tiger")
class TIGER(Recommender):
    """Encoder-decoder over semantic-id tokens with trie-constrained beam search.

    Requires a dataset with item text (the semantic ids are built from it at construction,
    cached per dataset and config; ``prep_seconds`` records the time that took).
    """

    Config = TIGERConfig
    config: TIGERConfig

    def __init__(self, n_items: int, n_users: int, config: TIGERConfig, dataset: Dataset | None = None):
        super().__init__(n_items, n_users, config, dataset)
        if dataset is None:
            raise ValueError(f"{self.name or 'tiger'}: needs the dataset (item text) to build semantic ids")
        start = time.perf_counter()
        self.item_vectors = encode_items(dataset, config.text_encoder, cache=config.cache)  # [n_items+1, text_dim]
        key = {"dataset": dataset.fingerprint(), "text": config.text_encoder}
        self.ids: SemanticIds = build_semantic_ids(self.item_vectors, config.id_config(), cache_key=key,
                                                   cache=config.cache)
        self.prep_seconds = time.perf_counter() - start
        self.depth, self.vocab = self.ids.depth, self.ids.vocab
        d = config.embedding_dim
        self.register_buffer("codes", torch.from_numpy(self.ids.codes.clip(min=0)), persistent=False)
        if config.masked_loss:
            masks, paths = self.ids.trie.transition_masks(self.ids.codes)
            self.register_buffer("next_masks", masks, persistent=False)  # [n_nodes, vocab]
            self.register_buffer("id_paths", paths, persistent=False)  # [n_items + 1, depth]
        # Encoder tokens: 0 = padding, 1 + digit * vocab + code otherwise.
        self.enc_tok = nn.Embedding(1 + self.depth * self.vocab, d, padding_idx=0)
        self.enc_pos = nn.Embedding(config.max_len + 1, d)  # item positions; max_len = the user token
        self.enc_digit = nn.Embedding(self.depth, d)
        self.user_emb = nn.Embedding(config.user_buckets, d)
        # Decoder tokens: 0 = BOS, 1 + digit * vocab + code; output heads are tied to these rows.
        self.dec_tok = nn.Embedding(1 + self.depth * self.vocab, d)
        self.dec_pos = nn.Embedding(self.depth, d)
        self.drop = nn.Dropout(config.dropout)
        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(d, config.heads, config.ff_dim, config.dropout, batch_first=True,
                                       norm_first=True),
            config.encoder_layers, norm=nn.LayerNorm(d), enable_nested_tensor=False,
        )
        self.decoder = nn.TransformerDecoder(
            nn.TransformerDecoderLayer(d, config.heads, config.ff_dim, config.dropout, batch_first=True,
                                       norm_first=True),
            config.decoder_layers, norm=nn.LayerNorm(d),
        )
        nn.init.normal_(self.dec_tok.weight, std=d**-0.5)
        self._pairs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    # ------------------------------------------------------------------ model
    def user_tokens(self, users: torch.Tensor) -> torch.Tensor:
        """``[B]`` user indices -> ``[B]`` hash buckets."""
        return (users.long() * _HASH) % self.config.user_buckets

    def encode(self, users: torch.Tensor, histories: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """History -> encoder memory.

        Args:
            users: ``[B]``; histories: ``[B, L]`` left-padded item ids, most recent last.

        Returns:
            ``memory [B, 1 + W * depth, D]`` (user token first, ``W`` = longest real history
            in the batch) and ``pad [B, 1 + W * depth]`` bool, True at padding.
        """
        hist = histories[:, -self.config.max_len :]
        width = int((hist != PAD).sum(1).max()) if hist.numel() else 0
        hist = hist[:, hist.shape[1] - width :]
        b = hist.shape[0]
        digits = torch.arange(self.depth, device=hist.device)
        tokens = 1 + digits * self.vocab + self.codes[hist]  # [B, W, depth]
        tokens = tokens.masked_fill((hist == PAD).unsqueeze(-1), 0).view(b, width * self.depth)
        pos = torch.arange(self.config.max_len - width, self.config.max_len, device=hist.device)
        x = (self.enc_tok(tokens).view(b, width, self.depth, -1) + self.enc_pos(pos)[None, :, None]
             + self.enc_digit(digits)[None, None]).view(b, width * self.depth, -1)
        user = self.user_emb(self.user_tokens(users)) + self.enc_pos.weight[self.config.max_len]
        x = torch.cat([user.unsqueeze(1), x], 1)
        pad = torch.cat([torch.zeros(b, 1, dtype=torch.bool, device=hist.device), tokens == 0], 1)
        return self.encoder(self.drop(x), src_key_padding_mask=pad), pad

    def context(self, users: torch.Tensor, histories: torch.Tensor, batch: object | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """What the decoder attends to: ``memory [B, S, D]`` and an additive key bias ``[B, S]``
        (0 = attend, ``-inf`` = padding). LWGR appends knowledge tokens here."""
        memory, pad = self.encode(users, histories)
        return memory, torch.zeros(pad.shape, device=memory.device).masked_fill(pad, float("-inf"))

    def decode(self, memory: torch.Tensor, bias: torch.Tensor, prefix: torch.Tensor) -> torch.Tensor:
        """``prefix [N, t]`` id tokens (digits ``0..t-1``) -> logits ``[N, t + 1, vocab]`` of digits ``0..t``."""
        n, t = prefix.shape
        digits = torch.arange(t + 1, device=prefix.device)
        dec_in = torch.cat([torch.zeros(n, 1, dtype=torch.long, device=prefix.device),
                            1 + digits[:t] * self.vocab + prefix], 1)
        x = self.drop(self.dec_tok(dec_in) + self.dec_pos(digits))
        causal = nn.Transformer.generate_square_subsequent_mask(t + 1, device=prefix.device)
        h = self.decoder(x, memory, tgt_mask=causal, memory_key_padding_mask=bias)  # [N, t+1, D]
        heads = self.dec_tok.weight[1:].view(self.depth, self.vocab, -1)[: t + 1]  # tied output rows
        return torch.einsum("ntd,tvd->ntv", h, heads)

    def decode_beams(self, memory: torch.Tensor, bias: torch.Tensor, prefix: torch.Tensor) -> torch.Tensor:
        """Inference twin of :meth:`decode` for beam search, without copying the memory per beam.

        The decoder layers' own weights are applied by hand so that the cross-attention of
        all ``k`` beams of a user runs as one query block against that user's memory
        (``[B, k * (t + 1)]`` queries), instead of ``B * k`` copies of the memory. Dropout is
        not applied: call it in eval mode only.

        Args:
            memory: ``[B, S, D]``; bias: ``[B, S]`` additive key bias; prefix: ``[B, k, t]`` tokens.

        Returns:
            ``[B, k, vocab]`` logits of digit ``t``.
        """
        b, k, t = prefix.shape
        d = memory.shape[-1]
        digits = torch.arange(t + 1, device=prefix.device)
        dec_in = torch.cat([torch.zeros(b, k, 1, dtype=torch.long, device=prefix.device),
                            1 + digits[:t] * self.vocab + prefix], -1)
        x = (self.dec_tok(dec_in) + self.dec_pos(digits)).view(b * k, t + 1, d)
        causal = nn.Transformer.generate_square_subsequent_mask(t + 1, device=prefix.device)
        key_bias = bias[:, None, None, :].to(x.dtype)  # [B, 1, 1, S], broadcast over heads and queries
        for layer in self.decoder.layers:
            y = layer.norm1(x)
            x = x + layer.self_attn(y, y, y, attn_mask=causal, need_weights=False)[0]
            x = x + self._cross_attention(layer.multihead_attn, layer.norm2(x).view(b, k * (t + 1), d), memory,
                                          key_bias).view(b * k, t + 1, d)
            x = x + layer.linear2(layer.activation(layer.linear1(layer.norm3(x))))
        h = self.decoder.norm(x).view(b, k, t + 1, d)[:, :, -1]  # [B, k, D]
        head = self.dec_tok.weight[1 + t * self.vocab : 1 + (t + 1) * self.vocab]  # tied output rows [V, D]
        return h @ head.T

    @staticmethod
    def _cross_attention(mha: nn.MultiheadAttention, queries: torch.Tensor, memory: torch.Tensor,
                         key_bias: torch.Tensor) -> torch.Tensor:
        """``mha`` (packed in-projection) on ``queries [B, Q, D]`` against ``memory [B, S, D]``."""
        b, q_len, d = queries.shape
        h = mha.num_heads
        wq, wk, wv = mha.in_proj_weight.chunk(3)
        bq, bk, bv = mha.in_proj_bias.chunk(3)

        def heads(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
            return F.linear(x, w, bias).view(b, -1, h, d // h).transpose(1, 2)

        out = F.scaled_dot_product_attention(heads(queries, wq, bq), heads(memory, wk, bk), heads(memory, wv, bv),
                                             attn_mask=key_bias)
        return mha.out_proj(out.transpose(1, 2).reshape(b, q_len, d))

    def id_loss(self, memory: torch.Tensor, bias: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """``[B]`` per-example cross-entropy of the targets' ids (summed over digits, teacher forcing)."""
        codes = self.codes[targets]  # [B, depth]
        logits = self.decode(memory, bias, codes[:, :-1])  # [B, depth, V]
        if self.config.masked_loss:
            logits = logits.masked_fill(~self.next_masks[self.id_paths[targets]], float("-inf"))
        return F.cross_entropy(logits.transpose(1, 2), codes, reduction="none").sum(1)

    # ------------------------------------------------------------------ training hooks
    def fit(self, split: Split) -> None:
        self._pairs = prefix_pairs(split.train)
        if not len(self._pairs[2]):
            raise ValueError(f"{self.name}: no training sequence has 2 or more items")

    def batches(self, train: list[np.ndarray], batch_size: int, rng: np.random.Generator) -> Iterator[TigerBatch]:
        flat, offsets, users, position = self._pairs if self._pairs is not None else prefix_pairs(train)
        order = rng.permutation(len(users))
        if self.config.sample_positions:
            # Keep each user's first k pairs in the random order: at most k targets per user this epoch.
            order = order[np.lexsort((np.arange(len(order)), users[order]))]  # grouped by user, random within
            counts = np.bincount(users[order], minlength=int(users.max()) + 1)
            rank = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
            order = rng.permutation(order[rank < self.config.sample_positions])
        if self.config.bucket_by_length:
            batches = length_buckets(order, np.minimum(position[order], self.config.max_len), batch_size, rng)
        else:
            batches = [order[lo : lo + batch_size] for lo in range(0, len(order), batch_size)]
        for idx in batches:
            hist = gather_histories(flat, offsets, users[idx], position[idx], self.config.max_len)
            yield TigerBatch(torch.from_numpy(users[idx]), torch.from_numpy(hist),
                             torch.from_numpy(flat[offsets[users[idx]] + position[idx]]))

    def loss(self, batch: TigerBatch) -> torch.Tensor:
        memory, bias = self.context(batch.users, batch.histories, batch)
        return self.id_loss(memory, bias, batch.targets).mean()

    # ------------------------------------------------------------------ inference
    def generate(self, memory: torch.Tensor, bias: torch.Tensor, histories: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Constrained beam search: ``items [B, beam]`` and their log-probabilities ``[B, beam]``."""
        b = memory.shape[0]
        banned = None
        if histories is not None and self.config.beam_excludes_history:
            banned = torch.zeros(b, self.n_items + 1, dtype=torch.bool, device=memory.device)
            banned.scatter_(1, histories, True)

        renormalise = self.config.masked_loss  # then the beam search normalises over valid tokens

        def step(rows: torch.Tensor, prefix: torch.Tensor) -> torch.Tensor:
            if self.training:  # dropout: the reference path
                logits = self.decode(memory[rows], bias[rows], prefix)[:, -1]
            else:  # Beams come grouped by input, k each (rows = 0,0,..,1,1,..): decode them per input.
                k = len(rows) // b
                logits = self.decode_beams(memory, bias, prefix.view(b, k, -1)).view(b * k, -1)
            return logits if renormalise else logits.log_softmax(-1)

        return constrained_beam_search(step, self.ids.trie.to(memory.device), b, self.config.beam_size,
                                       banned=banned, renormalise=renormalise, device=memory.device)

    def scores_from_beams(self, items: torch.Tensor, logp: torch.Tensor) -> torch.Tensor:
        """Beams -> ``[B, n_items + 1]``: the beam log-probability, ``-inf`` for other items."""
        out = torch.full((items.shape[0], self.n_items + 1), float("-inf"), device=items.device)
        out.scatter_(1, items, logp)
        out[:, PAD] = float("-inf")  # empty beams point at the padding column
        return out

    def score(self, users: torch.Tensor, histories: torch.Tensor) -> torch.Tensor:
        # Users are decoded in chunks: each beam step copies the memory once per beam.
        chunks = []
        for lo in range(0, len(users), self.config.decode_batch):
            u, h = users[lo : lo + self.config.decode_batch], histories[lo : lo + self.config.decode_batch]
            memory, bias = self.context(u, h)
            chunks.append(self.scores_from_beams(*self.generate(memory, bias, h)))
        return torch.cat(chunks) if chunks else torch.zeros(0, self.n_items + 1, device=histories.device)
