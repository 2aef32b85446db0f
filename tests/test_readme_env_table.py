"""The README's env table is generated from the registry (``agenticrs envs --markdown``)."""

from __future__ import annotations

import argparse
import contextlib
import io
import re
from pathlib import Path

from agenticrs.cli import envs

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_env_table_matches_the_registry():
    block = re.search(r"<!-- env-table -->\n(.*?)\n<!-- /env-table -->", README.read_text(), flags=re.S)
    assert block, "README.md lacks the <!-- env-table --> ... <!-- /env-table --> block"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        envs.run(argparse.Namespace(json=False, markdown=True))
    assert block.group(1).strip() == out.getvalue().strip(), (
        "README env table is stale: paste the output of `agenticrs envs --markdown` between the markers")
