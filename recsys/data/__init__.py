"""Datasets: ``load_dataset(uri)`` for every supported source, plus the synthetic generator.

``load_dataset("synthetic:")`` (the embedded default), ``"beauty"``, ``"scientific"``,
``"sasrec:PATH"``, ``"recbole:PATH"``, ``"movielens:DIR"``, ``"csv:PATH"``; add sources with
``register_dataset``. Every problem with a source raises ``DataFormatError``.
"""

from agenticrs.recsys.data.dataset import PAD, Dataset, EvalSplit, Split
from agenticrs.recsys.data.errors import DataFormatError
from agenticrs.recsys.data.preprocess import Interactions, k_core, preprocess
from agenticrs.recsys.data.registry import (
    DatasetInfo,
    data_roots,
    list_datasets,
    load_dataset,
    register_dataset,
    unregister_dataset,
)
from agenticrs.recsys.data.synthetic import SyntheticConfig, generate_synthetic

__all__ = [
    "PAD",
    "Dataset",
    "EvalSplit",
    "Split",
    "DataFormatError",
    "DatasetInfo",
    "Interactions",
    "SyntheticConfig",
    "data_roots",
    "generate_synthetic",
    "k_core",
    "list_datasets",
    "load_dataset",
    "preprocess",
    "register_dataset",
    "unregister_dataset",
]
