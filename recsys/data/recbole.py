"""``recbole:PATH``: RecBole atomic files (tab-separated, header ``name:type`` per column).

``PATH`` is a prefix such as ``/data/Scientific`` (files ``/data/Scientific.*``), a folder
holding one dataset's files, or one ``.inter`` file. Two interaction layouts are read:

- plain atomic ``PREFIX.inter``: ``user_id:token  item_id:token  [timestamp:float]  [...]``, one
  event per row, ordered per user by timestamp when present;
- pre-split sequential ``PREFIX.test.inter`` (used when there is no ``PREFIX.inter``):
  ``user_id:token  item_id_list:token_seq  item_id:token``; the history plus the target is the
  user's full sequence (when a user has several rows, the longest one is kept).

Item text comes from ``PREFIX.text`` (``item_id:token  text:token_seq``, whose item ids are
mapped through ``PREFIX.item2index`` when it exists) or else from the ``token_seq`` columns of
a standard ``PREFIX.item`` file. ``user_ids`` / ``item_ids`` keep the ``.inter`` file's tokens.

Grammar: the first line is the header, tab-separated ``name:type`` fields with distinct names;
every other non-blank line has as many tab-separated columns. Ids are RecBole *tokens*: any
non-empty string without a tab, surrounding spaces removed, compared verbatim (as RecBole
does): ``01`` and ``1`` are two different users, which is legitimate in this format (tokens
are often ASINs or hashes). A data line equal to the header (two files concatenated) is an
error, as are an empty id and a timestamp that is not a finite ASCII decimal number.
"""

from __future__ import annotations

from pathlib import Path

from agenticrs.recsys.data.errors import DataFormatError, parse_float, read_lines
from agenticrs.recsys.data.preprocess import Interactions

_SPLITS = (".train", ".valid", ".test")


def _resolve(arg: str) -> tuple[Path, Path]:
    """``(prefix, interaction file)`` for a prefix, a folder or a ``.inter`` file."""
    path = Path(arg).expanduser()
    if path.is_file() and path.name.endswith(".inter"):
        stem = path.name[: -len(".inter")]
        for split in _SPLITS:
            stem = stem[: -len(split)] if stem.endswith(split) else stem
        return path.with_name(stem), path
    if path.is_dir():
        stems = sorted({p.name.split(".")[0] for p in path.glob("*.inter")})
        if not stems:
            raise DataFormatError("no RecBole .inter file in this folder", path)
        if len(stems) > 1 and path.name not in stems:
            raise DataFormatError(f"several RecBole datasets in this folder ({', '.join(stems)}); give a prefix", path)
        path = path / (path.name if path.name in stems else stems[0])
    tried = [Path(f"{path}.inter"), Path(f"{path}.test.inter")]
    for inter in tried:
        if inter.is_file():
            return path, inter
    raise DataFormatError(f"RecBole interaction file not found (tried {', '.join(map(str, tried))})", arg)


def recbole_files(arg: str) -> list[Path]:
    """The interaction file and the side files that exist (the cache key's inputs)."""
    prefix, inter = _resolve(arg)
    side = [Path(f"{prefix}{ext}") for ext in (".text", ".item2index", ".item")]
    return [inter] + [p for p in side if p.is_file()]


def _header(line: str, path: Path) -> dict[str, int]:
    """Column name (without its ``:type``) -> index; types kept under ``name:type`` keys too."""
    columns: dict[str, int] = {}
    for k, field in enumerate(line.split("\t")):
        name, sep, ftype = field.strip().partition(":")
        if not sep or not name or not ftype:
            raise DataFormatError(f"expected a RecBole header of 'name:type' columns, got {field!r}", path, 1)
        if name in columns:
            raise DataFormatError(f"column {name!r} appears twice in the header", path, 1)
        columns[name] = k
        columns[f"{name}:{ftype}"] = k
    return columns


def _require(columns: dict[str, int], name: str, path: Path) -> int:
    if name not in columns:
        found = ", ".join(c for c in columns if ":" in c)
        raise DataFormatError(f"missing required column {name!r} (header has {found})", path, 1)
    return columns[name]


def _rows(lines: list[str], n_cols: int, path: Path):
    """``(line_number, columns)`` for each non-blank data row, checking the column count and
    that the row is not the header again."""
    header = lines[0].strip()
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        if line.strip() == header:
            raise DataFormatError("the header line is repeated here (files concatenated?)", path, n)
        cols = line.split("\t")
        if len(cols) != n_cols:
            raise DataFormatError(f"wrong column count: expected {n_cols} tab-separated columns, got {len(cols)}", path, n)
        yield n, cols


def _token(value: str, what: str, path: Path, n: int) -> str:
    value = value.strip()
    if not value:
        raise DataFormatError(f"empty {what}", path, n)
    return value


def load_recbole(arg: str) -> Interactions:
    """Parse RecBole atomic files into an interaction log with item text when available."""
    prefix, path = _resolve(arg)
    lines = read_lines(path)
    columns = _header(lines[0], path)
    n_cols = len(lines[0].split("\t"))
    log = Interactions(str(path))
    u_col = _require(columns, "user_id", path)
    i_col = _require(columns, "item_id", path)
    if "item_id_list" in columns:
        # Pre-split sequential layout: keep each user's longest history + target.
        h_col = columns["item_id_list"]
        full: dict[str, list[str]] = {}
        for n, cols in _rows(lines, n_cols, path):
            user = _token(cols[u_col], "user id", path, n)
            seq = cols[h_col].split() + [_token(cols[i_col], "item id", path, n)]
            if len(seq) >= len(full.get(user, ())):
                full[user] = seq
        for user, seq in full.items():
            log.add_sequence(user, seq)
    else:
        t_col = columns.get("timestamp")
        for n, cols in _rows(lines, n_cols, path):
            user = _token(cols[u_col], "user id", path, n)
            item = _token(cols[i_col], "item id", path, n)
            ts = parse_float(cols[t_col], path, n, "timestamp") if t_col is not None else None
            log.add(user, item, ts)
    text_path, item_path = Path(f"{prefix}.text"), Path(f"{prefix}.item")
    if text_path.is_file():
        log.item_text = _read_text(text_path, Path(f"{prefix}.item2index"))
    elif item_path.is_file():
        log.item_text = _read_item_features(item_path)
    return log


def _read_text(path: Path, index_path: Path) -> dict[str, str]:
    lines = read_lines(path)
    columns = _header(lines[0], path)
    i_col, t_col = _require(columns, "item_id", path), _require(columns, "text", path)
    n_cols = len(lines[0].split("\t"))
    # The .text file names items by their original id (an ASIN); .item2index maps it to the token
    # used in the .inter files.
    index: dict[str, str] | None = None
    if index_path.is_file():
        index = {}
        for n, line in enumerate(read_lines(index_path), start=1):
            if not line.strip():
                continue
            cols = line.split("\t")
            if len(cols) != 2:
                raise DataFormatError(f"wrong column count: expected 'original_id<TAB>index', got {len(cols)} columns", index_path, n)
            original = _token(cols[0], "original id", index_path, n)
            if original in index:
                raise DataFormatError(f"original id {original!r} is listed twice", index_path, n)
            index[original] = _token(cols[1], "item index", index_path, n)
    text: dict[str, str] = {}
    for n, cols in _rows(lines, n_cols, path):
        key = _token(cols[i_col], "item id", path, n)
        text[index.get(key, key) if index is not None else key] = cols[t_col].strip()
    return text


def _read_item_features(path: Path) -> dict[str, str]:
    """Text from a standard ``.item`` file: its ``token_seq`` columns joined (e.g. title. genres.)."""
    lines = read_lines(path)
    columns = _header(lines[0], path)
    i_col = _require(columns, "item_id", path)
    text_cols = [k for name, k in columns.items() if name.endswith(":token_seq")]
    n_cols = len(lines[0].split("\t"))
    text: dict[str, str] = {}
    for n, cols in _rows(lines, n_cols, path):
        parts = [cols[k].strip() for k in text_cols if cols[k].strip()]
        text[_token(cols[i_col], "item id", path, n)] = ". ".join(parts) + ("." if parts else "")
    return text
