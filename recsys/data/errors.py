"""The one exception every dataset problem raises, with the file and line it comes from."""

from __future__ import annotations

import os
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


def parse_int(token: str, path: Path, line: int, what: str) -> int:
    """``int(token)`` or a ``DataFormatError`` naming the file, line and the bad token."""
    try:
        return int(token)
    except ValueError:
        raise DataFormatError(f"{what} {token!r} is not an integer", path, line) from None


def parse_float(token: str, path: Path, line: int, what: str) -> float:
    """A finite ``float(token)`` or a ``DataFormatError`` naming the file and line."""
    try:
        value = float(token)
    except ValueError:
        raise DataFormatError(f"{what} {token!r} is not a number", path, line) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise DataFormatError(f"{what} {token!r} is not a finite number", path, line)
    return value
