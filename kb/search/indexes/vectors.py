"""Vector search with FAISS: one small class per backend behind a tiny base (txtai style).

Vectors are L2-normalised, so inner product is cosine. Both backends give each added vector a
fresh internal label and remember which chunk it belongs to; removing a chunk marks its label
dead (HNSW cannot delete), dead labels are excluded by an ID selector at search time, and the
index is compacted when a quarter of it is dead. Only *public* chunks are ever added here;
private note vectors are scored by :func:`brute_force` per request (see ``hybrid``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

import faiss
import numpy as np

DEFAULT_HNSW_THRESHOLD = 50_000
COMPACT_DEAD_SHARE = 0.25
# A filter leaving at most this many chunks is answered exactly (an HNSW walk restricted to a
# few allowed nodes can miss some of them).
EXACT_FILTER_LIMIT = 4096
# OpenMP threads of one query's FAISS search. A web worker answers one query at a time and
# the workers already share the cores: with FAISS's default (every core) an exact search over
# 20,000 vectors took 24-52 ms median on a 2-core machine at load 5.5, on one thread 2-8 ms
# (and run_search in the search page 33 -> 15 ms median; results/guides-web.md). Building and
# compacting an index keep FAISS's default.
SEARCH_THREADS = 1


class VectorBackend:
    """Labels, tombstones and filtered top-k; subclasses choose the FAISS index."""

    kind = "base"

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.index = self._new_index()
        self._chunk_of = np.zeros(0, dtype=np.int64)  # label -> chunk id
        self._label_of: dict[int, int] = {}  # live chunk id -> label
        self._dead: set[int] = set()

    def _new_index(self) -> faiss.Index:
        raise NotImplementedError

    def params(self) -> dict[str, int]:
        """The constructor's arguments besides ``dim`` (kept in a snapshot's header)."""
        return {}

    def labels(self) -> tuple[np.ndarray, np.ndarray]:
        """(chunk id of each label, dead labels): with the FAISS index, all a copy needs."""
        return self._chunk_of, np.fromiter(sorted(self._dead), np.int64, len(self._dead))

    @classmethod
    def restore(cls, dim: int, params: Mapping[str, int], index: faiss.Index,
                chunk_of: np.ndarray, dead: np.ndarray) -> VectorBackend:  # fmt: skip
        """A backend around a stored FAISS index and its labels (see :meth:`labels`)."""
        if index.d != dim or index.ntotal != len(chunk_of):
            raise ValueError(
                f"a {cls.kind} index of {index.ntotal} vectors of dimension {index.d} does not "
                f"match {len(chunk_of)} labels of {dim}"
            )
        backend = cls(dim, **params)
        backend.index = index
        backend._chunk_of = np.asarray(chunk_of, dtype=np.int64)
        backend._dead = set(dead.tolist())
        live = np.ones(len(chunk_of), dtype=bool)
        live[dead] = False
        labels = np.flatnonzero(live)
        backend._label_of = dict(zip(backend._chunk_of[labels].tolist(), labels.tolist(),
                                     strict=True))  # fmt: skip
        return backend

    def _params(self, selector: faiss.IDSelector | None, k: int) -> faiss.SearchParameters:
        # faiss's wrapper takes attributes as keyword arguments; its stubs only know __init__().
        return faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]

    def __len__(self) -> int:
        return len(self._label_of)

    def __contains__(self, chunk_id: object) -> bool:
        return chunk_id in self._label_of

    def add(self, chunk_ids: Sequence[int], vectors: np.ndarray) -> None:
        """Add (or replace) the vectors of ``chunk_ids``."""
        if not len(chunk_ids):
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(chunk_ids), self.dim)
        self.remove(chunk_ids)
        start = len(self._chunk_of)
        self.index.add(vectors)
        self._chunk_of = np.concatenate([self._chunk_of, np.asarray(chunk_ids, np.int64)])
        for offset, chunk_id in enumerate(chunk_ids):
            self._label_of[int(chunk_id)] = start + offset

    def remove(self, chunk_ids: Iterable[int]) -> None:
        for chunk_id in chunk_ids:
            label = self._label_of.pop(int(chunk_id), None)
            if label is not None:
                self._dead.add(label)
        if self._dead and len(self._dead) >= COMPACT_DEAD_SHARE * len(self._chunk_of):
            self._compact()

    def _compact(self) -> None:
        """Rebuild from the live vectors (FAISS reconstructs them from its own storage)."""
        live = sorted(self._label_of.items(), key=lambda kv: kv[1])
        vectors = (
            np.vstack([self.index.reconstruct(label) for _, label in live])
            if live
            else np.zeros((0, self.dim), np.float32)
        )
        self.index = self._new_index()
        self._chunk_of = np.zeros(0, dtype=np.int64)
        self._label_of = {}
        self._dead = set()
        self.add([chunk_id for chunk_id, _ in live], vectors)

    def vectors(self, chunk_ids: Iterable[int]) -> tuple[list[int], np.ndarray]:
        """The stored vectors of those ``chunk_ids`` that are live (FAISS reconstructs them)."""
        live = [int(c) for c in chunk_ids if int(c) in self._label_of]
        if not live:
            return [], np.zeros((0, self.dim), np.float32)
        labels = np.asarray([self._label_of[c] for c in live], dtype=np.int64)
        return live, self.index.reconstruct_batch(labels)

    def search(
        self, query: np.ndarray, k: int, allowed: Collection[int] | None = None
    ) -> list[tuple[int, float]]:
        """(chunk id, cosine) of the ``k`` nearest live chunks, limited to ``allowed`` if given."""
        if k <= 0 or not self._label_of:
            return []
        selector: faiss.IDSelector | None
        if allowed is not None:
            labels = [self._label_of[c] for c in allowed if c in self._label_of]
            if not labels:
                return []
            if len(labels) <= EXACT_FILTER_LIMIT:
                keys = np.asarray(labels, dtype=np.int64)
                found = brute_force(query, keys, self.index.reconstruct_batch(keys), k)
                return [(int(self._chunk_of[label]), score) for label, score in found]
            selector = faiss.IDSelectorBatch(np.asarray(labels, dtype=np.int64))
        elif self._dead:
            dead = faiss.IDSelectorBatch(np.asarray(sorted(self._dead), dtype=np.int64))
            selector = faiss.IDSelectorNot(dead)
        else:
            selector = None
        k = min(k, len(self._label_of))
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dim)
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(SEARCH_THREADS)
        try:
            scores, hits = self.index.search(query, k, params=self._params(selector, k))
        finally:
            faiss.omp_set_num_threads(before)
        return [
            (int(self._chunk_of[label]), float(score))
            for score, label in zip(scores[0], hits[0], strict=True)
            if label >= 0
        ]


class ExactBackend(VectorBackend):
    """Brute-force inner product (exact); right for small and medium libraries."""

    kind = "exact"

    def _new_index(self) -> faiss.Index:
        return faiss.IndexFlatIP(self.dim)


class HnswBackend(VectorBackend):
    """Approximate nearest neighbours (HNSW graph, inner product) for large libraries.

    efConstruction 200 / efSearch 256 keep recall@10 against exact search high at a hundred
    thousand vectors; the same graph needs a wider search as it grows, so from ``large_from``
    live vectors the search uses ``ef_search_large``. ``tandem bench search`` measures recall
    and latency (figures and how they were chosen: results/BENCH.md).
    """

    kind = "hnsw"
    ef_search_large = 1024
    large_from = 500_000

    def __init__(
        self, dim: int, m: int = 32, ef_construction: int = 200, ef_search: int = 256
    ) -> None:
        self.m = m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        super().__init__(dim)

    def params(self) -> dict[str, int]:
        return {"m": self.m, "ef_construction": self.ef_construction, "ef_search": self.ef_search}

    def search_ef(self) -> int:
        """The efSearch used now: wider from ``large_from`` live vectors."""
        if len(self._label_of) >= self.large_from:
            return max(self.ef_search, self.ef_search_large)
        return self.ef_search

    def _new_index(self) -> faiss.Index:
        index = faiss.IndexHNSWFlat(self.dim, self.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.ef_construction
        return index

    def _params(self, selector: faiss.IDSelector | None, k: int) -> faiss.SearchParameters:
        # SearchParametersHNSW (and keyword attributes) are missing from faiss's stubs.
        return faiss.SearchParametersHNSW(  # type: ignore[attr-defined]
            sel=selector, efSearch=max(self.search_ef(), k)
        )


BACKENDS: dict[str, type[VectorBackend]] = {b.kind: b for b in (ExactBackend, HnswBackend)}


def make_backend(
    dim: int, size: int, hnsw_threshold: int = DEFAULT_HNSW_THRESHOLD
) -> VectorBackend:
    """Exact below ``hnsw_threshold`` vectors, HNSW at or above it."""
    return HnswBackend(dim) if size >= hnsw_threshold else ExactBackend(dim)


def brute_force(
    query: np.ndarray, chunk_ids: Sequence[int] | np.ndarray, vectors: np.ndarray, k: int
) -> list[tuple[int, float]]:
    """Top ``k`` by inner product over a handful of vectors (a pair's private notes)."""
    if not len(chunk_ids) or k <= 0:
        return []
    scores = np.asarray(vectors, np.float32) @ np.asarray(query, np.float32).reshape(-1)
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(chunk_ids[i]), float(scores[i])) for i in order]
