"""Real components of the agentic pipeline and the per-user statistics the pipeline's metrics need.

Both backends use these functions: the *cached* backend runs them once per (task, training
seed) over the whole component grid and stores the results; the *live* backend runs them
for one joint configuration in a worker process.

The grid:

* **recall sources** (:data:`~agenticrs.envs.agentic.spaces.RECALL_SOURCES`): fixed-architecture
  recommenders (Compose's ``COMPONENT_PARAMS``), each producing its top-100 list per user;
* **recall configurations** (:func:`recall_configs`): one source at quota 100 or 50, or an
  ordered pair merged by ``rrf`` or ``round_robin`` (union cut to 100 candidates, with the real
  :func:`~agenticrs.recsys.pipeline.merge.merge`); 56 in all;
* **rankers** (:func:`ranker_grid`): ``SASRecFeatures`` for each (model part, feature part),
  16, trained for :data:`RANKER_EPOCHS` epochs;
* **ranker variants** (:func:`variant_index`): a ranker served at a ``precision`` (item table
  quantised for real) and ``refresh`` (nearline user states from histories up to ``refresh - 1``
  interactions stale), 96.

What a pipeline's metrics need, per user of the validation and test splits (``uint8``, the
target's 0-based position in the served list, ``10`` = not in the top 10):

* ``order_pos[c]``: without a ranker, the target's position in recall configuration ``c``'s
  merged order;
* ``ranked_pos[v, s]``: with ranker variant ``v`` re-ranking candidate set ``s`` (the distinct
  candidate sets of the recall configurations), the number of candidates the ranker scores
  above the target (``10`` if the target is not a candidate) -- exactly the target's position
  after re-ranking.

NDCG@10, Recall@10 and the ``pos@1..10`` shares the A/B click model reads are functions of
these positions, so they are exact, not approximations of the assembled pipeline.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from agenticrs.envs.agentic.spaces import FEATURE_CHOICES, MODEL_CHOICES, RECALL_SOURCES

LIST = 10
"""Positions that matter: NDCG@10, Recall@10 and the A/B click model's ``pos@1..10``."""
MISS = LIST
"""Position code of a target outside the top 10."""
CANDIDATES = 100
"""Merged candidate set size (Compose's ``PipelineConfig.candidates``)."""
RANKER_EPOCHS = 8
RANKER_BASE: Mapping[str, Any] = {"loss": "ce", "max_len": 50}
RECALL_EPOCHS = 10
RECALL_PARAMS: Mapping[str, Mapping[str, Any]] = {
    "pop": {}, "itemknn": {}, "bprmf": {"embedding_dim": 64}, "sasrec": {"loss": "ce", "embedding_dim": 64},
}
PRECISIONS = ("fp32", "fp16", "int8")
REFRESHES = (0, 5)
BATCH_SIZES = (16, 1, 64)
"""Request batch sizes the serving agent chooses from (the timing grid)."""
TIMED_BATCHES = 15
"""Request batches timed per (component, batch size); their median is the stage's compute time
(robust to other processes on a shared machine, which a p99 over a few batches is not)."""
WAIT_QUANTILE = 0.99
"""A request waits ``U(0, batch_size - 1)`` ms for its batch to fill (one request per ms): the
p99 request latency is ``0.99 * (batch_size - 1)`` + the stages' compute time."""
GRID_VERSION = 1
"""Bump when the grid or the statistics change: cache files carry it and older ones are rebuilt."""


# ---------------------------------------------------------------------- the grid
def recall_configs() -> list[tuple[str, str, int, str]]:
    """``[(recall_a, recall_b, quota, merge)]``; ``recall_b = "none"`` with ``merge = ""`` for one source."""
    out = [(a, "none", q, "") for a in RECALL_SOURCES for q in (100, 50)]
    out += [(a, b, q, m) for a, b in itertools.permutations(RECALL_SOURCES, 2) for q in (100, 50)
            for m in ("rrf", "round_robin")]
    return out


RECALL_INDEX = {c: i for i, c in enumerate(recall_configs())}


def recall_index(composer: Mapping[str, Any]) -> int:
    """Index of a composer part's recall configuration in :func:`recall_configs`."""
    b = composer.get("recall_b", "none")
    merge = composer.get("merge", "") if b != "none" else ""
    return RECALL_INDEX[(composer["recall_a"], b, int(composer["quota"]), merge)]


def ranker_grid() -> list[dict[str, Any]]:
    """Every ranker's ``SASRecFeatures`` overrides (model part x feature part), in a fixed order."""
    names = [c.name for c in MODEL_CHOICES + FEATURE_CHOICES]
    values = [c.choices for c in MODEL_CHOICES + FEATURE_CHOICES]
    return [dict(zip(names, v)) for v in itertools.product(*values)]


RANKER_INDEX = {tuple(sorted(p.items())): i for i, p in enumerate(ranker_grid())}


def ranker_index(params: Mapping[str, Any]) -> int:
    return RANKER_INDEX[tuple(sorted(params.items()))]


def variant_index(ranker: int, precision: str, refresh: int) -> int:
    """Index of a ranker variant: ``ranker * 6 + precision * 2 + refresh``."""
    return (ranker * len(PRECISIONS) + PRECISIONS.index(precision)) * len(REFRESHES) + REFRESHES.index(int(refresh))


def ranker_spec(params: Mapping[str, Any]) -> Any:
    from agenticrs.recsys.pipeline import ComponentSpec

    return ComponentSpec.make("sasrec_features", epochs=RANKER_EPOCHS, **{**RANKER_BASE, **params})


def recall_spec(source: str) -> Any:
    from agenticrs.recsys.pipeline import ComponentSpec

    return ComponentSpec.make(source, epochs=RECALL_EPOCHS, **RECALL_PARAMS[source])


# ---------------------------------------------------------------------- statistics
def recall_lists(model: Any, split: Any) -> torch.Tensor:
    """``[n, 100]`` top-100 item ids of a recall model per user (history excluded; 0 = empty slot)."""
    from agenticrs.recsys.pipeline.agents import full_scores, top_candidates

    out = []
    for lo in range(0, len(split.targets), 256):
        s = full_scores(model, split.users[lo:lo + 256], split.histories[lo:lo + 256])
        out.append(top_candidates(s, CANDIDATES).items)
    return torch.cat(out)


def merged_candidates(lists: Mapping[str, torch.Tensor], config: tuple[str, str, int, str], n_items: int
                      ) -> torch.Tensor:
    """``[n, <=100]`` candidate ids of one recall configuration, in merged order."""
    from agenticrs.recsys.pipeline.agents import Candidates
    from agenticrs.recsys.pipeline.merge import merge

    a, b, q, how = config
    if b == "none":
        return lists[a][:, :q]

    def cands(x: torch.Tensor) -> Any:
        x = x[:, :q]  # a catalogue under 100 items gives shorter lists
        return Candidates(x, torch.zeros(x.shape, dtype=torch.float32))

    return merge([cands(lists[a]), cands(lists[b])], n_items, how, CANDIDATES).items


def order_positions(cands: torch.Tensor, targets: np.ndarray) -> np.ndarray:
    """``[n]`` uint8 position of each target in its ordered candidate list (``MISS`` past the top 10)."""
    top = cands[:, :LIST]
    hit = (top == torch.from_numpy(np.asarray(targets, dtype=np.int64)).view(-1, 1)) & (top != 0)
    pos = hit.to(torch.int8).argmax(1)
    return torch.where(hit.any(1), pos, torch.full_like(pos, MISS)).numpy().astype(np.uint8)


def ranked_positions(scores: torch.Tensor, cands: torch.Tensor, targets: np.ndarray) -> np.ndarray:
    """``[n]`` uint8 position of the target after a ranker with ``scores [n, n_items + 1]`` re-ranks ``cands``.

    The position is the number of candidates scored strictly above the target (capped at
    :data:`MISS`), or ``MISS`` if the target is not a candidate.
    """
    t = torch.from_numpy(np.asarray(targets, dtype=np.int64)).view(-1, 1)
    s_t = scores.gather(1, t)
    s_c = scores.gather(1, cands)
    above = ((s_c > s_t) & (cands != 0)).sum(1)
    inside = ((cands == t) & (cands != 0)).any(1)
    return torch.where(inside, above.clamp(max=MISS), torch.full_like(above, MISS)).numpy().astype(np.uint8)


def full_rank_ndcg(scores: torch.Tensor, targets: np.ndarray) -> float:
    """NDCG@10 of a standalone model under the full-ranking protocol (history already at -inf)."""
    t = torch.from_numpy(np.asarray(targets, dtype=np.int64)).view(-1, 1)
    rank = (scores > scores.gather(1, t)).sum(1).numpy()
    return float(np.where(rank < LIST, 1.0 / np.log2(rank + 2.0), 0.0).mean()) if len(rank) else 0.0


def item_table(model: Any) -> torch.Tensor:
    """``[n_items + 1, d]`` the ranker's (fused) item representations."""
    fn = getattr(model, "item_table", None)
    with torch.no_grad():
        table = fn() if callable(fn) else model.item_emb.weight
    return table.detach().float()


@torch.no_grad()
def user_states(model: Any, histories: Sequence[np.ndarray], table: torch.Tensor) -> torch.Tensor:
    """``[n, d]`` the ranker's user states (last hidden state over the last ``max_len`` items)."""
    from agenticrs.recsys.models.base import pad_histories
    from agenticrs.recsys.models.transformer import encode_by_length

    h = pad_histories(histories, model.config.max_len)
    return encode_by_length(lambda s: model.encode(s, table), h)[:, -1].float()


def stale_histories(histories: Sequence[np.ndarray], refresh: int, seed: int) -> list[np.ndarray]:
    """Histories as a nearline cache refreshed every ``refresh`` interactions last saw them."""
    if refresh <= 0:
        return list(histories)
    stale = np.random.default_rng(seed).integers(0, refresh, size=len(histories))
    return [h[: max(len(h) - int(s), 1)] for h, s in zip(histories, stale)]


@torch.no_grad()
def variant_scores(model: Any, split: Any, precision: str, refresh: int, seed: int) -> torch.Tensor:
    """``[n, n_items + 1]`` a ranker variant's scores (padding and history items at -inf)."""
    from agenticrs.recsys.evaluation.metrics import NEG_INF
    from agenticrs.recsys.evaluation.evaluator import history_mask
    from agenticrs.recsys.serving import QuantizedTable

    model.eval()
    table = item_table(model)
    states = user_states(model, stale_histories(split.histories, refresh, seed), table)
    s = QuantizedTable(table, precision).scores(states)
    s[:, 0] = NEG_INF
    rows, cols = history_mask(split.histories, model.n_items)
    s[rows, cols] = NEG_INF
    return s


# ---------------------------------------------------------------------- measured costs
def median_batch_ms(run: Callable[[int, int], Any], n_users: int, batch: int, batches: int = TIMED_BATCHES) -> float:
    """Median wall ms of ``run(lo, hi)`` over ``batches`` request batches of ``batch`` users (after one warm-up)."""
    times = []
    run(0, min(batch, n_users))
    for i in range(batches):
        lo = (i * batch) % max(n_users - batch, 1)
        t = time.perf_counter()
        run(lo, min(lo + batch, n_users))
        times.append(1000.0 * (time.perf_counter() - t))
    return float(np.median(times))


def recall_cost_ms(model: Any, split: Any, batch: int) -> float:
    """Median ms of one recall stage (full scores + top-100) for a request batch."""
    from agenticrs.recsys.pipeline.agents import full_scores, top_candidates

    return median_batch_ms(lambda lo, hi: top_candidates(full_scores(model, split.users[lo:hi], split.histories[lo:hi]),
                                                      CANDIDATES), len(split.targets), batch)


def merge_cost_ms(a: torch.Tensor, b: torch.Tensor, n_items: int, batch: int) -> float:
    """Median ms of an rrf merge of two top-100 lists ``[n, 100]`` for a request batch (the
    cost does not depend on which sources made the lists)."""
    cfg = ("a", "b", CANDIDATES, "rrf")
    return median_batch_ms(lambda lo, hi: merged_candidates({"a": a[lo:hi], "b": b[lo:hi]}, cfg, n_items),
                           a.shape[0], batch)


@torch.no_grad()
def ranker_cost_ms(model: Any, split: Any, precision: str, refresh: int, batch: int) -> float:
    """Median ms of the ranking stage for a request batch: the user state (online only when
    ``refresh == 0``; else a nearline cache read), scores at ``precision``, re-ranking 100 candidates."""
    from agenticrs.recsys.serving import QuantizedTable

    table = item_table(model)
    qt = QuantizedTable(table, precision)
    cached = user_states(model, split.histories, table) if refresh > 0 else None
    cands = torch.randint(1, model.n_items + 1, (batch, CANDIDATES), generator=torch.Generator().manual_seed(0))

    def run(lo: int, hi: int) -> None:
        st = cached[lo:hi] if cached is not None else user_states(model, split.histories[lo:hi], table)
        s = qt.scores(st)
        s.gather(1, cands[: hi - lo]).argsort(1, descending=True)

    return median_batch_ms(run, len(split.targets), batch)


def ranker_memory_mb(model: Any, precision: str, refresh: int, n_users: int) -> float:
    """Stored serving state of the ranker (as :func:`~agenticrs.recsys.serving.serve` counts it):
    the item table at ``precision``, plus the fp32 parameters when encoding online, plus the
    fp32 user-state cache when refreshed nearline."""
    from agenticrs.recsys.serving import QuantizedTable

    table = item_table(model)
    mem = QuantizedTable(table, precision).nbytes
    mem += sum(p.numel() * 4 for p in model.parameters()) if refresh == 0 else n_users * table.shape[1] * 4
    return mem / 2**20


@dataclass
class Fitted:
    """A trained component: the model, its training seconds and parameter count."""

    model: Any
    train_seconds: float
    params: int


def fit(dataset: Any, split: Any, spec: Any, seed: int) -> Fitted:
    """Train a component through the one trainer (per-process cache of ``fit_component``)."""
    from agenticrs.recsys.pipeline import fit_component

    f = fit_component(dataset, split, spec, seed)
    return Fitted(f.model, f.train_seconds, f.params)
