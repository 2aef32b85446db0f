"""``csv:PATH``: a headed CSV (or TSV) file with one interaction per row.

Columns (names case-insensitive, any order, extra columns ignored):

- ``user`` (or ``user_id``/``userid``) and ``item`` (or ``item_id``/``itemid``): required, any token;
- ``timestamp`` (or ``time``/``ts``): optional, a number; each user's rows are stably sorted by it,
  otherwise file order is the chronological order;
- ``title`` (or ``text``): optional item text (the first non-empty value per item wins).

The delimiter is a comma, or a tab when the header has tabs and no comma. Ids are kept as
strings, and dense ids follow their order of first appearance.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from agenticrs.recsys.data.errors import DataFormatError, parse_float, read_lines, require_file
from agenticrs.recsys.data.preprocess import Interactions

_ALIASES = {
    "user": ("user", "user_id", "userid"),
    "item": ("item", "item_id", "itemid"),
    "timestamp": ("timestamp", "time", "ts"),
    "title": ("title", "text"),
}


def csv_files(arg: str) -> list[Path]:
    return [require_file(arg, "CSV file")]


def load_csv(arg: str) -> Interactions:
    """Parse a headed interaction CSV file."""
    path = require_file(arg, "CSV file")
    lines = read_lines(path)
    delimiter = "\t" if "\t" in lines[0] and "," not in lines[0] else ","
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader)]
    col: dict[str, int] = {}
    for role, names in _ALIASES.items():
        found = [k for k, h in enumerate(header) if h in names]
        if len(found) > 1:
            raise DataFormatError(f"several columns mean {role!r}: {', '.join(header[k] for k in found)}", path, 1)
        if found:
            col[role] = found[0]
    for role in ("user", "item"):
        if role not in col:
            raise DataFormatError(
                f"missing required column {role!r} (also accepted: {', '.join(_ALIASES[role][1:])}); "
                f"header has {', '.join(header)}",
                path,
                1,
            )
    u, i, t, title = col["user"], col["item"], col.get("timestamp"), col.get("title")
    log = Interactions(str(path))
    titles: dict[str, str] = {}
    for row in reader:
        n = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != len(header):
            raise DataFormatError(f"wrong column count: expected {len(header)}, got {len(row)}", path, n)
        user, item = row[u].strip(), row[i].strip()
        if not user or not item:
            raise DataFormatError(f"empty {'user' if not user else 'item'} id", path, n)
        log.add(user, item, parse_float(row[t], path, n, "timestamp") if t is not None else None)
        if title is not None and row[title].strip() and item not in titles:
            titles[item] = row[title].strip()
    if title is not None:
        log.item_text = titles
    return log
