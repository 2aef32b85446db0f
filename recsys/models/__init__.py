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
from agenticrs.recsys.models import itemknn  # noqa: F401  (registers "itemknn")
from agenticrs.recsys.models import ease  # noqa: F401  (registers "ease")
from agenticrs.recsys.models import bprmf  # noqa: F401  (registers "bprmf")
from agenticrs.recsys.models import gru4rec  # noqa: F401  (registers "gru4rec")
from agenticrs.recsys.models import sasrec  # noqa: F401  (registers "sasrec")
from agenticrs.recsys.models import bert4rec  # noqa: F401  (registers "bert4rec")
from agenticrs.recsys.models import sasrec_features  # noqa: F401  (registers "sasrec_features")
from agenticrs.recsys.models import tiger  # noqa: F401  (registers "tiger")
from agenticrs.recsys.models import lwgr  # noqa: F401  (registers "lwgr", "lwgr_fixed")
import agenticrs.recsys.design.compile  # noqa: F401,E402  (registers "design": programs of the design language)

__all__ = ["ModelConfig", "Recommender", "build_config", "get_model", "list_models", "pad_histories",
           "register_model"]
