"""``sasrec:PATH``: one line per user, ``user item item ...`` in time order (SASRec's data files).

Grammar (every violation is a ``DataFormatError`` naming the file and line):

- each non-blank line is whitespace-separated ``user item [item ...]``;
- every id is a plain integer ``0|[1-9][0-9]*`` below 2^63: ASCII digits without sign,
  underscore or leading zero (``+1``, ``01``, ``0_1``, ``１`` and ``١`` are errors, not user 1);
- each user has one line, or, in the original SASRec layout where *every* line is one
  ``user item`` pair, consecutive lines; a user listed again elsewhere is an error (two
  concatenated files, or a user split across the file, would otherwise be silently merged).

Optional side files next to ``PATH`` are attached when present:

- ``items.tsv``: tab-separated with a header ``item_id  asin  title``; the title becomes the item
  text. Item ids follow the grammar above; each item is listed once.
- ``item_attributes.json``: ``{"item_id": [attribute_id, ...]}`` (brand / category ids); keys
  follow the id grammar, attribute ids are JSON integers in ``[0, 2^63)``, each item listed once.

``user_ids`` / ``item_ids`` keep the file's ids.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from agenticrs.recsys.data.errors import MAX_ID, DataFormatError, is_plain_id, parse_id, read_lines, require_file
from agenticrs.recsys.data.preprocess import Interactions

ITEMS_FILE = "items.tsv"
ATTRIBUTES_FILE = "item_attributes.json"


def sasrec_files(arg: str) -> list[Path]:
    """The sequence file and the side files that exist next to it (the cache key's inputs)."""
    path = require_file(arg, "sequence file")
    return [path] + [p for p in (path.with_name(ITEMS_FILE), path.with_name(ATTRIBUTES_FILE)) if p.is_file()]


def load_sasrec(arg: str) -> Interactions:
    """Parse a SASRec sequence file and its optional side files (grammar in the module docstring)."""
    path = require_file(arg, "sequence file")
    rows: list[tuple[int, list[int]]] = []
    for n, line in enumerate(read_lines(path), start=1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) < 2:
            raise DataFormatError(
                f"wrong column count: expected 'user item [item ...]', got {len(tokens)} column", path, n
            )
        if not all(map(is_plain_id, tokens)) or max(map(len, tokens)) > 18:
            # Name the offending token only on the error path, to keep the common path fast.
            for k, t in enumerate(tokens):
                parse_id(t, path, n, "user id" if k == 0 else "item id")
        rows.append((n, [int(t) for t in tokens]))
    pairs = all(len(ids) == 2 for _, ids in rows)  # the original SASRec layout: one event per line
    log = Interactions(str(path))
    first_line: dict[int, int] = {}
    previous: int | None = None
    for n, ids in rows:
        user = ids[0]
        if user in first_line and not (pairs and user == previous):
            raise DataFormatError(
                f"user {user} is listed twice (first at line {first_line[user]}); give each user one line, "
                "or one 'user item' pair per line with a user's lines together", path, n)
        first_line.setdefault(user, n)
        previous = user
        log.add_sequence(user, ids[1:])
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
    first_line: dict[int, int] = {}
    n_cols = len(header)
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cols = line.split("\t", n_cols - 1)
        if len(cols) != n_cols:
            raise DataFormatError(f"wrong column count: expected {n_cols} tab-separated columns, got {len(cols)}", path, n)
        item = parse_id(cols[0].strip(), path, n, "item id")
        if item in first_line:
            raise DataFormatError(f"item id {item} is listed twice (first at line {first_line[item]})", path, n)
        first_line[item] = n
        titles[item] = cols[-1].strip()
    return titles


def _read_attributes(path: Path) -> dict[int, list[int]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataFormatError(f"cannot read file ({e})", path) from None
    try:
        # Pairs, not a dict: json.loads would keep the last of two equal keys without a word.
        raw = json.loads(text, object_pairs_hook=_Pairs)
    except json.JSONDecodeError as e:
        raise DataFormatError(f"invalid JSON ({e.msg})", path, e.lineno) from None
    if not isinstance(raw, _Pairs):
        raise DataFormatError('expected a JSON object {"item_id": [attribute ids]}', path)
    attributes: dict[int, list[int]] = {}
    for key, values in raw:
        ok = (is_plain_id(key) and len(key) <= 18 and int(key) not in attributes
              and isinstance(values, list) and not isinstance(values, _Pairs)
              and all(type(v) is int and 0 <= v <= MAX_ID for v in values))
        if not ok:  # the slow path finds the key's line and names the problem
            _attribute_error(path, _key_line(text, key), key, values, attributes)
        attributes[int(key)] = values
    return attributes


class _Pairs(list):
    """A JSON object as its ``(key, value)`` pairs, duplicates kept."""


def _attribute_error(path: Path, line: int | None, key: str, values: Any, seen: dict[int, list[int]]) -> None:
    item = parse_id(key, path, line, "item id")
    if item in seen:
        raise DataFormatError(f"item id {key!r} is listed twice", path, line)
    if not isinstance(values, list) or isinstance(values, _Pairs) or not all(type(v) is int for v in values):
        shown = dict(values) if isinstance(values, _Pairs) else values
        raise DataFormatError(f"item {key!r}: attributes must be a list of integers, got {_short(shown)}", path, line)
    bad = next(v for v in values if not 0 <= v <= MAX_ID)
    problem = "is negative" if bad < 0 else "is too large (ids must be below 2^63)"
    raise DataFormatError(f"item {key!r}: attribute id {bad} {problem}", path, line)


def _key_line(text: str, key: str) -> int | None:
    """The line where the JSON key ``key`` is written (its last occurrence as a key), for errors."""
    found = None
    for m in re.finditer(re.escape(json.dumps(key)) + r"\s*:", text):
        found = m
    if found is None:  # the key was written with escapes; no line rather than a wrong one
        return None
    return text.count("\n", 0, found.start()) + 1


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
