"""Prompts as versioned template files: ``prompts/NAME_vN.txt`` (``string.Template``, ``$field``).

A changed prompt is a new file (``propose_v2.txt``), never an edit of an old one, so a recorded
call's ``prompt`` id (``propose_v1``) always names the text that produced it. ``load_prompt``
takes the newest version unless asked for one.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from importlib import resources
from typing import Any

_FILE = re.compile(r"^([a-z_]+)_v(\d+)\.txt$")


@dataclass(frozen=True)
class PromptTemplate:
    """One prompt file: its name, version and text."""

    name: str
    version: int
    text: str

    @property
    def id(self) -> str:
        """``NAME_vN``: what the KnowledgeStore records beside each call."""
        return f"{self.name}_v{self.version}"

    @property
    def fields(self) -> list[str]:
        return sorted({m.group("named") or m.group("braced") for m in string.Template.pattern.finditer(self.text)
                       if m.group("named") or m.group("braced")})

    def render(self, **values: Any) -> str:
        """The prompt with every ``$field`` filled.

        Raises:
            KeyError: a field without a value (one line naming it and the template).
        """
        missing = [f for f in self.fields if f not in values]
        if missing:
            raise KeyError(f"prompt {self.id}: no value for {', '.join(missing)}")
        return string.Template(self.text).substitute({k: str(v) for k, v in values.items()})


def prompt_versions() -> dict[str, list[int]]:
    """Every shipped prompt name and its versions (ascending)."""
    out: dict[str, list[int]] = {}
    for entry in resources.files("agenticrs.policies.llm").joinpath("prompts").iterdir():
        m = _FILE.match(entry.name)
        if m:
            out.setdefault(m.group(1), []).append(int(m.group(2)))
    return {k: sorted(v) for k, v in sorted(out.items())}


def load_prompt(name: str, version: int | None = None) -> PromptTemplate:
    """The prompt ``name`` at ``version`` (default: the newest).

    Raises:
        KeyError: no such prompt or version (names the ones shipped).
    """
    versions = prompt_versions()
    if name not in versions:
        raise KeyError(f"no prompt {name!r}; prompts: {', '.join(versions)}")
    version = versions[name][-1] if version is None else int(version)
    if version not in versions[name]:
        raise KeyError(f"prompt {name!r} has no version {version}; versions: {versions[name]}")
    text = resources.files("agenticrs.policies.llm").joinpath("prompts", f"{name}_v{version}.txt").read_text()
    return PromptTemplate(name, version, text)


__all__ = ["PromptTemplate", "load_prompt", "prompt_versions"]
