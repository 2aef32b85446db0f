"""From parsed interactions to a ``Dataset``: k-core filtering, chronological order, dense ids.

Every file-based loader fills an ``Interactions`` log (one row per user-item event, in file
order) and hands it to ``preprocess``, so filtering and re-indexing behave the same for every
format. Custom loaders registered with ``register_dataset`` can do the same.
"""

from __future__ import annotations

from typing import Hashable, Iterable, Sequence

import numpy as np

from agenticrs.recsys.data.dataset import Dataset
from agenticrs.recsys.data.errors import DataFormatError


class Interactions:
    """A raw interaction log as parsed from a source, before filtering and re-indexing.

    User and item keys are whatever the source uses (``int`` or ``str``); they are interned to
    codes in order of first appearance. Side information is keyed by the same item keys and may
    mention items that have no interaction (they are ignored).

    Args:
        source: the file or URI the log comes from, named in errors (e.g. when k-core leaves nothing).

    Attributes:
        item_text: item key -> text (title, categories...), or ``None`` when the source has none.
        item_attributes: item key -> attribute ids (brand, category...), or ``None``.
    """

    def __init__(self, source: str = "<memory>") -> None:
        self.source = source
        self._user_codes: dict[Hashable, int] = {}
        self._item_codes: dict[Hashable, int] = {}
        self._users: list[int] = []
        self._items: list[int] = []
        self._timestamps: list[float] = []
        self._timed: bool | None = None  # fixed by the first row: all rows have a timestamp or none
        self.item_text: dict[Hashable, str] | None = None
        self.item_attributes: dict[Hashable, Sequence[int]] | None = None

    # ------------------------------------------------------------------ filling
    def add(self, user: Hashable, item: Hashable, timestamp: float | None = None) -> None:
        """Append one event; either every event has a timestamp or none does."""
        self._check_timed(timestamp is not None)
        self._users.append(self._user_codes.setdefault(user, len(self._user_codes)))
        self._items.append(self._item_codes.setdefault(item, len(self._item_codes)))
        if timestamp is not None:
            self._timestamps.append(timestamp)

    def add_sequence(self, user: Hashable, items: Iterable[Hashable], timestamps: Sequence[float] | None = None) -> None:
        """Append a user's events in order (the fast path for one-line-per-user formats)."""
        codes = self._item_codes
        item_codes = [codes.setdefault(i, len(codes)) for i in items]
        self._check_timed(timestamps is not None)
        if timestamps is not None:
            if len(timestamps) != len(item_codes):
                raise ValueError("add_sequence: timestamps must align with items")
            self._timestamps.extend(timestamps)
        self._users.extend([self._user_codes.setdefault(user, len(self._user_codes))] * len(item_codes))
        self._items.extend(item_codes)

    def _check_timed(self, timed: bool) -> None:
        if self._timed is None:
            self._timed = timed
        elif self._timed != timed:
            raise ValueError("Interactions: either every event has a timestamp or none does")

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self._items)

    @property
    def user_keys(self) -> list[Hashable]:
        """Original user keys, indexed by user code."""
        return list(self._user_codes)

    @property
    def item_keys(self) -> list[Hashable]:
        """Original item keys, indexed by item code."""
        return list(self._item_codes)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(users, items, timestamps)``: ``[n]`` int64 codes and ``[n]`` float64 seconds or ``None``."""
        users = np.asarray(self._users, dtype=np.int64)
        items = np.asarray(self._items, dtype=np.int64)
        ts = np.asarray(self._timestamps, dtype=np.float64) if self._timed else None
        return users, items, ts


def k_core(users: np.ndarray, items: np.ndarray, min_count: int) -> np.ndarray:
    """Iterative k-core: keep events whose user and item both have ``>= min_count`` events.

    Removing rare items can push users below the threshold and vice versa, so this repeats
    until nothing changes. Events are counted with repetitions (RecBole's convention).

    Args:
        users: ``[n]`` int user codes.
        items: ``[n]`` int item codes.
        min_count: the threshold; ``<= 1`` keeps everything.

    Returns:
        ``[n]`` boolean mask of the events kept.
    """
    keep = np.ones(len(users), dtype=bool)
    if min_count <= 1:
        return keep
    while True:
        u, i = users[keep], items[keep]
        ok = (np.bincount(u)[u] >= min_count) & (np.bincount(i)[i] >= min_count)
        if ok.all():
            return keep
        keep[np.flatnonzero(keep)[~ok]] = False
        if not keep.any():
            return keep


def _rank_keys(keys: list[Hashable], present: np.ndarray) -> np.ndarray:
    """Dense ranks ``0..m-1`` for the present codes, ``-1`` for the others.

    Integer keys keep their numeric order (so already dense sources such as Beauty keep their
    ids); other keys keep their order of first appearance.
    """
    codes = np.flatnonzero(present)
    if all(type(keys[c]) is int for c in codes):
        codes = codes[np.argsort(np.asarray([keys[c] for c in codes], dtype=np.int64), kind="stable")]
    rank = np.full(len(keys), -1, dtype=np.int64)
    rank[codes] = np.arange(len(codes))
    return rank


def preprocess(log: Interactions, min_count: int = 5, name: str = "custom") -> Dataset:
    """Filter, order and re-index a raw log into a ``Dataset``.

    1. iterative ``min_count``-core filtering (``0`` or ``1`` disables it);
    2. dense ids: users ``0..n_users-1``, items ``1..n_items`` (0 is padding), original keys kept
       in ``user_ids`` / ``item_ids`` as strings;
    3. each user's events in chronological order: a stable sort by timestamp when the source has
       timestamps (ties keep file order), otherwise file order.

    Raises:
        DataFormatError: the log is empty, no user survives the filtering, or an id or attribute
            id does not fit in 64 bits (custom loaders; the file loaders refuse those per line).
    """
    if min_count < 0:
        raise ValueError(f"min_count must be >= 0, got {min_count}")
    users, items, ts = log.arrays()
    if len(items) == 0:
        raise DataFormatError("no interactions found", log.source)
    keep = k_core(users, items, min_count)
    if not keep.any():
        raise DataFormatError(
            f"no users left after {min_count}-core filtering ({len(log._user_codes)} users, "
            f"{len(log._item_codes)} items, {len(items)} interactions before); try a smaller min_count",
            log.source,
        )
    users, items = users[keep], items[keep]
    ts = ts[keep] if ts is not None else None

    user_keys, item_keys = log.user_keys, log.item_keys
    try:  # the file loaders check ids as they parse; a custom loader's log is checked here
        user_rank = _rank_keys(user_keys, np.bincount(users, minlength=len(user_keys)) > 0)
        item_rank = _rank_keys(item_keys, np.bincount(items, minlength=len(item_keys)) > 0)
    except OverflowError:
        raise DataFormatError("an integer id does not fit in 64 bits (ids must lie in [-2^63, 2^63))",
                              log.source) from None
    u = user_rank[users]
    i = item_rank[items] + 1
    # Both sorts are stable: equal timestamps (and untimed sources) keep their file order.
    order = np.lexsort((ts, u)) if ts is not None else np.argsort(u, kind="stable")

    n_users = int(u.max()) + 1
    n_items = int(i.max())
    offsets = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(u, minlength=n_users), out=offsets[1:])
    kept_users = np.empty(n_users, dtype=object)
    kept_users[user_rank[user_rank >= 0]] = [str(k) for k, r in zip(user_keys, user_rank) if r >= 0]
    kept_items: list[Hashable] = [None] * n_items
    for k, r in zip(item_keys, item_rank):
        if r >= 0:
            kept_items[r] = k

    item_text = None
    if log.item_text is not None:
        item_text = [""] + [log.item_text.get(k, "") for k in kept_items]
    item_attributes = None
    if log.item_attributes is not None:
        empty: Sequence[int] = ()
        try:
            item_attributes = [np.zeros(0, dtype=np.int64)] + [
                np.asarray(log.item_attributes.get(k, empty), dtype=np.int64) for k in kept_items
            ]
        except (OverflowError, TypeError, ValueError) as e:
            raise DataFormatError(f"item attributes must be lists of 64-bit integers ({e})", log.source) from None
    return Dataset(
        name=name,
        items=i[order],
        offsets=offsets,
        n_items=n_items,
        user_ids=kept_users.astype(str),
        item_ids=np.asarray([""] + [str(k) for k in kept_items]),
        item_text=item_text,
        item_attributes=item_attributes,
        timestamps=ts[order] if ts is not None else None,
    )
