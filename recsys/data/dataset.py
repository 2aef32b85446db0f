"""The in-memory dataset every recommender, evaluator and environment consumes.

Users' item sequences are stored in CSR form (one flat item array plus offsets) so a
dataset of a few hundred thousand interactions is two numpy arrays, cheap to cache with
``np.savez`` and to slice per user.

Item ids are dense integers ``1..n_items``; ``0`` is reserved for padding everywhere
(models, batches, scores), so ``scores[:, 0]`` is always ignored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterator, NamedTuple, Sequence

import numpy as np

PAD = 0
"""Padding item id; real items are ``1..n_items``."""


class EvalSplit(NamedTuple):
    """Histories and held-out targets for validation or test.

    Attributes:
        users: ``[n]`` dense user indices.
        histories: ``n`` arrays of item ids, chronological, the input a model sees.
        targets: ``[n]`` the held-out next item of each user.
    """

    users: np.ndarray
    histories: list[np.ndarray]
    targets: np.ndarray


class Split(NamedTuple):
    """Leave-one-out split: last item test, second-to-last validation.

    Attributes:
        train: per-user training sequences (each user's sequence minus the last two items).
        valid: history = train sequence, target = second-to-last item.
        test: history = train sequence + validation item, target = last item.
    """

    train: list[np.ndarray]
    valid: EvalSplit
    test: EvalSplit


@dataclass(frozen=True, eq=False)
class Dataset:
    """Users' chronological item sequences plus optional item side information.

    Attributes:
        name: a human-readable name (for tables and logs), usually the URI it came from.
        items: ``[n_interactions]`` int64 dense item ids in ``1..n_items``, users concatenated.
        offsets: ``[n_users + 1]`` int64; user ``u``'s sequence is ``items[offsets[u]:offsets[u+1]]``.
        n_items: number of distinct items (ids ``1..n_items``).
        user_ids: ``[n_users]`` the original user ids, as strings.
        item_ids: ``[n_items + 1]`` the original item ids as strings, ``item_ids[0] == ""``.
        item_text: ``n_items + 1`` strings (titles, categories, brand), ``item_text[0] == ""``;
            ``None`` when the source has no text.
        item_attributes: ``n_items + 1`` int64 arrays of attribute ids (brand, category...),
            ``None`` when the source has none.
        timestamps: ``[n_interactions]`` float64 seconds aligned with ``items``, or ``None``.
    """

    name: str
    items: np.ndarray
    offsets: np.ndarray
    n_items: int
    user_ids: np.ndarray
    item_ids: np.ndarray
    item_text: list[str] | None = None
    item_attributes: list[np.ndarray] | None = None
    timestamps: np.ndarray | None = None
    _fingerprint: list[str] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.offsets.ndim != 1 or self.offsets[0] != 0 or self.offsets[-1] != len(self.items):
            raise ValueError("Dataset.offsets must start at 0 and end at len(items)")
        if len(self.user_ids) != self.n_users:
            raise ValueError(f"Dataset has {self.n_users} users but {len(self.user_ids)} user_ids")
        if len(self.item_ids) != self.n_items + 1:
            raise ValueError(f"Dataset has {self.n_items} items but {len(self.item_ids)} item_ids (expected n_items + 1)")
        if len(self.items) and (self.items.min() < 1 or self.items.max() > self.n_items):
            raise ValueError(f"Dataset item ids must lie in 1..{self.n_items}")
        if self.item_text is not None and len(self.item_text) != self.n_items + 1:
            raise ValueError("Dataset.item_text must have n_items + 1 entries (index 0 is padding)")
        if self.item_attributes is not None and len(self.item_attributes) != self.n_items + 1:
            raise ValueError("Dataset.item_attributes must have n_items + 1 entries (index 0 is padding)")
        if self.timestamps is not None and len(self.timestamps) != len(self.items):
            raise ValueError("Dataset.timestamps must align with items")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_sequences(
        cls,
        sequences: Sequence[Sequence[int]],
        n_items: int | None = None,
        *,
        name: str = "custom",
        user_ids: Sequence[str] | None = None,
        item_ids: Sequence[str] | None = None,
        item_text: list[str] | None = None,
        item_attributes: list[np.ndarray] | None = None,
        timestamps: Sequence[Sequence[float]] | None = None,
    ) -> "Dataset":
        """Build a dataset from already dense, chronological sequences (ids ``1..n_items``)."""
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        items = (
            np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences])
            if len(sequences)
            else np.zeros(0, dtype=np.int64)
        )
        n = int(items.max()) if n_items is None and len(items) else int(n_items or 0)
        ts = None
        if timestamps is not None:
            ts = np.concatenate([np.asarray(t, dtype=np.float64) for t in timestamps])
        return cls(
            name=name,
            items=items,
            offsets=offsets,
            n_items=n,
            user_ids=np.asarray(user_ids if user_ids is not None else [str(u) for u in range(len(sequences))]),
            item_ids=np.asarray(item_ids if item_ids is not None else [""] + [str(i) for i in range(1, n + 1)]),
            item_text=item_text,
            item_attributes=item_attributes,
            timestamps=ts,
        )

    # ------------------------------------------------------------------ access
    @property
    def n_users(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_interactions(self) -> int:
        return len(self.items)

    @property
    def lengths(self) -> np.ndarray:
        """``[n_users]`` sequence lengths."""
        return np.diff(self.offsets)

    def sequence(self, user: int) -> np.ndarray:
        """User ``user``'s chronological item ids (a view, do not modify)."""
        return self.items[self.offsets[user] : self.offsets[user + 1]]

    def sequences(self) -> Iterator[np.ndarray]:
        for u in range(self.n_users):
            yield self.sequence(u)

    def item_popularity(self) -> np.ndarray:
        """``[n_items + 1]`` interaction counts per item (index 0 is 0)."""
        return np.bincount(self.items, minlength=self.n_items + 1)

    # ------------------------------------------------------------------ split
    def split(self) -> Split:
        """Leave-one-out split; users with fewer than 3 interactions are dropped from valid/test.

        Users with fewer than three items cannot give a train, a validation and a test item;
        k-core filtering with ``k >= 3`` (the loaders' default is 5) guarantees none remain.
        """
        train: list[np.ndarray] = []
        v_users, v_hist, v_tgt, t_hist, t_tgt = [], [], [], [], []
        for u in range(self.n_users):
            seq = self.sequence(u)
            if len(seq) < 3:
                train.append(seq)
                continue
            train.append(seq[:-2])
            v_users.append(u)
            v_hist.append(seq[:-2])
            v_tgt.append(seq[-2])
            t_hist.append(seq[:-1])
            t_tgt.append(seq[-1])
        users = np.asarray(v_users, dtype=np.int64)
        return Split(
            train=train,
            valid=EvalSplit(users, v_hist, np.asarray(v_tgt, dtype=np.int64)),
            test=EvalSplit(users, t_hist, np.asarray(t_tgt, dtype=np.int64)),
        )

    # ------------------------------------------------------------------ identity
    def fingerprint(self) -> str:
        """A content hash (sequences and side information), stable across processes."""
        if not self._fingerprint:
            h = hashlib.sha256()
            h.update(np.ascontiguousarray(self.items, dtype=np.int64).tobytes())
            h.update(np.ascontiguousarray(self.offsets, dtype=np.int64).tobytes())
            h.update(str(self.n_items).encode())
            if self.item_text is not None:
                h.update("\x1f".join(self.item_text).encode())
            if self.item_attributes is not None:
                for a in self.item_attributes:
                    h.update(np.ascontiguousarray(a, dtype=np.int64).tobytes() + b"|")
            self._fingerprint.append(h.hexdigest()[:16])
        return self._fingerprint[0]

    def stats(self) -> dict[str, float]:
        """Summary statistics used by ``agenticrs datasets`` and as task meta-features."""
        lengths = self.lengths
        pop = np.sort(self.item_popularity()[1:])[::-1].astype(np.float64)
        n = max(len(pop), 1)
        # Gini coefficient of item popularity: 0 = uniform, -> 1 = all on one item.
        cum = np.cumsum(np.sort(pop))
        gini = float(1 - 2 * np.sum(cum) / (n * cum[-1]) + 1 / n) if len(cum) and cum[-1] > 0 else 0.0
        return {
            "users": float(self.n_users),
            "items": float(self.n_items),
            "interactions": float(self.n_interactions),
            "density": float(self.n_interactions) / max(self.n_users * self.n_items, 1),
            "mean_length": float(lengths.mean()) if len(lengths) else 0.0,
            "median_length": float(np.median(lengths)) if len(lengths) else 0.0,
            "popularity_gini": gini,
            "top1pct_share": float(pop[: max(n // 100, 1)].sum() / max(pop.sum(), 1)),
            "text_coverage": (
                float(np.mean([bool(t.strip()) for t in self.item_text[1:]])) if self.item_text is not None else 0.0
            ),
            "attribute_coverage": (
                float(np.mean([len(a) > 0 for a in self.item_attributes[1:]]))
                if self.item_attributes is not None
                else 0.0
            ),
        }
