"""Text embeddings: one small interface, interchangeable models, a registry by name.

Every model has separate ``embed_queries`` and ``embed_passages`` because asymmetric models
(E5) need different prefixes on each side. Vectors are float32 and L2-normalised, so a dot
product is a cosine. Models are created from configuration names with
:func:`create_embedder` and load lazily on first use.
"""

from __future__ import annotations

from kb.embedding.base import SIDES, Embedder, normalise, text_hash, vector_key_of
from kb.embedding.cache import CachedEmbedder, EmbeddingCache
from kb.embedding.fake import FakeEmbedder
from kb.embedding.registry import create_embedder, model_names, register, vector_key

__all__ = [
    "SIDES",
    "CachedEmbedder",
    "Embedder",
    "EmbeddingCache",
    "FakeEmbedder",
    "create_embedder",
    "model_names",
    "normalise",
    "register",
    "text_hash",
    "vector_key",
    "vector_key_of",
]
