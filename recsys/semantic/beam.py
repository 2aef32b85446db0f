"""Beam search over semantic-id tokens, constrained by the prefix trie to ids of real items."""

from __future__ import annotations

from typing import Callable

import torch

from agenticrs.recsys.semantic.trie import SemanticIdTrie

StepFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``step(rows [N], prefix [N, t]) -> log-probs [N, vocab]`` of the token at position ``t``;
``rows`` says which batch element each beam belongs to."""


@torch.no_grad()
def constrained_beam_search(
    step: StepFn,
    trie: SemanticIdTrie,
    batch_size: int,
    beam: int,
    *,
    banned: torch.Tensor | None = None,
    renormalise: bool = False,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``beam`` most likely VALID item ids for each of ``batch_size`` inputs.

    Every kept beam is a prefix of some item's id at every step (invalid tokens get -inf
    before the top-k), so the finished beams are always real, distinct items.

    Args:
        step: next-token log-probabilities (see :data:`StepFn`).
        trie: valid ids.
        batch_size: number of inputs ``B``.
        beam: beams kept per input.
        banned: optional ``[B, n_items + 1]`` bool, items that may not be emitted for that
            input (e.g. its history), applied at the last token.
        renormalise: ``step`` returns logits, normalised here over the valid tokens only
            (for a model trained with the same trie-masked softmax).

    Returns:
        ``items [B, beam]`` item ids (``0`` for beams left without a valid item) and
        ``scores [B, beam]`` their log-probabilities (``-inf`` for those), best first.
    """
    vocab = trie.vocab
    rows = torch.arange(batch_size, device=device)
    prefix = torch.zeros(batch_size, 1, 0, dtype=torch.long, device=device)  # [B, k, t]
    nodes = torch.zeros(batch_size, 1, dtype=torch.long, device=device)  # [B, k]
    scores = torch.zeros(batch_size, 1, device=device)  # [B, k]
    for level in range(trie.depth):
        k = prefix.shape[1]
        flat_rows = rows.repeat_interleave(k)
        logp = step(flat_rows, prefix.reshape(batch_size * k, level)).float()  # [B*k, V]
        valid, child = trie.step(level, nodes.reshape(-1))  # [B*k, V] each
        if banned is not None and level == trie.depth - 1:
            valid = valid & ~banned[flat_rows.unsqueeze(1), child]
        logp = logp.masked_fill(~valid, float("-inf"))
        if renormalise:  # a beam with no valid token is already at -inf: keep it there, not NaN
            logp = torch.where(valid, logp.log_softmax(-1), logp)
        cand = (scores.reshape(-1, 1) + logp).view(batch_size, k * vocab)
        scores, idx = cand.topk(min(beam, k * vocab), dim=1)  # [B, k']
        parent, token = idx // vocab, idx % vocab
        prefix = torch.cat([prefix.gather(1, parent.unsqueeze(-1).expand(-1, -1, level)), token.unsqueeze(-1)], -1)
        nodes = child.view(batch_size, k * vocab).gather(1, idx)
    items = torch.where(torch.isfinite(scores), nodes, torch.zeros_like(nodes))
    return items, scores
