"""The readable text form of a program, and :func:`parse` for either form.

One line per section, ``keyword key=value ...``; blocks are ``block KIND key=value ...`` lines
in order; ``#`` starts a comment, ``;`` separates statements on one line (for command lines);
fields left out take their defaults::

    program name=sasrec dim=64 max_len=50 init=xavier
    inputs position=true scale=true dropout=0.2
    block attention heads=1 causal=true
    block mlp expansion=1 activation=relu
    block attention heads=1 causal=true
    block mlp expansion=1 activation=relu
    readout final_norm=true
    loss kind=bce negatives=1
    train lr=0.001 epochs=8

Values: ``true`` / ``false``, integers, floats (``1e-3``), bare words, or JSON strings in double
quotes. ``to_text(parse(t))`` re-prints any valid text in this layout, and
``parse(to_text(p)) == p`` for every program (the round trip the tests check).
"""

from __future__ import annotations

import json
import re
from typing import Any

from agenticrs.recsys.design.errors import DesignError, ParseError
from agenticrs.recsys.design.program import (
    SECTIONS,
    TOP_FIELDS,
    Program,
    defaults,
    from_dict,
    section_dict,
    to_dict,
)

_PAIR = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|[^\s"]+)')
_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?|[-+]?\d+[eE][-+]?\d+")
_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def _value(token: str, line: int) -> Any:
    if token.startswith('"'):
        try:
            return json.loads(token)
        except json.JSONDecodeError:
            raise ParseError(f"bad quoted string {token}", line=line) from None
    if token in ("true", "false"):
        return token == "true"
    if _INT.fullmatch(token):
        return int(token)
    if _FLOAT.fullmatch(token):
        return float(token)
    return token


def _pairs(rest: str, line: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pos = 0
    while pos < len(rest):
        if rest[pos:].strip() == "":
            break
        m = _PAIR.match(rest, pos)
        if m is None:
            bad = rest[pos:].split()[0]
            raise ParseError(f"expected key=value, got {bad!r}", line=line)
        key, token = m.group(1), m.group(2)
        if key in out:
            raise ParseError(f"field {key!r} given twice", line=line)
        out[key] = _value(token, line)
        pos = m.end()
    return out


def parse_text(text: str) -> tuple[dict[str, Any], dict[str, int]]:
    """Text form -> ``(dict form, {path: line})`` (the line of every section and block).

    Raises:
        ParseError: a line that is not ``keyword key=value ...``, an unknown keyword, a section
            given twice.
    """
    data: dict[str, Any] = {"blocks": []}
    lines: dict[str, int] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        for line in _statements(raw):
            keyword, _, rest = line.partition(" ")
            if keyword == "block":
                kind, _, rest = rest.strip().partition(" ")
                if not kind:
                    raise ParseError("a block line needs a kind: block KIND key=value ...", line=n)
                lines[f"blocks[{len(data['blocks'])}]"] = n
                data["blocks"].append({"kind": kind, **_pairs(rest, n)})
            elif keyword == "program":
                if "program" in lines:
                    raise ParseError("the program line is given twice", line=n)
                lines["program"] = n
                data.update(_pairs(rest, n))
            elif keyword in SECTIONS:
                if keyword in lines:
                    raise ParseError(f"section {keyword!r} is given twice", line=n)
                lines[keyword] = n
                data[keyword] = _pairs(rest, n)
            else:
                raise ParseError(f"unknown keyword {keyword!r}; a line starts with program, "
                                 f"{', '.join(SECTIONS)} or block", line=n)
    return data, lines


def _statements(raw: str) -> list[str]:
    """A line's statements: the text before an unquoted ``#``, split at unquoted ``;``, whitespace
    normalised to single spaces (so ``block gru; loss kind=bce`` fits a command line)."""
    out, start, quoted = [], 0, False
    for i, ch in enumerate(raw):
        if ch == '"' and (i == 0 or raw[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch in "#;":
            out.append(raw[start:i])
            start = i + 1
            if ch == "#":
                break
    else:
        out.append(raw[start:])
    return [" ".join(_tokens(part)) for part in out if part.strip()]


def _tokens(text: str) -> list[str]:
    """Whitespace-separated tokens, keeping quoted strings (and their spaces) whole."""
    return re.findall(r'(?:[^\s"]|"(?:[^"\\]|\\.)*")+', text)


def _line_of(path: str, lines: dict[str, int]) -> int | None:
    head = path.split(".", 1)[0]
    if head in lines:
        return lines[head]
    return lines.get("program") if head in TOP_FIELDS else None


def parse(source: str) -> Program:
    """A :class:`Program` from its text form or its JSON form (a string starting with ``{``).

    Types are checked (:func:`~.program.from_dict`); ranges and combinations are not (call
    :func:`~.validate.validate`). Errors from the text form name the line.

    Raises:
        DesignError: a subclass naming the field path (and the line).
    """
    if not isinstance(source, str):
        raise ParseError(f"a program source is a string, got {type(source).__name__}")
    if source.lstrip().startswith("{"):
        try:
            data = json.loads(source)
        except json.JSONDecodeError as e:
            raise ParseError(f"invalid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
        return from_dict(data)
    data, lines = parse_text(source)
    try:
        return from_dict(data)
    except DesignError as e:
        if e.line is not None:
            raise
        raise type(e)(e.message, e.path, _line_of(e.path, lines)) from None


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        return text if _FLOAT.fullmatch(text) else json.dumps(value)
    if isinstance(value, int):
        return str(value)
    text = str(value)
    keyword_like = text in ("true", "false") or _INT.fullmatch(text) or _FLOAT.fullmatch(text)
    return text if _BARE.fullmatch(text) and not keyword_like else json.dumps(text)


def _line(keyword: str, values: dict[str, Any], base: dict[str, Any], explicit: bool) -> str:
    parts = [f"{k}={_format(v)}" for k, v in values.items() if explicit or base.get(k, object()) != v]
    return " ".join([keyword, *parts])


def to_text(program: Program, *, explicit: bool = False) -> str:
    """The text form; ``explicit=True`` writes every field, else only those that differ from defaults.

    Section lines without any non-default field are left out (unless ``explicit``).
    """
    d = to_dict(program)
    out = []
    top = {k: d[k] for k in TOP_FIELDS}
    top_line = _line("program", top, defaults(Program), explicit)
    if top_line != "program":
        out.append(top_line)
    for name, cls in SECTIONS.items():
        if name == "inputs":
            line = _line(name, d[name], defaults(cls), explicit)
            if line != name or explicit:
                out.append(line)
    for block in program.blocks:
        values = section_dict(block)
        kind = values.pop("kind")
        out.append(_line(f"block {kind}", values, defaults(type(block)), explicit))
    for name, cls in SECTIONS.items():
        if name != "inputs":
            line = _line(name, d[name], defaults(cls), explicit)
            if line != name or explicit:
                out.append(line)
    return "\n".join(out) + "\n"


__all__ = ["parse", "parse_text", "to_text"]
