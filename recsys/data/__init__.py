"""Datasets: ``load_dataset(uri)`` for every supported source, plus the synthetic generator."""

from agenticrs.recsys.data.dataset import PAD, Dataset, EvalSplit, Split

__all__ = ["PAD", "Dataset", "EvalSplit", "Split"]
