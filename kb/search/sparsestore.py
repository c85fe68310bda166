"""This process's sparse BM25 index, built from the database and kept current from the change log.

Like the FAISS indexes it lives in each process's memory (every web worker holds its own copy
and applies the same log); unlike them it holds note chunks too, because BM25 serves a user's
own notes: the index itself restricts every search to what the asking user may see.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection

from sqlalchemy.orm import Session, sessionmaker

from kb.search.filters import SearchFilters
from kb.search.fulltext import BM25Config, TextHit
from kb.search.query import ParsedQuery
from kb.search.sparse import Access, SparseIndex
from kb.search.sync import (
    LogState,
    advance,
    changed_keys,
    fetch_changes,
    iter_all_records,
    load_records,
    snapshot_state,
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

    def __init__(self, sessions: sessionmaker[Session], bm25: BM25Config | None = None) -> None:
        self.sessions = sessions
        self.bm25 = bm25 or BM25Config()
        self.state = LogState()
        self.index = SparseIndex(self.bm25)
        self._lock = threading.RLock()

    def load(self) -> None:
        """Build from the database (process start, reindex); searches keep the old one meanwhile."""
        with self.sessions() as session:
            state = snapshot_state(session, time.time())
            fresh = SparseIndex.build(iter_all_records(session), self.bm25)
        with self._lock:
            self.index, self.state = fresh, state
        # Changes committed while building are applied by the next catch-up.

    def catch_up(self) -> int:
        """Apply new log rows; returns how many documents changed."""
        with self._lock, self.sessions() as session:
            changes = fetch_changes(session, self.state)
            if not changes:
                if self.state.gaps:  # let gaps expire
                    self.state = advance(self.state, [], time.time())
                return 0
            keys = changed_keys(changes)
            records = load_records(session, keys)
            for key in keys:
                self.index.replace_document(key, records[key])
            self.state = advance(self.state, [i for i, _ in changes], time.time())
            return len(keys)

    def search(self, parsed: ParsedQuery, limit: int | None, access: Access) -> list[TextHit]:
        with self._lock:
            return self.index.search(parsed, limit, access)

    def browse(self, access: Access) -> list[TextHit]:
        with self._lock:
            return self.index.browse(access)

    def size(self) -> int:
        return len(self.index)
