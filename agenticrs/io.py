"""Atomic file writes: a tmp file in the same folder, then ``os.replace``.

An interrupted or failing writer therefore leaves either the old file or the new one,
never a torn one; used for results, caches and tables.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    write_bytes_atomic(path, text.encode())


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a same-folder temporary file and ``os.replace``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """JSON, gzip-compressed when ``path`` ends in ``.gz`` (large results files stay small in git)."""
    text = json.dumps(obj, indent=2, sort_keys=True) + "\n"
    if str(path).endswith(".gz"):
        write_bytes_atomic(path, gzip.compress(text.encode(), mtime=0))  # mtime 0: same object, same bytes
    else:
        write_text_atomic(path, text)


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read what :func:`write_json_atomic` wrote (``.gz`` or plain)."""
    data = Path(path).read_bytes()
    return json.loads(gzip.decompress(data) if str(path).endswith(".gz") else data)


def sibling(path: str | os.PathLike[str], suffix: str) -> Path:
    """``results.json`` or ``results.json.gz`` -> ``results{suffix}`` (where its report and plot go)."""
    p = Path(path)
    return (p.with_suffix("") if p.suffix == ".gz" else p).with_suffix(suffix)
