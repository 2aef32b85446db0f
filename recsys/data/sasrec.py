"""``sasrec:PATH``: one line per user, ``user item item ...`` in time order (SASRec's data files).

Optional side files next to ``PATH`` are attached when present:

- ``items.tsv``: tab-separated with a header ``item_id  asin  title``; the title becomes the item text.
- ``item_attributes.json``: ``{"item_id": [attribute_id, ...]}`` (brand / category ids).

Ids are integers; ``user_ids`` / ``item_ids`` keep the file's ids.
"""

from __future__ import annotations

import json
from pathlib import Path

from agenticrs.recsys.data.errors import DataFormatError, parse_int, read_lines, require_file
from agenticrs.recsys.data.preprocess import Interactions

ITEMS_FILE = "items.tsv"
ATTRIBUTES_FILE = "item_attributes.json"


def sasrec_files(arg: str) -> list[Path]:
    """The sequence file and the side files that exist next to it (the cache key's inputs)."""
    path = require_file(arg, "sequence file")
    return [path] + [p for p in (path.with_name(ITEMS_FILE), path.with_name(ATTRIBUTES_FILE)) if p.is_file()]


def load_sasrec(arg: str) -> Interactions:
    """Parse a SASRec sequence file and its optional side files."""
    path = require_file(arg, "sequence file")
    log = Interactions(str(path))
    for n, line in enumerate(read_lines(path), start=1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) < 2:
            raise DataFormatError(
                f"wrong column count: expected 'user item [item ...]', got {len(tokens)} column", path, n
            )
        try:
            ids = [int(t) for t in tokens]
        except ValueError:
            # Find the offending token only on the error path, to keep the common path fast.
            for k, t in enumerate(tokens):
                parse_int(t, path, n, "user id" if k == 0 else "item id")
            raise  # unreachable: one token failed above
        log.add_sequence(ids[0], ids[1:])
    items_path = path.with_name(ITEMS_FILE)
    if items_path.is_file():
        log.item_text = _read_titles(items_path)
    attributes_path = path.with_name(ATTRIBUTES_FILE)
    if attributes_path.is_file():
        log.item_attributes = _read_attributes(attributes_path)
    return log


def _read_titles(path: Path) -> dict[int, str]:
    lines = read_lines(path)
    header = lines[0].split("\t")
    if [h.strip().lower() for h in header[:1]] != ["item_id"] or len(header) < 2:
        raise DataFormatError(f"expected a header 'item_id<TAB>asin<TAB>title', got {lines[0]!r}", path, 1)
    titles: dict[int, str] = {}
    n_cols = len(header)
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cols = line.split("\t", n_cols - 1)
        if len(cols) != n_cols:
            raise DataFormatError(f"wrong column count: expected {n_cols} tab-separated columns, got {len(cols)}", path, n)
        titles[parse_int(cols[0], path, n, "item id")] = cols[-1].strip()
    return titles


def _read_attributes(path: Path) -> dict[int, list[int]]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataFormatError(f"invalid JSON ({e.msg})", path, e.lineno) from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataFormatError(f"cannot read file ({e})", path) from None
    if not isinstance(raw, dict):
        raise DataFormatError('expected a JSON object {"item_id": [attribute ids]}', path)
    attributes: dict[int, list[int]] = {}
    for key, values in raw.items():
        try:
            item = int(key)
        except ValueError:
            raise DataFormatError(f"item id {key!r} is not an integer", path) from None
        if not isinstance(values, list) or not all(type(v) is int for v in values):
            raise DataFormatError(f"item {key!r}: attributes must be a list of integers, got {values!r}", path)
        attributes[item] = values
    return attributes
