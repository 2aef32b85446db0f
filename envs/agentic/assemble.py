"""Assemble and score a pipeline from per-component statistics, with numpy (the per-step work).

:class:`ComponentTables` holds what :mod:`~agenticrs.envs.agentic.components` measured for one
(task, training seed): target positions per user for every recall configuration and ranker
variant, standalone ranker NDCG, and measured per-stage costs. :meth:`ComponentTables.assemble`
turns one :class:`~agenticrs.envs.agentic.spaces.JointConfig` into a :class:`PipelineResult`:

* positions: ``ranked_pos[variant, set]`` with the ranker on, ``order_pos[recall config]`` off;
* NDCG@10 / Recall@10 on validation and test, ``pos@1..10`` shares on test (the A/B arms);
* p99 latency per request = the p99 of the batching wait, ``0.99 * (batch_size - 1)`` ms (one
  request per ms, uniform arrival within a batch), + the measured compute time of each stage
  (the median over timed request batches: each recall source, the merge with two sources,
  the ranking stage at its precision and refresh);
* memory = the recall models' fp32 parameters + the ranker's serving state;
* ``train_seconds`` = what training every component of this pipeline cost live.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from agenticrs.envs.agentic.components import (
    BATCH_SIZES,
    LIST,
    WAIT_QUANTILE,
    RECALL_INDEX,
    recall_configs,
    recall_index,
    ranker_index,
    variant_index,
)
from agenticrs.envs.agentic.spaces import RECALL_SOURCES, JointConfig
from agenticrs.recsys.serving.ab import CLICK_PROB, CTR

CTR_BY_POSITION = np.asarray(CTR[:LIST])
_GAIN = np.append(1.0 / np.log2(np.arange(LIST) + 2.0), 0.0)
"""NDCG@10 gain by position code (the last entry: not in the top 10)."""


@dataclass(frozen=True)
class PipelineResult:
    """One evaluated pipeline.

    Attributes:
        status: ``ok``, ``failed`` or ``timeout`` (live backend); metrics are 0 unless ``ok``.
        valid / test: ``ndcg@10``, ``recall@10`` of the pipeline; ``ranker_ndcg@10`` of the
            standalone ranker (full ranking, fp32, online); test also has ``pos@1..10``.
        p99_ms / memory_mb: measured serving cost of the pipeline (see the module docstring).
        train_seconds: live training seconds of the pipeline's components.
        reason / source: why it failed; ``cached`` or ``live``.
    """

    status: str
    valid: Mapping[str, float] = field(default_factory=dict)
    test: Mapping[str, float] = field(default_factory=dict)
    p99_ms: float = 0.0
    memory_mb: float = 0.0
    train_seconds: float = 0.0
    reason: str = ""
    source: str = "cached"
    click_prob: float = field(init=False, default=0.0)
    """P(click) of one request served by this pipeline (the A/B click model's position mixture)."""
    ctr: float = field(init=False, default=0.0)
    """Expected clicks per request (:func:`~agenticrs.recsys.serving.ab.expected_ctr`)."""

    def __post_init__(self) -> None:
        # Computed once: the A/B of every round reads these two numbers, not the ten shares.
        shares = np.asarray([self.test.get(f"pos@{p + 1}", 0.0) for p in range(LIST)])
        object.__setattr__(self, "click_prob", float(shares @ CLICK_PROB[:LIST]))
        object.__setattr__(self, "ctr", float(shares @ CTR_BY_POSITION))

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def test_positions(self) -> dict[str, float]:
        """``pos@1..10`` shares on test (the A/B arm)."""
        return {k: v for k, v in self.test.items() if k.startswith("pos@")}


def position_metrics(pos: np.ndarray, with_shares: bool) -> dict[str, float]:
    """NDCG@10, Recall@10 (and ``pos@1..10`` shares) from ``[n]`` position codes."""
    n = max(len(pos), 1)
    counts = np.bincount(pos, minlength=LIST + 1)
    out = {"ndcg@10": float(counts @ _GAIN) / n, "recall@10": float(counts[:LIST].sum()) / n}
    if with_shares:
        out.update(zip(_POS_KEYS, (counts[:LIST] / n).tolist()))
    return out


_POS_KEYS = tuple(f"pos@{p + 1}" for p in range(LIST))


class ComponentTables:
    """The statistics of one (task, training seed) (see :mod:`~agenticrs.envs.agentic.components`).

    Args:
        arrays: the cache file's arrays (names in :data:`ARRAYS`).
        meta: ``task``, ``data``, ``seed``, ``grid_version``.
    """

    ARRAYS = ("order_pos_valid", "order_pos_test", "ranked_pos_valid", "ranked_pos_test", "set_of_config",
              "ranker_ndcg_valid", "ranker_ndcg_test", "recall_ms", "merge_ms", "ranker_ms",
              "recall_mb", "ranker_mb", "recall_train_s", "ranker_train_s")

    def __init__(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]):
        missing = [k for k in self.ARRAYS if k not in arrays]
        if missing:
            raise ValueError(f"component tables of {meta.get('task')!r} lack arrays {missing}")
        self.a = {k: np.asarray(arrays[k]) for k in self.ARRAYS}
        self.meta = dict(meta)
        n_cfg = len(recall_configs())
        if self.a["order_pos_valid"].shape[0] != n_cfg or self.a["set_of_config"].shape[0] != n_cfg:
            raise ValueError(f"component tables of {meta.get('task')!r} do not match the recall grid ({n_cfg})")

    @classmethod
    def load(cls, path: Any) -> "ComponentTables":
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return cls({k: z[k] for k in z.files if k != "meta"}, meta)

    def assemble(self, joint: JointConfig) -> PipelineResult:
        """Score ``joint`` (numpy only; tens of microseconds)."""
        comp, serving = joint.part("composer"), joint.part("serving")
        c = recall_index(comp)
        a = self.a
        ranker = ranker_index(joint.ranker_params())
        batch = BATCH_SIZES.index(int(serving["batch_size"]))
        sources = [comp["recall_a"]] + ([comp["recall_b"]] if comp.get("recall_b", "none") != "none" else [])
        src = [RECALL_SOURCES.index(s) for s in sources]
        p99 = WAIT_QUANTILE * (int(serving["batch_size"]) - 1) + float(a["recall_ms"][src, batch].sum())
        mem = float(a["recall_mb"][src].sum())
        seconds = float(a["recall_train_s"][src].sum())
        if len(src) > 1:
            p99 += float(a["merge_ms"][batch])
        if comp["ranker"]:
            v = variant_index(ranker, serving["precision"], int(serving["refresh"]))
            s = int(a["set_of_config"][c])
            pv, pt = a["ranked_pos_valid"][v, s], a["ranked_pos_test"][v, s]
            p99 += float(a["ranker_ms"][v, batch])
            mem += float(a["ranker_mb"][v])
            seconds += float(a["ranker_train_s"][ranker])
        else:
            pv, pt = a["order_pos_valid"][c], a["order_pos_test"][c]
        valid = position_metrics(pv, False)
        test = position_metrics(pt, True)
        valid["ranker_ndcg@10"] = float(a["ranker_ndcg_valid"][ranker])
        test["ranker_ndcg@10"] = float(a["ranker_ndcg_test"][ranker])
        return PipelineResult("ok", valid, test, p99, mem, seconds)


__all__ = ["ComponentTables", "PipelineResult", "RECALL_INDEX", "position_metrics"]
