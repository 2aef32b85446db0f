"""The ``agenticrs`` command line: one sub-module per command family."""

from agenticrs.cli.main import main

__all__ = ["main"]
