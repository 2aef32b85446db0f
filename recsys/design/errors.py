"""The design language's errors: one base class, one subclass per kind of mistake.

Every error names *where* the problem is: ``path`` is a field path into the program
(``blocks[2].heads``, ``loss.kind``; ``""`` for the whole program) and, for the text form,
``line`` is the 1-based line. ``str(error)`` is one line: ``blocks[2].heads: ... (line 5)``.
Catch :class:`DesignError` for "this program is not acceptable", or a subclass to react to
one kind (a proposer may repair a :class:`LimitError` by shrinking, but not a :class:`ParseError`).
"""

from __future__ import annotations


class DesignError(ValueError):
    """Base class: a program that cannot be parsed, typed, validated or compiled.

    Attributes:
        path: field path of the offending part (``""``: the program as a whole).
        line: 1-based line in the text form, when the error comes from parsing text.
        message: the problem, without the path.
    """

    def __init__(self, message: str, path: str = "", line: int | None = None):
        self.message, self.path, self.line = message, path, line
        where = f"{path}: " if path else ""
        at = f" (line {line})" if line is not None else ""
        super().__init__(f"{where}{message}{at}")


class ParseError(DesignError):
    """The text or JSON is not well formed (bad syntax, a line that is not ``keyword key=value ...``)."""


class UnknownBlockError(DesignError):
    """A block ``kind`` that the language does not have."""


class UnknownFieldError(DesignError):
    """A field that the section or block does not have (a typo, or a field of another block kind)."""


class FieldTypeError(DesignError):
    """A field's value has the wrong type (a string for an int, a float for a bool...)."""


class ValueRangeError(DesignError):
    """A value outside its range or not among its choices."""


class LimitError(DesignError):
    """The program exceeds a size limit (blocks, width, sequence length, parameter count)."""


class IncompatibleError(DesignError):
    """Fields that are fine alone but not together (bidirectional attention under a next-item objective)."""


__all__ = ["DesignError", "FieldTypeError", "IncompatibleError", "LimitError", "ParseError", "UnknownBlockError",
           "UnknownFieldError", "ValueRangeError"]
