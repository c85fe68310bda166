"""This process's sparse BM25 index, built from the database and kept current from the change log.

Like the FAISS indexes it lives in each process's memory (every web worker holds its own copy
and applies the same log); unlike them it holds note chunks too, because BM25 serves a user's
own notes: the index itself restricts every search to what the asking user may see.

Building means analysing every chunk (minutes at a million), so the index is also kept as a
snapshot next to the Whoosh index (:mod:`kb.search.indexes.snapshots`;
``index_dir/sparse.json``, with the log position it reflects): a starting worker loads it and
applies the log rows written since. Only the first of several workers starting together
builds (under a lock); ``reindex`` rewrites it.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from kb.search.filters import SearchFilters
from kb.search.indexes.changelog import LogState, iter_all_records, snapshot_state
from kb.search.indexes.fulltext import BM25Config, PhraseMatch, TextHit
from kb.search.indexes.snapshots import READ_ERRORS, Snapshot, read_snapshot, write_snapshot
from kb.search.indexes.sparse import FORMAT_VERSION, Access, SparseIndex
from kb.search.indexes.store import SCHEMA_VERSION, MemoryStore
from kb.search.query import ParsedQuery
from kb.search.records import ChunkRecord


def access_for(
    pair_ids: Collection[int],
    filters: SearchFilters | None,
    author_ids: Collection[int] | None,
) -> Access:
    """The sparse index's form of :func:`kb.search.filters.combined_query`."""
    return Access(
        frozenset(pair_ids),
        filters or SearchFilters(),
        frozenset(author_ids) if author_ids is not None else None,
    )


class SparseStore(MemoryStore):
    """A :class:`SparseIndex` of every chunk and the change-log position it reflects."""

    name = "sparse"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        bm25: BM25Config | None = None,
        snapshot_dir: Path | None = None,
    ) -> None:
        super().__init__(sessions, snapshot_dir)
        self.bm25 = bm25 or BM25Config()
        self.index = SparseIndex(self.bm25)

    @property
    def snapshot_path(self) -> Path | None:
        if self.snapshot_dir is None:
            return None
        return self.snapshot_dir / "sparse.json"

    @staticmethod
    def _expected() -> dict[str, object]:
        return {"format": "sparse", "version": FORMAT_VERSION, "schema": SCHEMA_VERSION}

    def rebuild(self) -> None:
        """Build from the database (start, reindex); searches keep the old index meanwhile."""
        with self.sessions() as session:
            state = snapshot_state(session, time.time())
            fresh = SparseIndex.build(iter_all_records(session), self.bm25)
        with self._lock:
            self.index, self._state = fresh, state
            self._write_snapshot()
        # Changes committed while building are applied by the next catch-up.

    def _read_snapshot(self, path: Path) -> bool:
        snapshot = read_snapshot(path, self._expected())
        if snapshot is None:
            return False
        try:
            state = LogState.from_dict(snapshot.header["state"])
            # Scoring parameters are applied at query time: this process's configuration.
            index = SparseIndex.from_arrays(snapshot.header["index"], snapshot.arrays, self.bm25)
        except READ_ERRORS:
            return False
        with self._lock:
            self.index, self._state = index, state
        return True

    def _write_snapshot(self) -> None:
        """The index and its log position; snapshots of older formats are removed."""
        if self.snapshot_path is not None:
            facts, arrays = self.index.to_arrays()
            header = {**self._expected(), "state": self._state.to_dict(), "index": facts}
            write_snapshot(self.snapshot_path, Snapshot(header, arrays), family="sparse")

    def _apply(
        self, session: Session, keys: list[str], records: dict[str, list[ChunkRecord]]
    ) -> None:
        for key in keys:
            self.index.replace_document(key, records[key])

    def search(
        self,
        parsed: ParsedQuery,
        limit: int | None,
        access: Access,
        phrases: Sequence[PhraseMatch] = (),
    ) -> list[TextHit]:
        with self._lock:
            return self.index.search(parsed, limit, access, phrases)

    def browse(self, access: Access) -> list[TextHit]:
        with self._lock:
            return self.index.browse(access)

    def unknown_words(self, words: Sequence[str], access: Access) -> list[str]:
        with self._lock:
            return self.index.unknown_words(words, access)

    def size(self) -> int:
        return len(self.index)
