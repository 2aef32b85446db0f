"""Recommenders: one file per model, registered by name (``get_model("sasrec")``).

Importing this package registers every built-in model.
"""

from agenticrs.recsys.models.base import (
    ModelConfig,
    Recommender,
    build_config,
    get_model,
    list_models,
    pad_histories,
    register_model,
)
from agenticrs.recsys.models import pop  # noqa: F401  (registers "pop")

__all__ = ["ModelConfig", "Recommender", "build_config", "get_model", "list_models", "pad_histories",
           "register_model"]
