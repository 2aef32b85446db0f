"""The one error type the command line reports as a single line (exit status 2), never a traceback.

Commands raise :class:`CLIError` for input a user can fix (an unknown env id, a checkpoint that
does not fit the env, a negative budget); :func:`agenticrs.cli.main.main` prints
``agenticrs COMMAND: error: MESSAGE`` on stderr and returns 2, as argparse does for bad flags.
"""

from __future__ import annotations

import json
from typing import Any


class CLIError(Exception):
    """A user-fixable problem; the message is one line that names it and says what to do."""


def check_at_least(flag: str, value: int | None, minimum: int = 1) -> None:
    """Raise :class:`CLIError` unless ``value`` is ``None`` or ``>= minimum`` (``flag`` names it)."""
    if value is not None and value < minimum:
        raise CLIError(f"{flag} must be >= {minimum}, got {value}")


def json_object(flag: str, text: str | None) -> dict[str, Any]:
    """``text`` parsed as a JSON object (``{}`` for ``None``/empty); :class:`CLIError` otherwise."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise CLIError(f"{flag} is not valid JSON ({e}): {text!r}") from None
    if not isinstance(value, dict):
        raise CLIError(f"{flag} must be a JSON object like '{{\"key\": 1}}', got {type(value).__name__}: {text!r}")
    return value
