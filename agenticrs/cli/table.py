"""Plain-text tables for terminal output (no dependency needed for a few rows)."""

from __future__ import annotations

from typing import Any, Sequence


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], floatfmt: str = ".4f") -> str:
    """Align ``rows`` under ``headers``; floats formatted with ``floatfmt``."""
    cells = [[format(c, floatfmt) if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h)) for i, h in enumerate(headers)]
    line = "  ".join(str(h).ljust(w) for h, w in zip(headers, widths))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in cells]
    return "\n".join([line, sep, *body])


def metrics_table(results: Sequence[Any], ks: Sequence[int] = (5, 10, 20)) -> str:
    """One row per ExperimentResult: test Recall/NDCG/MRR@K, valid NDCG@10 and cost."""
    headers = ["model", "valid ndcg@10"]
    for k in ks:
        headers += [f"recall@{k}", f"ndcg@{k}", f"mrr@{k}"]
    headers += ["params", "train s", "ms/user"]
    rows = []
    for r in results:
        row: list[Any] = [r.model, r.valid.get("ndcg@10", float("nan"))]
        for k in ks:
            row += [r.test.get(f"{m}@{k}", float("nan")) for m in ("recall", "ndcg", "mrr")]
        row += [int(r.cost["params"]), f"{r.cost['train_seconds']:.1f}", f"{r.cost['inference_ms_per_user']:.3f}"]
        rows.append(row)
    return format_table(headers, rows)
