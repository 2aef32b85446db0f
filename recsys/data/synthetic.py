"""The embedded default dataset: a seeded generator with sequential, popularity and text structure.

Generative story (all draws from one ``numpy`` Generator, so config + seed fix the dataset):

- **Items** belong to one of ``topics`` latent topics; their base popularity follows a Zipf law
  with exponent ``skew`` (random ranks). Each item has ``successors`` successor items, mostly from
  its own topic, chosen with geometrically decreasing probability (1/2, 1/4, ... renormalised).
- **Users** have topic interests drawn from a Dirichlet; the interests drift linearly from a start
  to an end profile along the sequence (``interest_drift``). A user is "in" a current topic; at
  each step, with probability ``drift``, the topic is redrawn from the current interests.
- **Next item**: with probability ``seq_strength`` a successor of the previous item, otherwise an
  item of the current topic drawn by popularity. Users never repeat an item (evaluation excludes
  history items, so a repeat could never be predicted). Lengths are ``min_length`` plus a
  geometric number of extra items (mean ``mean_length``), capped at ``max_length``.
- **Text**: each topic has a vocabulary of pseudo-words and a category name, each brand a name.
  An item's text is ``"Brand w1 w2 w3 w4. Category."``; each word comes from the item's topic with
  probability ``text_signal`` (else from the whole vocabulary), and the category shown is the
  item's own with that probability, so ``text_signal=0`` makes the text pure noise.
- **Attributes** (clean, whatever ``text_signal``): ``[category_id, brand_id]`` with category ids
  ``1..topics`` and brand ids ``topics+1..topics+brands``.

The transition component is what lets sequential models (SASRec, GRU4Rec) beat popularity;
``seq_strength=0`` removes it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from agenticrs.recsys.data.dataset import Dataset

_CONSONANTS = np.array(list("bcdfghklmnprstvz"))
_VOWELS = np.array(list("aeiou"))


@dataclass(frozen=True)
class SyntheticConfig:
    """Parameters of the synthetic generator; ``synthetic:field=value,...`` sets them by name."""

    users: int = 2000
    """Number of users."""
    items: int = 1000
    """Number of items (some rare ones may end up with no interaction)."""
    mean_length: float = 12.0
    """Mean sequence length before the ``max_length`` cap."""
    min_length: int = 5
    """Shortest sequence (>= 3, so every user has train, validation and test items)."""
    max_length: int = 50
    """Longest sequence (must be below ``items``, as users never repeat items)."""
    skew: float = 1.0
    """Zipf exponent of item popularity (0 = uniform)."""
    topics: int = 20
    """Number of latent topics (= categories)."""
    interest_concentration: float = 0.3
    """Dirichlet concentration of user interests; small = each user likes few topics."""
    drift: float = 0.2
    """Probability per step of redrawing the current topic from the user's interests."""
    interest_drift: float = 0.5
    """How far interests move from the start profile to the end profile over a sequence (0..1)."""
    seq_strength: float = 0.5
    """Probability that the next item is a successor of the previous one (0 = no transitions)."""
    successors: int = 3
    """Successor items per item."""
    successor_same_topic: float = 0.8
    """Probability that a successor is drawn from the item's own topic."""
    text_signal: float = 0.8
    """Probability that a title word (and the category) comes from the item's topic (0 = noise)."""
    title_words: int = 4
    """Words per title, after the brand."""
    vocab_per_topic: int = 30
    """Pseudo-words per topic vocabulary."""
    brands: int = 100
    """Number of brands; brand ``b`` belongs to topic ``b % topics``."""
    seed: int = 0
    """Random seed: same config and seed, same dataset."""

    def __post_init__(self) -> None:
        checks = [
            ("users", self.users >= 1, "must be >= 1"),
            ("items", self.items >= 2, "must be >= 2"),
            ("min_length", self.min_length >= 3, "must be >= 3 (train, validation and test items)"),
            ("mean_length", self.mean_length >= self.min_length, f"must be >= min_length ({self.min_length})"),
            ("max_length", self.max_length >= self.min_length, f"must be >= min_length ({self.min_length})"),
            ("max_length", self.max_length < self.items, f"must be < items ({self.items}): users never repeat items"),
            ("skew", self.skew >= 0, "must be >= 0"),
            ("topics", 1 <= self.topics <= self.items, f"must be in 1..items ({self.items})"),
            ("interest_concentration", self.interest_concentration > 0, "must be > 0"),
            ("successors", self.successors >= 1, "must be >= 1"),
            ("title_words", self.title_words >= 1, "must be >= 1"),
            ("vocab_per_topic", self.vocab_per_topic >= 1, "must be >= 1"),
            ("brands", self.brands >= 1, "must be >= 1"),
            ("seed", self.seed >= 0, "must be >= 0"),
        ]
        for name in ("drift", "interest_drift", "seq_strength", "successor_same_topic", "text_signal"):
            checks.append((name, 0.0 <= getattr(self, name) <= 1.0, "must be in [0, 1]"))
        for name, ok, problem in checks:
            if not ok:
                raise ValueError(f"SyntheticConfig.{name} {problem}, got {getattr(self, name)!r}")

    @classmethod
    def from_options(cls, options: str) -> "SyntheticConfig":
        """Parse ``"users=2000,items=800,seed=3"`` (the part after ``synthetic:``).

        Raises:
            ValueError: an unknown field (the valid ones are listed), a malformed pair or a bad value.
        """
        types = {f.name: f.type for f in dataclasses.fields(cls)}
        values: dict[str, int | float] = {}
        for pair in filter(None, (p.strip() for p in options.split(","))):
            name, sep, raw = pair.partition("=")
            name, raw = name.strip(), raw.strip()
            if not sep or not name or not raw:
                raise ValueError(f"synthetic option {pair!r} is not of the form field=value")
            if name not in types:
                raise ValueError(f"unknown synthetic option {name!r}; valid fields: {', '.join(types)}")
            kind = int if types[name] in (int, "int") else float
            try:
                values[name] = kind(raw)
            except ValueError:
                raise ValueError(f"synthetic option {name}={raw!r}: expected {'an integer' if kind is int else 'a number'}") from None
        return cls(**values)

    def to_options(self) -> str:
        """The non-default fields as ``field=value,...`` (inverse of ``from_options``)."""
        default = SyntheticConfig()
        return ",".join(
            f"{f.name}={getattr(self, f.name)}"
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        )


@dataclass
class _TopicSampler:
    """Draws items of given topics proportionally to their weight, vectorised over many draws."""

    order: np.ndarray  # item indices grouped by topic
    keys: np.ndarray  # topic + within-topic cumulative probability, increasing
    end: np.ndarray = field(repr=False)  # [topics] one past the last position of each topic

    @classmethod
    def build(cls, topic: np.ndarray, weight: np.ndarray, n_topics: int) -> "_TopicSampler":
        order = np.argsort(topic, kind="stable")
        t, w = topic[order], weight[order]
        end = np.searchsorted(t, np.arange(n_topics), side="right")
        start = np.concatenate([[0], end[:-1]])
        cum = np.cumsum(w)
        before = np.concatenate([[0.0], cum])[start][t]
        total = (cum[end - 1] - np.concatenate([[0.0], cum])[start])[t]
        within = (cum - before) / total
        within[end - 1] = 1.0  # exact, so float error cannot spill into the next topic
        return cls(order=order, keys=t + within, end=end)

    def sample(self, topics: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        pos = np.searchsorted(self.keys, topics + rng.random(len(topics)), side="right")
        return self.order[np.minimum(pos, self.end[topics] - 1)]


def _words(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct pronounceable pseudo-words (2-3 consonant-vowel syllables)."""
    words: dict[str, None] = {}
    while len(words) < n:
        m = 2 * (n - len(words)) + 16
        c = _CONSONANTS[rng.integers(len(_CONSONANTS), size=(m, 3))]
        v = _VOWELS[rng.integers(len(_VOWELS), size=(m, 3))]
        three = rng.random(m) < 0.5
        for k in range(m):
            s = 3 if three[k] else 2
            words.setdefault("".join(c[k, j] + v[k, j] for j in range(s)), None)
    return list(words)[:n]


def _sequences(cfg: SyntheticConfig, rng: np.random.Generator, topic: np.ndarray, weight: np.ndarray) -> list[np.ndarray]:
    """Users' item-index sequences (0-based), vectorised over users step by step."""
    n_items, n_topics = cfg.items, cfg.topics
    sampler = _TopicSampler.build(topic, weight, n_topics)

    # Successor table [items, successors]: mostly same-topic, uniform within the topic so that
    # transitions carry information popularity does not.
    k = cfg.successors
    src_topic = np.repeat(topic, k)
    cross = rng.random(n_items * k) >= cfg.successor_same_topic
    src_topic[cross] = rng.integers(n_topics, size=int(cross.sum()))
    successors = sampler.sample(src_topic, rng).reshape(n_items, k)
    self_loop = successors == np.arange(n_items)[:, None]
    successors[self_loop] = (successors[self_loop] + 1 + rng.integers(n_items - 1, size=int(self_loop.sum()))) % n_items
    succ_cdf = np.cumsum(0.5 ** np.arange(1, k + 1))
    succ_cdf /= succ_cdf[-1]

    n_users = cfg.users
    p = 1.0 / (cfg.mean_length - cfg.min_length + 1)
    lengths = np.minimum(cfg.min_length + rng.geometric(p, size=n_users) - 1, cfg.max_length)
    alpha = np.full(n_topics, cfg.interest_concentration)
    start, end = rng.dirichlet(alpha, size=n_users), rng.dirichlet(alpha, size=n_users)

    def draw_topics(users: np.ndarray, t: int) -> np.ndarray:
        lam = (cfg.interest_drift * t / lengths[users])[:, None]
        cdf = np.cumsum((1 - lam) * start[users] + lam * end[users], axis=1)
        cdf[:, -1] = np.inf  # float error must not leave a draw without a topic
        return (rng.random(len(users))[:, None] < cdf).argmax(axis=1)

    seq = np.full((n_users, int(lengths.max())), -1, dtype=np.int64)
    current = draw_topics(np.arange(n_users), 0)
    for t in range(seq.shape[1]):
        active = np.flatnonzero(lengths > t)
        switch = active[rng.random(len(active)) < cfg.drift] if t else active[:0]
        current[switch] = draw_topics(switch, t)
        cand = sampler.sample(current[active], rng)
        if t:
            follow = rng.random(len(active)) < cfg.seq_strength
            rank = np.searchsorted(succ_cdf, rng.random(int(follow.sum())), side="right")
            cand[follow] = successors[seq[active[follow], t - 1], np.minimum(rank, k - 1)]
            # Redraw items the user already has: first from the current topic, then from anywhere.
            for attempt in range(12):
                dup = np.flatnonzero((seq[active, :t] == cand[:, None]).any(axis=1))
                if not len(dup):
                    break
                if attempt < 6:
                    cand[dup] = sampler.sample(current[active[dup]], rng)
                else:
                    cand[dup] = rng.integers(n_items, size=len(dup))
            else:
                for j in np.flatnonzero((seq[active, :t] == cand[:, None]).any(axis=1)):
                    cand[j] = np.setdiff1d(np.arange(n_items), seq[active[j], :t])[0]
        seq[active, t] = cand
        current[active] = topic[cand]  # the user's topic follows what they just took
    return [seq[u, : lengths[u]] for u in range(n_users)]


def _text_and_attributes(cfg: SyntheticConfig, rng: np.random.Generator, topic: np.ndarray) -> tuple[list[str], list[np.ndarray]]:
    n_items, n_topics, w = cfg.items, cfg.topics, cfg.vocab_per_topic
    words = _words(n_topics * w + n_topics + cfg.brands, rng)
    vocab = np.array(words[: n_topics * w]).reshape(n_topics, w)
    categories = [s.capitalize() for s in words[n_topics * w : n_topics * w + n_topics]]
    brand_names = [s.capitalize() for s in words[n_topics * w + n_topics :]]

    # Each item's brand is one of its topic's brands (brand b belongs to topic b % topics).
    per_topic = -(-cfg.brands // n_topics)  # ceil
    slot = rng.integers(per_topic, size=n_items)
    brand = topic + n_topics * slot
    missing = brand >= cfg.brands  # topics with fewer brands: fall back to any brand
    brand[missing] = rng.integers(cfg.brands, size=int(missing.sum()))

    own = rng.random((n_items, cfg.title_words)) < cfg.text_signal
    own_word = vocab[topic[:, None], rng.integers(w, size=(n_items, cfg.title_words))]
    noise_word = vocab.ravel()[rng.integers(vocab.size, size=(n_items, cfg.title_words))]
    title = np.where(own, own_word, noise_word)
    shown_category = np.where(rng.random(n_items) < cfg.text_signal, topic, rng.integers(n_topics, size=n_items))

    text = [""] + [
        f"{brand_names[brand[i]]} {' '.join(title[i])}. {categories[shown_category[i]]}." for i in range(n_items)
    ]
    attributes = [np.zeros(0, dtype=np.int64)] + [
        np.array([topic[i] + 1, n_topics + 1 + brand[i]], dtype=np.int64) for i in range(n_items)
    ]
    return text, attributes


def generate_synthetic(config: SyntheticConfig | None = None, *, name: str | None = None, **overrides: int | float) -> Dataset:
    """Generate the synthetic dataset for ``config`` (defaults if ``None``) with field ``overrides``.

    Example: ``generate_synthetic(users=500, items=300, seed=1)``.

    Returns:
        a ``Dataset`` with ``cfg.users`` users, ``cfg.items`` items, item text and attributes,
        no timestamps; ``name`` defaults to the ``synthetic:...`` URI that reproduces it.
    """
    cfg = dataclasses.replace(config or SyntheticConfig(), **overrides)
    rng = np.random.default_rng(cfg.seed)
    topic = rng.permutation(np.arange(cfg.items) % cfg.topics)  # every topic gets items
    weight = rng.permutation(np.arange(1, cfg.items + 1, dtype=np.float64)) ** -cfg.skew
    seqs = _sequences(cfg, rng, topic, weight)
    text, attributes = _text_and_attributes(cfg, rng, topic)
    return Dataset.from_sequences(
        [s + 1 for s in seqs],  # item ids 1..items, 0 is padding
        n_items=cfg.items,
        name=name or f"synthetic:{cfg.to_options()}",
        item_text=text,
        item_attributes=attributes,
    )
