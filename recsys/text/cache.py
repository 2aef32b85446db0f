"""On-disk cache of arrays derived from a dataset (item-text vectors, semantic ids).

One ``.npy`` per entry under ``$AGENTICRS_CACHE/<kind>`` (default ``~/.cache/agenticrs``),
named by a hash of the dataset fingerprint and the producer's config, written atomically
(:func:`agenticrs.io.write_bytes_atomic`), so an entry is complete or absent. An unreadable
entry is deleted and recomputed; an unwritable cache only costs the recomputation.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from pathlib import Path
from typing import Any, Callable

import numpy as np

from agenticrs.io import write_bytes_atomic
from agenticrs.recsys.data.cache import clean_stale_temporaries, default_cache_dir
from agenticrs.recsys.data.dataset import Dataset
from agenticrs.recsys.text.base import TextEncoder, make_encoder

FORMAT_VERSION = 1
logger = logging.getLogger(__name__)


def cache_root() -> Path:
    """The parent of the dataset cache folder (``$AGENTICRS_CACHE`` or ``~/.cache/agenticrs``)."""
    return default_cache_dir().parent


def cache_path(kind: str, key: dict[str, Any], root: Path | None = None) -> Path:
    digest = hashlib.sha256(json.dumps({"v": FORMAT_VERSION, **key}, sort_keys=True, default=str).encode())
    return (root or cache_root()) / kind / f"{digest.hexdigest()[:32]}.npy"


def cached_array(kind: str, key: dict[str, Any], compute: Callable[[], np.ndarray], *,
                 cache: bool = True, root: Path | None = None) -> np.ndarray:
    """``compute()``'s array, read from / written to the cache entry of ``(kind, key)``."""
    if not cache:
        return compute()
    path = cache_path(kind, key, root)
    clean_stale_temporaries(path.parent)
    if path.is_file():
        try:
            return np.load(path, allow_pickle=False)
        except Exception as e:  # noqa: BLE001 -- a torn or foreign file: recompute it
            logger.warning("cache entry %s is unreadable (%s); recomputing", path, e)
            path.unlink(missing_ok=True)
    array = compute()
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    try:
        write_bytes_atomic(path, buf.getvalue())
    except OSError as e:
        logger.warning("could not write cache entry %s: %s", path, e)
    return array


def item_texts(dataset: Dataset) -> list[str]:
    """The dataset's ``n_items + 1`` item strings; a clear error when it has none."""
    if dataset.item_text is None:
        raise ValueError(f"dataset {dataset.name!r} has no item text; text encoders, semantic ids, TIGER and "
                         "LWGR need it (synthetic data: any text_signal; real: beauty, scientific)")
    return dataset.item_text


def encode_items(dataset: Dataset, encoder: "str | TextEncoder" = "tfidf", *, cache: bool = True,
                 root: Path | None = None) -> np.ndarray:
    """``[n_items + 1, dim]`` float32 item-text vectors (row 0, padding, is zero), cached.

    The encoder is fitted on the item texts (ignoring the padding row) before encoding.
    """
    enc = make_encoder(encoder)
    texts = item_texts(dataset)

    def compute() -> np.ndarray:
        vectors = np.zeros((dataset.n_items + 1, enc.dim), dtype=np.float32)
        vectors[1:] = enc.fit_encode(texts[1:])
        return vectors

    key = {"dataset": dataset.fingerprint(), "encoder": enc.config()}
    return cached_array("text", key, compute, cache=cache, root=root)
