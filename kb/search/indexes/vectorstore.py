"""This process's FAISS indexes (one per search model), kept current from the change log.

Only public chunks (guides, published insights) are loaded: a private note's vector is never
in a shared index, so no search path through it can leak one. A model restricted to some
languages (MiniLM: English) only holds chunks in those languages.

Building an HNSW graph takes minutes at a million vectors, so, like the sparse BM25 index
(:mod:`kb.search.indexes.sparsestore`), the indexes are kept as a snapshot next to the Whoosh
index (:mod:`kb.search.indexes.snapshots`; ``index_dir/vectors-<key>.json``, key: the models
and the search configuration they were built for) with the log position they reflect: a
starting worker loads it and applies the log rows written since; only the first of several
workers starting together builds (under a lock); ``reindex`` rewrites it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Collection, Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kb.models import Chunk, split_list
from kb.search.centring import TAIL_DIM, LanguageMeans, query_with_tail, with_tail
from kb.search.filters import SearchFilters, matches
from kb.search.indexes.changelog import LogState, load_vectors, snapshot_state
from kb.search.indexes.snapshots import (
    READ_ERRORS,
    Snapshot,
    pack_records,
    read_snapshot,
    unpack_records,
    write_snapshot,
)
from kb.search.indexes.store import SCHEMA_VERSION, MemoryStore
from kb.search.indexes.vectors import BACKENDS, VectorBackend, make_backend
from kb.search.ranking import SearchConfig
from kb.search.records import ChunkRecord

SNAPSHOT_FORMAT = 3  # bump when what the snapshot holds changes (3: language tails, means)

_META = (
    Chunk.id,
    Chunk.doc_key,
    Chunk.doc_type,
    Chunk.language,
    Chunk.tags,
    Chunk.author_id,
    Chunk.doc_date,
    Chunk.pair_id,
)


def public_meta(session: Session) -> list[ChunkRecord]:
    """Filter attributes of every public chunk (no text: it is not needed in memory)."""
    rows = session.execute(
        select(*_META).where(Chunk.pair_id.is_(None), Chunk.doc_type != "note").order_by(Chunk.id)
    )
    return [
        ChunkRecord(int(i), key, kind, lang, "", "", tuple(split_list(tags)), author, day, pair)
        for i, key, kind, lang, tags, author, day, pair in rows
    ]


class VectorStore(MemoryStore):
    """FAISS per search model over public chunks, plus their filter attributes and each
    model's per-language mean vectors (:mod:`kb.search.centring`): the index stores every
    vector with its language tail, and a query is scored against it as ``q . d - q . mean``."""

    name = "vectors"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        model_names: Mapping[str, str],
        config: SearchConfig,
        snapshot_dir: Path | None = None,
    ) -> None:
        super().__init__(sessions, snapshot_dir)
        self.model_names = dict(model_names)  # spec -> stored model name
        self.config = config
        self.records: dict[int, ChunkRecord] = {}
        self.doc_chunks: dict[str, list[int]] = {}
        self.backends: dict[str, VectorBackend | None] = {spec: None for spec in model_names}
        self.means: dict[str, LanguageMeans | None] = {spec: None for spec in model_names}

    # -- building and applying the log ------------------------------------------------------

    @property
    def built_for(self) -> str:
        """A key of the models and search configuration the indexes are built for."""
        config = repr((sorted(self.model_names.items()), self.config)).encode()
        return hashlib.sha256(config).hexdigest()[:16]

    @property
    def snapshot_path(self) -> Path | None:
        if self.snapshot_dir is None:
            return None
        return self.snapshot_dir / f"vectors-{self.built_for}.json"

    def _expected(self) -> dict[str, object]:
        return {"format": "vectors", "version": SNAPSHOT_FORMAT, "schema": SCHEMA_VERSION,
                "built_for": self.built_for}  # fmt: skip

    def rebuild(self) -> None:
        """Load every public vector of the configured models (start, reindex) and write the
        snapshot; changes committed meanwhile are applied by the next catch-up."""
        with self.sessions() as session, self._lock:
            self._state = snapshot_state(session, time.time())
            metas = public_meta(session)
            self.records = {r.chunk_id: r for r in metas}
            self.doc_chunks = {}
            for record in metas:
                self.doc_chunks.setdefault(record.doc_key, []).append(record.chunk_id)
            for spec in self.backends:
                self.backends[spec] = None
                self.means[spec] = None
                self._add(session, spec, metas, fresh=True)
            self._write_snapshot()

    def _read_snapshot(self, path: Path) -> bool:
        snapshot = read_snapshot(path, self._expected())
        if snapshot is None:
            return False
        try:
            state = LogState.from_dict(snapshot.header["state"])
            records = unpack_records(snapshot.arrays, "records")
            backends: dict[str, VectorBackend | None] = dict.fromkeys(self.model_names)
            means: dict[str, LanguageMeans | None] = dict.fromkeys(self.model_names)
            for n, (spec, stored) in enumerate(snapshot.header["backends"].items()):
                if spec not in backends:
                    return False
                if stored is not None:
                    backends[spec] = BACKENDS[stored["kind"]].restore(
                        stored["dim"], stored["params"], snapshot.indexes[spec],
                        snapshot.arrays[f"backend.{n}.chunk_of"],
                        snapshot.arrays[f"backend.{n}.dead"],
                    )  # fmt: skip
                    sums = snapshot.arrays[f"means.{n}.sums"]
                    restored = LanguageMeans(sums.shape[1])
                    restored.sums = np.array(sums, dtype=np.float64)
                    restored.counts = np.array(snapshot.arrays[f"means.{n}.counts"], np.int64)
                    means[spec] = restored
        except READ_ERRORS:
            return False
        doc_chunks: dict[str, list[int]] = {}
        for record in records:
            doc_chunks.setdefault(record.doc_key, []).append(record.chunk_id)
        with self._lock:
            self._state, self.backends = state, backends
            self.records, self.doc_chunks = {r.chunk_id: r for r in records}, doc_chunks
            self.means = means
        return True

    def _write_snapshot(self) -> None:
        """Indexes, filter attributes and log position; snapshots built for another
        configuration or format are removed."""
        if self.snapshot_path is None:
            return
        snapshot = Snapshot({**self._expected(), "state": self._state.to_dict(), "backends": {}})
        snapshot.arrays.update(pack_records("records", list(self.records.values())))
        for n, (spec, backend) in enumerate(self.backends.items()):
            if backend is None:
                snapshot.header["backends"][spec] = None
                continue
            snapshot.header["backends"][spec] = {
                "kind": backend.kind, "dim": backend.dim, "params": backend.params()
            }  # fmt: skip
            chunk_of, dead = backend.labels()
            snapshot.arrays[f"backend.{n}.chunk_of"] = chunk_of
            snapshot.arrays[f"backend.{n}.dead"] = dead
            snapshot.indexes[spec] = backend.index
            means = self.means.get(spec)
            if means is not None:
                snapshot.arrays[f"means.{n}.sums"] = means.sums
                snapshot.arrays[f"means.{n}.counts"] = means.counts
        write_snapshot(self.snapshot_path, snapshot, family="vectors")

    def _add(self, session: Session, spec: str, records: list[ChunkRecord], fresh: bool) -> None:
        language = {r.chunk_id: r.index_language for r in records}
        wanted = [c for c, lang in language.items() if self.config.speaks(spec, lang)]
        vectors = load_vectors(session, wanted, self.model_names[spec])
        if not vectors:
            return
        ids = sorted(vectors)
        matrix = np.vstack([vectors[i] for i in ids])
        languages = [language[i] for i in ids]
        backend = self.backends[spec]
        if backend is None:
            size = len(ids) if fresh else len(self.records)
            dim = matrix.shape[1] + TAIL_DIM
            backend = make_backend(dim, size, self.config.hnsw_threshold)
            self.backends[spec] = backend
            self.means[spec] = LanguageMeans(matrix.shape[1])
        means = self.means[spec]
        if means is not None:
            means.add(matrix, languages)
        backend.add(ids, with_tail(matrix, languages))

    def _apply(
        self, session: Session, keys: list[str], current: dict[str, list[ChunkRecord]]
    ) -> None:
        """Replace each changed document's public chunks in every model's index."""
        added: list[ChunkRecord] = []
        for key in keys:
            old = self.doc_chunks.pop(key, [])
            for spec, backend in self.backends.items():
                if backend is None:
                    continue
                means = self.means.get(spec)
                if means is not None:
                    live, stored = backend.vectors(old)
                    means.remove(stored, [self.records[c].index_language for c in live])
                backend.remove(old)
            for chunk_id in old:
                self.records.pop(chunk_id, None)
            public = [replace(r, text="", title="") for r in current[key] if r.is_public]
            if public:
                self.doc_chunks[key] = [r.chunk_id for r in public]
                self.records.update({r.chunk_id: r for r in public})
                added.extend(public)
        for spec in self.backends:
            self._add(session, spec, added, fresh=False)

    # -- searching --------------------------------------------------------------------------

    def allowed_ids(
        self, filters: SearchFilters | None, author_ids: Collection[int] | None
    ) -> set[int] | None:
        """Public chunk ids passing ``filters`` (None: no filter, everything is allowed)."""
        if (filters is None or filters.is_empty) and author_ids is None:
            return None
        wanted = filters or SearchFilters()
        with self._lock:
            return {c for c, r in self.records.items() if matches(r, wanted, author_ids)}

    def tailed_query(self, spec: str, query: np.ndarray) -> np.ndarray:
        """``query`` against tailed vectors: each language's shift in its slot (none when
        ``config.centre_languages`` is off: plain cosines)."""
        means = self.means.get(spec)
        if not self.config.centre_languages or means is None:
            return query_with_tail(query, {})
        return query_with_tail(query, means.means())

    def search(
        self, spec: str, query: np.ndarray, k: int, allowed: Collection[int] | None = None
    ) -> list[tuple[int, float]]:
        """Nearest chunks to a plain query by language-centred score (kb.search.centring)."""
        with self._lock:
            backend = self.backends.get(spec)
            if backend is None:
                return []
            return backend.search(self.tailed_query(spec, query), k, allowed)

    def doc_of(self, chunk_id: int) -> str | None:
        record = self.records.get(chunk_id)
        return record.doc_key if record else None

    def language_of(self, chunk_id: int) -> str | None:
        record = self.records.get(chunk_id)
        return record.index_language if record else None

    def size(self) -> dict[str, int]:
        return {spec: len(b) if b is not None else 0 for spec, b in self.backends.items()}
