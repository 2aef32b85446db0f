"""``csv:PATH``: a headed CSV (or TSV) file with one interaction per row.

Columns (names case-insensitive, any order, extra columns ignored):

- ``user`` (or ``user_id``/``userid``) and ``item`` (or ``item_id``/``itemid``): required, any token;
- ``timestamp`` (or ``time``/``ts``): optional, a number; each user's rows are stably sorted by it,
  otherwise file order is the chronological order;
- ``title`` (or ``text``): optional item text (the first non-empty value per item wins).

The delimiter is a comma, or a tab when the header has tabs and no comma. Ids are kept as
strings, and dense ids follow their order of first appearance.

Grammar: RFC 4180 quoting (a quoted field may span lines, e.g. a title; a quote left open
is an error, not the rest of the file swallowed into one field). Ids are string *tokens*:
any non-empty value without a line break, surrounding spaces removed, compared verbatim, so
``+1``, ``01`` and ``1`` are three users (a CSV log may use any id scheme; use ``sasrec:``
for strictly numeric ids). Every row has the header's column count; a row equal to the
header (two files concatenated) is an error; a timestamp is a finite ASCII decimal number.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterator

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
    rows = csv_rows(path, lines, delimiter)
    header = [h.strip().lower() for h in next(rows)[1]]
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
    for n, row in rows:
        user, item = row[u].strip(), row[i].strip()
        for what, value in (("user", user), ("item", item)):
            if not value:
                raise DataFormatError(f"empty {what} id", path, n)
            if "\n" in value:
                raise DataFormatError(f"{what} id spans several lines (a quote left open?)", path, n)
        log.add(user, item, parse_float(row[t], path, n, "timestamp") if t is not None else None)
        if title is not None and row[title].strip() and item not in titles:
            titles[item] = row[title].strip()
    if title is not None:
        log.item_text = titles
    return log


def csv_rows(path: Path, lines: list[str], delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """``(line where the row starts, fields)`` for the header and every non-blank row.

    Quoting is parsed strictly (``csv`` ``strict=True``): an unterminated quote or a stray
    character after a closing quote is a ``DataFormatError`` at the row's first line, and so
    are a row equal to the header and a row without the header's column count.
    """
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            problem = ("unterminated quoted field: a '\"' opened on this line is never closed"
                       if "unexpected end of data" in str(e) else f"malformed quoting ({e})")
            raise DataFormatError(problem, path, start) from None
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if header is None:
            header = row
        elif [f.strip() for f in row] == [h.strip() for h in header]:
            raise DataFormatError("the header row is repeated here (files concatenated?)", path, start)
        elif len(row) != len(header):
            raise DataFormatError(f"wrong column count: expected {len(header)}, got {len(row)}", path, start)
        yield start, row
