"""This process's sparse BM25 index, built from the database and kept current from the change log.

Like the FAISS indexes it lives in each process's memory (every web worker holds its own copy
and applies the same log); unlike them it holds note chunks too, because BM25 serves a user's
own notes: the index itself restricts every search to what the asking user may see.

Building means analysing every chunk (minutes at a million), so the index is also kept as a
snapshot next to the Whoosh index (``index_dir/sparse-v<version>.pickle``, with the log position
it reflects): a starting worker loads it and applies the log rows written since. Only the
first of several workers starting together builds (under a lock); ``reindex`` rewrites it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Mapping
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from kb.search.filters import SearchFilters
from kb.search.fulltext import BM25Config, TextHit
from kb.search.query import ParsedQuery
from kb.search.records import ChunkRecord
from kb.search.sparse import FORMAT_VERSION, Access, SparseIndex
from kb.search.sync import (
    SCHEMA_VERSION,
    LogState,
    apply_changes,
    iter_all_records,
    read_snapshot,
    snapshot_state,
    start_from_snapshot,
    write_snapshot,
)


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


class SparseStore:
    """A :class:`SparseIndex` of every chunk and the change-log position it reflects."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        bm25: BM25Config | None = None,
        snapshot_dir: Path | None = None,
    ) -> None:
        self.sessions = sessions
        self.bm25 = bm25 or BM25Config()
        self.snapshot_dir = snapshot_dir
        self.state = LogState()
        self.index = SparseIndex(self.bm25)
        self._lock = threading.RLock()

    @property
    def snapshot_path(self) -> Path | None:
        if self.snapshot_dir is None:
            return None
        return self.snapshot_dir / f"sparse-v{SCHEMA_VERSION}.{FORMAT_VERSION}.pickle"

    def load(self) -> None:
        """Process start: the snapshot if there is one (else build and write it), then the log."""
        start_from_snapshot(self.snapshot_path, self._read_snapshot, self.rebuild)
        self.catch_up()

    def rebuild(self) -> None:
        """Build from the database (start, reindex); searches keep the old index meanwhile."""
        with self.sessions() as session:
            state = snapshot_state(session, time.time())
            fresh = SparseIndex.build(iter_all_records(session), self.bm25)
        with self._lock:
            self.index, self.state = fresh, state
            self._write_snapshot()
        # Changes committed while building are applied by the next catch-up.

    def _read_snapshot(self, path: Path) -> bool:
        snapshot = read_snapshot(path)
        if snapshot is None:
            return False
        state, index = snapshot
        index.config = self.bm25  # scoring parameters are applied at query time
        with self._lock:
            self.index, self.state = index, state
        return True

    def _write_snapshot(self) -> None:
        """The index and its log position; snapshots of older formats are removed."""
        if self.snapshot_path is not None:
            write_snapshot(
                self.snapshot_path, (self.state, self.index), replaces="sparse-v*.pickle"
            )

    def catch_up(self) -> int:
        """Apply new log rows; returns how many documents changed."""
        with self._lock, self.sessions() as session:
            self.state, changed = apply_changes(session, self.state, self._apply)
            return changed

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
        extra: Mapping[int, float] | None = None,
    ) -> list[TextHit]:
        with self._lock:
            return self.index.search(parsed, limit, access, extra)

    def browse(self, access: Access) -> list[TextHit]:
        with self._lock:
            return self.index.browse(access)

    def size(self) -> int:
        return len(self.index)
