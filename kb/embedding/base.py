"""The embedding interface: separate query and passage sides, L2-normalised float32 rows."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

import numpy as np

SIDES = ("q", "p")  # query, passage


class Embedder(Protocol):
    """What every embedding backend offers.

    ``name`` is the key stored next to vectors in the database: a chunk can carry vectors of
    several models, and switching the search model never needs a re-import.
    """

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise rows (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


def text_hash(text: str) -> str:
    """Stable key of a text, for caches and for skipping unchanged chunks on re-import."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def vector_key_of(embedder: Embedder, side: str) -> str:
    """Which vectors ``embedder`` computes on ``side`` (``q`` or ``p``): its ``vector_key``
    when it has one (several runtimes of one model), else its ``name``."""
    if side not in SIDES:
        raise ValueError(f"side must be 'q' or 'p', not {side!r}")
    key = getattr(embedder, "vector_key", None)
    return key(side) if callable(key) else embedder.name
