"""Prefix trie of the valid semantic ids, as sorted transition tables for vectorised lookups.

Constrained beam search asks, for thousands of beams at once, "which next tokens keep this
prefix a prefix of some item's id?". Every prefix is a node (the root is node 0); level
``d`` stores the valid transitions ``node * vocab + token`` sorted, so a batch of candidate
(node, token) pairs is checked with one ``torch.searchsorted``. At the last level the
transition's value is the item id itself.
"""

from __future__ import annotations

import numpy as np
import torch


class SemanticIdTrie:
    """Valid-prefix lookups over ``codes [n_items + 1, depth]`` (row 0, padding, is ignored).

    Args:
        codes: every item's full semantic id; rows ``1..n_items`` must be unique.
        vocab: tokens per level (an upper bound on every level's codes).
    """

    def __init__(self, codes: np.ndarray, vocab: int):
        codes = np.asarray(codes, dtype=np.int64)
        self.depth, self.vocab = codes.shape[1], int(vocab)
        real = codes[1:]
        if real.size and (real.min() < 0 or real.max() >= vocab):
            raise ValueError(f"semantic id tokens must lie in 0..{vocab - 1}")
        if len(np.unique(real, axis=0)) != len(real):
            raise ValueError("semantic ids are not unique: add the collision level before building the trie")
        keys, values = [], []
        parent = np.zeros(len(real), dtype=np.int64)  # every item starts at the root, node 0
        for level in range(self.depth):
            key = parent * self.vocab + real[:, level]
            if level == self.depth - 1:
                child = np.arange(1, len(real) + 1, dtype=np.int64)  # leaves are item ids
                uniq, first = np.unique(key, return_index=True)
                child = child[first]
            else:
                uniq, inverse = np.unique(key, return_inverse=True)
                child = np.arange(len(uniq), dtype=np.int64)
                parent = inverse.reshape(-1)
            keys.append(torch.from_numpy(uniq))
            values.append(torch.from_numpy(child))
        self.keys, self.values = keys, values

    def to(self, device: torch.device | str) -> "SemanticIdTrie":
        self.keys = [k.to(device) for k in self.keys]
        self.values = [v.to(device) for v in self.values]
        return self

    def step(self, level: int, nodes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Valid next tokens of ``nodes [N]`` at ``level``.

        Returns:
            ``valid [N, vocab]`` bool and ``child [N, vocab]`` (next node, or the item id at the
            last level; meaningless where not valid).
        """
        keys, values = self.keys[level], self.values[level]
        cand = nodes.unsqueeze(1) * self.vocab + torch.arange(self.vocab, device=nodes.device)  # [N, vocab]
        pos = torch.searchsorted(keys, cand).clamp(max=len(keys) - 1)
        return keys[pos] == cand, values[pos]

    def transition_masks(self, codes: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Dense next-token masks of every trie node, and where each item's id passes.

        Teacher-forced training needs, for each target and digit, which tokens continue a
        valid id after the target's own prefix; a dense table (a few MB for 12k items)
        makes that one gather per batch.

        Args:
            codes: ``[n_items + 1, depth]`` the ids this trie was built from (row 0 ignored).

        Returns:
            ``masks [n_nodes, vocab]`` bool over all levels' nodes (the root is row 0), and
            ``paths [n_items + 1, depth]`` the row of ``masks`` each item's digit ``d`` is
            chosen at (row 0 for the padding item).
        """
        sizes = [1] + [len(k) for k in self.keys[:-1]]  # parents of level d = nodes made by level d - 1
        offsets = np.r_[0, np.cumsum(sizes)]
        masks = torch.zeros(int(offsets[-1]), self.vocab, dtype=torch.bool)
        for level, keys in enumerate(self.keys):
            keys = keys.cpu()
            masks[offsets[level] + keys // self.vocab, keys % self.vocab] = True
        real = torch.from_numpy(np.asarray(codes, dtype=np.int64)[1:])
        paths = torch.zeros(len(real) + 1, self.depth, dtype=torch.long)
        nodes = torch.zeros(len(real), dtype=torch.long)
        for level in range(self.depth):
            paths[1:, level] = int(offsets[level]) + nodes
            if level < self.depth - 1:
                _, child = self.step(level, nodes.to(self.keys[level].device))
                nodes = child.cpu().gather(1, real[:, level : level + 1]).squeeze(1)
        return masks, paths

    def lookup(self, ids: torch.Tensor) -> torch.Tensor:
        """Item id of each full semantic id ``ids [N, depth]``; ``0`` where no item has that id."""
        nodes = torch.zeros(len(ids), dtype=torch.long, device=ids.device)
        ok = torch.ones(len(ids), dtype=torch.bool, device=ids.device)
        for level in range(self.depth):
            valid, child = self.step(level, nodes)
            tok = ids[:, level].clamp(0, self.vocab - 1)
            ok &= valid.gather(1, tok[:, None]).squeeze(1) & (ids[:, level] >= 0) & (ids[:, level] < self.vocab)
            nodes = torch.where(ok, child.gather(1, tok[:, None]).squeeze(1), torch.zeros_like(nodes))
        return torch.where(ok, nodes, torch.zeros_like(nodes))
