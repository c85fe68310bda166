"""Vectors kept between runs (evaluations, benchmarks): one SQLite file, keyed per model,
runtime and side."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kb.embedding.base import SIDES, Embedder, text_hash, vector_key_of


class EmbeddingCache:
    """On-disk cache of vectors keyed by (vector key, side, text hash).

    Rows are committed batch by batch, so an interrupted run keeps what it finished.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, side TEXT, hash TEXT, vec BLOB,"
            " PRIMARY KEY (model, side, hash))"
        )
        self._conn.commit()
        self._lock = threading.Lock()

    def get(self, model: str, side: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for i in range(0, len(hashes), 500):
                part = list(hashes[i : i + 500])
                marks = ",".join("?" * len(part))
                rows = self._conn.execute(
                    f"SELECT hash, vec FROM vectors WHERE model=? AND side=? AND hash IN ({marks})",
                    [model, side, *part],
                )
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put(self, model: str, side: str, items: dict[str, np.ndarray]) -> None:
        with self._lock:
            self._conn.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)",
                [(model, side, k, np.asarray(v, np.float32).tobytes()) for k, v in items.items()],
            )
            self._conn.commit()


class CachedEmbedder:
    """Wraps an embedder with an :class:`EmbeddingCache`; same interface, same vectors.

    Rows are stored under the inner embedder's vector key per side (:func:`vector_key_of`),
    so each runtime of a model keeps its own vectors.
    """

    def __init__(
        self, inner: Embedder, cache: EmbeddingCache, batch_size: int = 64, progress: bool = False
    ) -> None:
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self.keys = {side: vector_key_of(inner, side) for side in SIDES}
        self.batch_size = batch_size
        self.progress = progress

    @property
    def dim(self) -> int:
        return self.inner.dim

    def vector_key(self, side: str) -> str:
        return self.keys[side]

    def _embed(self, texts: Sequence[str], side: str) -> np.ndarray:
        texts = list(texts)
        hashes = [text_hash(t) for t in texts]
        found = self.cache.get(self.keys[side], side, hashes)
        missing = list(dict.fromkeys(h for h in hashes if h not in found))
        if missing:
            by_hash = dict(zip(hashes, texts, strict=True))
            steps: Sequence[int] = range(0, len(missing), self.batch_size)
            if self.progress:
                from tqdm import tqdm

                steps = tqdm(steps, desc=f"embedding ({self.name}, {side})", unit="batch")
            encode = self.inner.embed_queries if side == "q" else self.inner.embed_passages
            for i in steps:
                part = missing[i : i + self.batch_size]
                vectors = encode([by_hash[h] for h in part])
                fresh = dict(zip(part, vectors, strict=True))
                self.cache.put(self.keys[side], side, fresh)
                found.update(fresh)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([found[h] for h in hashes]).astype(np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, "q")

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, "p")
