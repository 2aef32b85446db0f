"""``subsample:URI?OPTIONS``: a deterministic, documented cut of any other dataset.

Real-data task suites are built from a few real datasets by cutting them in different ways
(fewer users, a time window, one category, the most popular items only, less item text), so
tasks differ in size, density, history length and text coverage while staying real data. A
cut is a URI, so a suite is data only and the same cut is reproduced anywhere the source is::

    subsample:beauty?users=1000,part=2,seed=0,window=last50pct
    subsample:scientific?users=800,items=1000,text_keep=0.3
    subsample:csv:/data/log.csv?attribute=3,min_history=5

Options (comma-separated ``key=value``; every one optional, at least one given):

==============  ====================================================================================
``window``      ``firstPpct`` / ``lastPpct`` (P in 1..100): with timestamps, the interactions in the
                first / last P% of the dataset's time range; without (the Amazon files have none),
                the first / last ``ceil(P% * length)`` items of each user's chronological history.
``attribute``   keep only interactions on items that carry this attribute id (a category or brand
                id, e.g. Beauty's ``item_attributes.json``); the data must have attributes.
``text``        keep only interactions on items whose text contains this word (letters and digits,
                case-insensitive, whole words; e.g. a Scientific category such as ``lab``).
``items``       keep only interactions on the N most interacted items (after the filters above;
                ties by item id): a denser task.
``min_history`` drop users left with fewer than K interactions (default 3, at least 3: the
                leave-one-out split needs a train, a validation and a test item).
``users``       sample N of the remaining users (default: all of them) ...
``part``        ... namely block ``part`` (default 0) of a ``seed``-ed permutation: different
                parts are disjoint user sets, so train and test tasks share no user.
``seed``        the permutation seed (default 0); also seeds ``text_keep``.
``text_keep``   keep the item text of a seeded share F in [0, 1] of the remaining items and blank
                the rest (lower text coverage); the data must have text when F < 1.
==============  ====================================================================================

The source URI is loaded as ``load_dataset`` loads it (its default 5-core filter, its cache);
the steps then run in the table's order. Item ids are then made dense again over the items the
chosen users touch (text, attributes and timestamps follow their items), and the users keep
their original order. Every problem is one ``DataFormatError`` line naming the URI.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

import numpy as np

from agenticrs.recsys.data.dataset import Dataset
from agenticrs.recsys.data.errors import DataFormatError

_WINDOW = re.compile(r"^(first|last)(\d{1,3})pct$")
_WORD = re.compile(r"^[a-z0-9]+$")


@dataclass(frozen=True)
class SubsampleSpec:
    """The options of a ``subsample:`` URI (see the module docstring for their meaning)."""

    window: str | None = None
    attribute: int | None = None
    text: str | None = None
    items: int | None = None
    min_history: int = 3
    users: int | None = None
    part: int = 0
    seed: int = 0
    text_keep: float = 1.0

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem:
            raise ValueError(problem)

    def _problem(self) -> str | None:
        if self.window is not None:
            m = _WINDOW.match(self.window)
            if not m or not 1 <= int(m.group(2)) <= 100:
                return f"window={self.window!r}: expected firstPpct or lastPpct with P in 1..100 (e.g. last50pct)"
        if self.attribute is not None and self.attribute < 0:
            return f"attribute={self.attribute}: expected an attribute id >= 0"
        if self.text is not None and not _WORD.match(self.text):
            return f"text={self.text!r}: expected one word of lower-case letters and digits"
        for name in ("items", "users"):
            value = getattr(self, name)
            if value is not None and value < 1:
                return f"{name}={value}: expected an integer >= 1"
        if self.min_history < 3:
            return f"min_history={self.min_history}: expected >= 3 (leave-one-out needs 3 items per user)"
        if self.part < 0:
            return f"part={self.part}: expected an integer >= 0"
        if self.part > 0 and self.users is None:
            return f"part={self.part} needs users=N (the size of each disjoint block)"
        if not 0.0 <= self.text_keep <= 1.0:
            return f"text_keep={self.text_keep}: expected a share in [0, 1]"
        return None

    @classmethod
    def parse(cls, options: str) -> "SubsampleSpec":
        """``"users=500,part=1,window=last50pct"`` -> spec.

        Raises:
            ValueError: no option, an unknown or repeated option (the valid ones are listed),
                a pair without ``=``, or a value of the wrong type or range.
        """
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, object] = {}
        for pair in (p.strip() for p in options.split(",")):
            name, sep, raw = pair.partition("=")
            name, raw = name.strip(), raw.strip()
            if not sep or not name or not raw:
                raise ValueError(f"subsample option {pair!r} is not of the form key=value")
            if name not in fields:
                raise ValueError(f"unknown subsample option {name!r}; valid: {', '.join(fields)}")
            if name in values:
                raise ValueError(f"subsample option {name!r} is given twice")
            values[name] = _convert(name, raw, fields[name].type)
        return cls(**values)  # type: ignore[arg-type]

    def to_options(self) -> str:
        """The non-default options as ``key=value,...`` (``parse`` inverts it)."""
        default = SubsampleSpec()
        return ",".join(f"{f.name}={getattr(self, f.name)}" for f in dataclasses.fields(self)
                        if getattr(self, f.name) != getattr(default, f.name))


def _convert(name: str, raw: str, kind: object) -> object:
    kind = str(kind)
    try:
        if "int" in kind:
            if not re.fullmatch(r"-?\d+", raw):
                raise ValueError
            return int(raw)
        if "float" in kind:
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError
            return value
    except ValueError:
        expected = "an integer" if "int" in kind else "a number"
        raise ValueError(f"subsample option {name}={raw!r}: expected {expected}") from None
    return raw


def subsample_uri(source: str, **options: object) -> str:
    """``subsample_uri("beauty", users=500, part=1)`` -> ``"subsample:beauty?users=500,part=1"`` (validated)."""
    spec = SubsampleSpec(**options)  # type: ignore[arg-type]
    return f"subsample:{source}?{spec.to_options()}"


def split_uri(arg: str) -> tuple[str, SubsampleSpec]:
    """``"beauty?users=500"`` (the part after ``subsample:``) -> ``("beauty", spec)``.

    Raises:
        DataFormatError: no ``?``, no source URI, or bad options (one line naming the URI).
    """
    inner, sep, options = arg.rpartition("?")
    uri = f"subsample:{arg}"
    if not sep or not inner.strip() or not options.strip():
        raise DataFormatError("expected subsample:URI?key=value[,key=value...], e.g. "
                              "subsample:beauty?users=1000,window=last50pct", uri)
    try:
        return inner.strip(), SubsampleSpec.parse(options)
    except ValueError as e:
        raise DataFormatError(str(e), uri) from None


def load_subsample(arg: str) -> Dataset:
    """The ``subsample:`` scheme's loader: load the source URI, then cut it."""
    from agenticrs.recsys.data.registry import load_dataset  # the registry imports this module

    inner, spec = split_uri(arg)
    try:
        return subsample_dataset(load_dataset(inner), spec, name=f"subsample:{inner}?{spec.to_options()}")
    except ValueError as e:
        if isinstance(e, DataFormatError):
            raise
        raise DataFormatError(str(e), f"subsample:{arg}") from None


# ---------------------------------------------------------------------- the cut
def subsample_dataset(dataset: Dataset, spec: SubsampleSpec, name: str | None = None) -> Dataset:
    """Apply ``spec`` to ``dataset`` (steps in the order of the module docstring's table).

    Raises:
        ValueError: a filter the data cannot support (``attribute`` without attributes, ``text``
            or ``text_keep < 1`` without text), or too few users left for ``(part + 1) * users``.
    """
    n = dataset.n_interactions
    user_of = np.repeat(np.arange(dataset.n_users), dataset.lengths)  # [n_interactions]
    keep = np.ones(n, dtype=bool)
    if spec.window is not None:
        keep &= _window_mask(dataset, spec.window, user_of)
    if spec.attribute is not None or spec.text is not None:
        keep &= _item_mask(dataset, spec)[dataset.items]
    if spec.items is not None:
        counts = np.bincount(dataset.items[keep], minlength=dataset.n_items + 1)
        counts[0] = 0
        top = np.lexsort((np.arange(len(counts)), -counts))[: spec.items]  # most counts, then lowest id
        popular = np.zeros(dataset.n_items + 1, dtype=bool)
        popular[top[counts[top] > 0]] = True
        keep &= popular[dataset.items]
    lengths = np.bincount(user_of[keep], minlength=dataset.n_users)
    eligible = np.flatnonzero(lengths >= spec.min_history)
    chosen = eligible
    if spec.users is not None:
        need = (spec.part + 1) * spec.users
        if need > len(eligible):
            raise ValueError(f"{dataset.name} has {len(eligible)} users left after the filters, fewer than "
                             f"(part + 1) * users = {need}")
        perm = np.random.default_rng(spec.seed).permutation(len(eligible))
        chosen = np.sort(eligible[perm[spec.part * spec.users : need]])  # keep the original user order
    if len(chosen) == 0:
        raise ValueError(f"{dataset.name}: no user has min_history={spec.min_history} interactions after the filters")
    return _rebuild(dataset, chosen, keep, spec, name or f"{dataset.name}[{spec.to_options()}]")


def subsample(dataset: Dataset, users: int, part: int = 0, seed: int = 0) -> Dataset:
    """Users ``part * users .. (part + 1) * users`` of a seeded permutation (``users=N,part=P,seed=S``)."""
    return subsample_dataset(dataset, SubsampleSpec(users=users, part=part, seed=seed),
                             name=f"{dataset.name}[users={users},part={part},seed={seed}]")


def _window_mask(dataset: Dataset, window: str, user_of: np.ndarray) -> np.ndarray:
    m = _WINDOW.match(window)
    assert m is not None  # validated by the spec
    first, share = m.group(1) == "first", int(m.group(2)) / 100.0
    if dataset.timestamps is not None and len(dataset.timestamps):
        lo, hi = float(dataset.timestamps.min()), float(dataset.timestamps.max())
        cut = lo + share * (hi - lo) if first else hi - share * (hi - lo)
        return dataset.timestamps <= cut if first else dataset.timestamps >= cut
    lengths = dataset.lengths
    pos = np.arange(dataset.n_interactions) - dataset.offsets[user_of]  # position in the user's history
    kept = np.ceil(share * lengths - 1e-9).astype(np.int64)[user_of]  # items kept per user
    return pos < kept if first else pos >= lengths[user_of] - kept


def _item_mask(dataset: Dataset, spec: SubsampleSpec) -> np.ndarray:
    """``[n_items + 1]`` bool: items passing the ``attribute`` and ``text`` filters."""
    mask = np.ones(dataset.n_items + 1, dtype=bool)
    mask[0] = False
    if spec.attribute is not None:
        if dataset.item_attributes is None:
            raise ValueError(f"attribute={spec.attribute}: {dataset.name} has no item attributes")
        mask &= np.fromiter((spec.attribute in a for a in dataset.item_attributes), bool, dataset.n_items + 1)
    if spec.text is not None:
        if dataset.item_text is None:
            raise ValueError(f"text={spec.text}: {dataset.name} has no item text")
        word = re.compile(rf"(?<![a-z0-9]){spec.text}(?![a-z0-9])")
        mask &= np.fromiter((bool(word.search(t.lower())) for t in dataset.item_text), bool, dataset.n_items + 1)
    return mask


def _rebuild(dataset: Dataset, chosen: np.ndarray, keep: np.ndarray, spec: SubsampleSpec, name: str) -> Dataset:
    """The chosen users' kept interactions with dense item ids; side information follows its items."""
    seqs, stamps = [], []
    for u in chosen:
        lo, hi = int(dataset.offsets[u]), int(dataset.offsets[u + 1])
        k = keep[lo:hi]
        seqs.append(dataset.items[lo:hi][k])
        if dataset.timestamps is not None:
            stamps.append(dataset.timestamps[lo:hi][k])
    old = np.unique(np.concatenate(seqs))  # sorted original ids of the items that remain
    new_id = np.zeros(dataset.n_items + 1, dtype=np.int64)
    new_id[old] = np.arange(1, len(old) + 1)
    full = np.concatenate([[0], old])
    text = [dataset.item_text[i] for i in full] if dataset.item_text is not None else None
    if spec.text_keep < 1.0:
        if text is None:
            raise ValueError(f"text_keep={spec.text_keep}: {dataset.name} has no item text")
        order = np.random.default_rng(spec.seed).permutation(len(old)) + 1
        for i in order[int(round(spec.text_keep * len(old))):]:
            text[i] = ""
    return Dataset.from_sequences(
        [new_id[s] for s in seqs], len(old), name=name,
        user_ids=dataset.user_ids[chosen], item_ids=dataset.item_ids[full], item_text=text,
        item_attributes=[dataset.item_attributes[i] for i in full] if dataset.item_attributes is not None else None,
        timestamps=stamps if dataset.timestamps is not None else None,
    )
