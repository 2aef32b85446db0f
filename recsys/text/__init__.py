"""Item text encoders, the "world knowledge" source of semantic ids, TIGER and LWGR.

``make_encoder("tfidf")`` (offline default: hashed n-gram TF-IDF + SVD) or
``make_encoder("hf:/path/to/local/model")`` (extra ``text``); ``encode_items(dataset, spec)``
gives cached ``[n_items + 1, dim]`` item vectors.
"""

from agenticrs.recsys.text.base import TextEncoder, list_encoders, make_encoder, register_encoder
from agenticrs.recsys.text.cache import cached_array, encode_items, item_texts

__all__ = ["TextEncoder", "cached_array", "encode_items", "item_texts", "list_encoders", "make_encoder",
           "register_encoder"]
