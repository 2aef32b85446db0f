"""Shared fixtures: tiny deterministic datasets, and one torch thread (CI has 2 cores)."""

from __future__ import annotations

import pytest
import torch

from agenticrs.recsys.data.dataset import Dataset
from chain_data import chain_dataset

torch.set_num_threads(1)


@pytest.fixture
def chain() -> Dataset:
    return chain_dataset()
