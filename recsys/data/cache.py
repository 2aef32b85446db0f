"""On-disk cache of preprocessed datasets, keyed by the bytes of their source files.

One ``.npz`` file per entry, holding the arrays *and* the text, ids and attributes (packed as
UTF-8 bytes plus offsets), so that an entry is written with a single atomic ``os.replace``:
it is either complete or absent, never half-written. Entries live in
``$AGENTICRS_CACHE/datasets`` (default ``~/.cache/agenticrs/datasets``).

The key hashes the source files' content (not size and mtime, which survive an edit within
the same second or a copy), their roles (file names), the loading options and
``FORMAT_VERSION``; bump the version whenever preprocessing changes what it produces.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from agenticrs.recsys.data.dataset import Dataset
from agenticrs.recsys.data.errors import DataFormatError

FORMAT_VERSION = 2
"""Bump when preprocessing or the cache layout changes: old entries then simply miss.
2: strict id parsing; a file cached before it would bypass the new checks."""

STALE_AFTER_S = 24 * 3600.0
"""A temporary file older than this is stale whoever wrote it (no cache write takes a day)."""
STALE_UNOWNED_AFTER_S = 3600.0
"""A temporary without a writer's pid in its name (written by an older version) is stale after this."""

_TMP_PID = re.compile(r"\.tmp(\d+)(?:\.|$)")
_cleaned: set[Path] = set()

logger = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$AGENTICRS_CACHE/datasets``, else ``$XDG_CACHE_HOME/agenticrs/datasets``, else ``~/.cache/...``."""
    root = os.environ.get("AGENTICRS_CACHE")
    if root:
        return Path(root).expanduser() / "datasets"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "agenticrs" / "datasets"


def cache_key(files: Sequence[Path], options: dict[str, Any]) -> str:
    """A hex digest of the files' names and bytes, the options and the format version.

    Raises:
        DataFormatError: a file cannot be read (named with the OS's reason).
    """
    h = hashlib.sha256()
    h.update(json.dumps({"version": FORMAT_VERSION, **options}, sort_keys=True, default=str).encode())
    for f in files:
        try:
            data = f.read_bytes()
        except OSError as e:  # unreadable (permissions, a folder, vanished): the loader's error, not a traceback
            raise DataFormatError(f"cannot read file ({e.strerror or e})", f) from None
        h.update(f"\0{f.name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()[:32]


def clean_stale_temporaries(folder: Path, *, force: bool = False) -> list[Path]:
    """Delete the temporary files that killed writers left in a cache folder; the paths removed.

    Writers (``save_cached`` and :func:`agenticrs.io.write_bytes_atomic`) name their temporary
    ``.NAME.tmpPID...``. A ``kill -9`` between creating it and the rename leaves it behind (one
    was 15.7 MB), so when a cache folder is opened, a temporary is deleted if its writer ``PID``
    is no longer a live process, or if it is older than ``STALE_AFTER_S`` (the pid may have been
    reused); one without a pid (older versions) once it is older than ``STALE_UNOWNED_AFTER_S``.
    Live writers' files are left alone. Runs once per folder and process unless ``force``.
    """
    folder = Path(folder)
    if folder in _cleaned and not force:
        return []
    _cleaned.add(folder)
    removed: list[Path] = []
    try:
        candidates = [p for p in folder.iterdir() if p.name.startswith(".") and ".tmp" in p.name]
    except OSError:  # no folder yet, or unreadable: nothing to clean
        return removed
    now = time.time()
    for path in candidates:
        try:
            age = now - path.stat().st_mtime
        except OSError:  # renamed or removed by its writer meanwhile
            continue
        m = _TMP_PID.search(path.name)
        if m is None:
            stale = age > STALE_UNOWNED_AFTER_S
        else:
            pid = int(m.group(1))
            stale = age > STALE_AFTER_S or (pid != os.getpid() and not _pid_alive(pid))
        if stale:
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    if removed:
        logger.info("removed %d stale temporary file(s) from %s", len(removed), folder)
    return removed


def _pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (a zombie counts until it is reaped)."""
    if not 0 < pid < 2**31:
        return False
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


# ---------------------------------------------------------------------- packing
def _pack_strings(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    encoded = [s.encode("utf-8") for s in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def _unpack_strings(data: np.ndarray, offsets: np.ndarray) -> list[str]:
    raw = data.tobytes()
    return [raw[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]


def _pack(dataset: Dataset, meta: dict[str, Any]) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {
        "items": dataset.items,
        "offsets": dataset.offsets,
        "n_items": np.asarray(dataset.n_items, dtype=np.int64),
        "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
    }
    arrays["user_ids"], arrays["user_ids_offsets"] = _pack_strings([str(u) for u in dataset.user_ids])
    arrays["item_ids"], arrays["item_ids_offsets"] = _pack_strings([str(i) for i in dataset.item_ids])
    if dataset.item_text is not None:
        arrays["item_text"], arrays["item_text_offsets"] = _pack_strings(dataset.item_text)
    if dataset.item_attributes is not None:
        lengths = [len(a) for a in dataset.item_attributes]
        arrays["attributes"] = np.concatenate([np.asarray(a, dtype=np.int64) for a in dataset.item_attributes])
        arrays["attributes_offsets"] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    if dataset.timestamps is not None:
        arrays["timestamps"] = dataset.timestamps
    return arrays


def _unpack(z: Any, name: str) -> Dataset:
    attributes = None
    if "attributes" in z:
        values, offs = z["attributes"], z["attributes_offsets"]
        attributes = [values[a:b] for a, b in zip(offs[:-1].tolist(), offs[1:].tolist())]
    return Dataset(
        name=name,
        items=z["items"],
        offsets=z["offsets"],
        n_items=int(z["n_items"]),
        user_ids=np.asarray(_unpack_strings(z["user_ids"], z["user_ids_offsets"])),
        item_ids=np.asarray(_unpack_strings(z["item_ids"], z["item_ids_offsets"])),
        item_text=_unpack_strings(z["item_text"], z["item_text_offsets"]) if "item_text" in z else None,
        item_attributes=attributes,
        timestamps=z["timestamps"] if "timestamps" in z else None,
    )


# ---------------------------------------------------------------------- load / save
def load_cached(path: Path, key: str, name: str) -> Dataset | None:
    """The dataset cached at ``path``, or ``None`` when absent; a corrupt entry is deleted.

    Anything unreadable (truncated zip, missing array, wrong key or version, inconsistent
    arrays) counts as corrupt: the caller rebuilds the entry from the sources.
    """
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(z["meta"].tobytes().decode())
            if meta.get("key") != key or meta.get("version") != FORMAT_VERSION:
                raise ValueError(f"entry is for key {meta.get('key')} version {meta.get('version')}")
            return _unpack(z, name)
    except Exception as e:  # noqa: BLE001 -- any failure to read means: rebuild
        logger.warning("dataset cache entry %s is unreadable (%s); rebuilding it", path, e)
        try:
            path.unlink()
        except OSError:
            pass
        return None


def save_cached(path: Path, key: str, dataset: Dataset, source: str) -> bool:
    """Write ``dataset`` to ``path`` atomically; ``False`` (and a warning) when that fails.

    The entry is written to a temporary file in the same folder, flushed, then renamed over
    ``path`` with ``os.replace``, so readers never see a partial file; on any failure
    (including an interrupt) the temporary file is removed. A cache that cannot be written
    (read-only or full disk) does not stop the dataset from loading.
    """
    meta = {"key": key, "version": FORMAT_VERSION, "source": source}
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # The pid in the name lets clean_stale_temporaries tell a killed writer's file from a live one's.
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp{os.getpid()}.", dir=path.parent)
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; the cache holds nothing private
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **_pack(dataset, meta))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
        return True
    except Exception as e:  # noqa: BLE001 -- caching is an optimisation, never a reason to fail
        logger.warning("could not write dataset cache entry %s: %s", path, e)
        return False
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
