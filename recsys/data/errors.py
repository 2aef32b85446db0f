"""The one exception every dataset problem raises, with the file and line it comes from."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path


class DataFormatError(ValueError):
    """A dataset cannot be loaded: a malformed, missing or empty file, or an unknown source.

    The message reads ``FILE, line N: PROBLEM`` (or ``FILE: PROBLEM`` when the problem is not
    on one line, or just ``PROBLEM`` when there is no file), so the user can open the file at
    the right place.

    Attributes:
        problem: what is wrong, in words.
        file: the file (or URI) concerned, or ``None``.
        line: the 1-based line number, or ``None``.
    """

    def __init__(self, problem: str, file: str | os.PathLike[str] | None = None, line: int | None = None) -> None:
        self.problem = problem
        self.file = None if file is None else str(file)
        self.line = line
        where = self.file or ""
        if line is not None:
            where = f"{where}, line {line}" if where else f"line {line}"
        super().__init__(f"{where}: {problem}" if where else problem)


def require_file(path: str | os.PathLike[str], what: str = "file") -> Path:
    """``path`` as a ``Path`` if it is an existing file, else a ``DataFormatError`` naming it."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataFormatError(f"{what} not found", p)
    if not p.is_file():
        raise DataFormatError(f"{what} is not a regular file", p)
    return p


def read_lines(path: Path, encoding: str = "utf-8") -> list[str]:
    """All lines of a text file without their line endings; an empty file is an error.

    Files here are a few MB, so reading them whole is simpler and faster than streaming.
    Blank lines are kept (as ``""``) so indices stay aligned with line numbers.
    """
    try:
        text = path.read_text(encoding=encoding)
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise DataFormatError(f"not valid {encoding} text ({e.reason})", path, line) from None
    except OSError as e:
        raise DataFormatError(f"cannot read file ({e.strerror or e})", path) from None
    # Not str.splitlines(): it also splits on \x1c-\x1e, \x85 and \u2028, which do occur in titles.
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    if not any(line.strip() for line in lines):
        raise DataFormatError("empty file", path)
    return lines


MAX_ID = 2**63 - 1
"""The largest id a loader accepts: ids are stored as int64 (NumPy) downstream."""

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def is_plain_id(token: str) -> bool:
    """Whether ``token`` is in the id grammar ``0|[1-9][0-9]*`` (ASCII digits only).

    Python's ``int()`` also accepts ``+1``, `` 1``, ``0_1``, ``01``, full-width ``１`` and
    Arabic-Indic ``١``, which would all silently become id 1; a data file means none of them.
    """
    return token.isascii() and token.isdigit() and (token[0] != "0" or len(token) == 1)


def parse_id(token: str, path: Path, line: int | None, what: str) -> int:
    """A non-negative integer id in the grammar ``0|[1-9][0-9]*`` below 2^63, else a ``DataFormatError``.

    The grammar is ASCII digits without sign, underscore, spaces or leading zero, so every id
    has one spelling: ``01`` is not silently the same id as ``1``.
    """
    if not is_plain_id(token):
        raise DataFormatError(
            f"{what} {token!r} is not a plain integer id (ASCII digits 0-9, no sign, underscore or leading zero)",
            path, line)
    value = int(token)
    if value > MAX_ID:
        raise DataFormatError(f"{what} {token!r} is too large (ids must be below 2^63)", path, line)
    return value


def parse_float(token: str, path: Path, line: int | None, what: str) -> float:
    """A finite number written in ASCII decimal (``-12``, ``3.5``, ``1e9``), else a ``DataFormatError``.

    ``float()`` alone would also take ``nan``, ``inf``, ``1_000`` and non-ASCII digits.
    """
    if _NUMBER.fullmatch(token.strip()):
        value = float(token)
        if math.isfinite(value):
            return value
        raise DataFormatError(f"{what} {token!r} is not a finite number", path, line)
    try:
        finite = math.isfinite(float(token))
    except ValueError:
        finite = True
    problem = "is not a finite number" if not finite else "is not a number (ASCII decimal, e.g. 12 or 3.5)"
    raise DataFormatError(f"{what} {token!r} {problem}", path, line)
