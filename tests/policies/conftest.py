"""Fixtures for policy tests: a stand-in AutoTrain table file (no shipped table needed)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def table_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Every (task, configuration, fidelity) of the synthetic suite, 3 seeds, pseudo-random metrics."""
    from agenticrs.benchmarks.env_speed import stand_in_table

    path = Path(tmp_path_factory.mktemp("table")) / "autotrain__standin.jsonl.gz"
    stand_in_table().save(path)
    return str(path)


@pytest.fixture(scope="session")
def table_kwargs(table_file: str) -> dict:
    """JSON-able env kwargs of the table backend on the stand-in table."""
    return {"backend": "table", "backend_kwargs": {"table": table_file}}
