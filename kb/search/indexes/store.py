"""One interface for the derived indexes: how the engine starts, updates, rebuilds and closes
them, whatever they hold (Whoosh on disk, sparse BM25 and FAISS in memory).

In the style of txtai's ANN base class: one small base class, one subclass per index kind.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from kb.search.indexes.changelog import LogState, apply_changes
from kb.search.indexes.snapshots import start_from_snapshot
from kb.search.records import ChunkRecord

# Bump when analyzers or the schema change: an index built by older code is rebuilt.
SCHEMA_VERSION = 1


class IndexStore(ABC):
    """A derived index of the database's chunks, kept in step with the change log."""

    name = "index"

    @abstractmethod
    def load(self) -> None:
        """Process start: open what is kept on disk (else build it), then catch up."""

    @abstractmethod
    def catch_up(self, block: bool = True) -> int:
        """Apply the change-log rows not applied yet; returns how many documents changed.

        ``block=False`` (before a search) must not wait for another process's writer.
        """

    @abstractmethod
    def rebuild(self) -> None:
        """Build again from the database; searches keep the old index meanwhile."""

    @abstractmethod
    def state(self) -> LogState:
        """The change-log position the index reflects (asked before every search: cheap)."""

    @abstractmethod
    def close(self) -> None:
        """Release what the store holds open (files, searchers)."""


class MemoryStore(IndexStore):
    """An index held in this process's memory: built from the database or read from its
    snapshot at start, then kept current by applying the change log (each web worker holds
    its own copy and applies the same log; no other process writes to it, so ``block`` has
    nothing to wait for)."""

    def __init__(self, sessions: sessionmaker[Session], snapshot_dir: Path | None) -> None:
        self.sessions = sessions
        self.snapshot_dir = snapshot_dir
        self._state = LogState()
        self._lock = threading.RLock()

    @property
    @abstractmethod
    def snapshot_path(self) -> Path | None:
        """Where the snapshot is kept (None: no snapshot, build at every start)."""

    @abstractmethod
    def _read_snapshot(self, path: Path) -> bool:
        """Take the index and its log position from the snapshot; False if unusable."""

    @abstractmethod
    def _apply(
        self, session: Session, keys: list[str], records: dict[str, list[ChunkRecord]]
    ) -> None:
        """Replace each changed document (``keys``, log order) by its current chunks."""

    def load(self) -> None:
        """The snapshot if there is a usable one (else build and write it), then the log."""
        start_from_snapshot(self.snapshot_path, self._read_snapshot, self.rebuild)
        self.catch_up()

    def from_snapshot(self) -> bool:
        """Take the index from its snapshot only, building nothing (``tandem check`` looks at
        what a starting worker would load); False: no snapshot, or an unusable one."""
        path = self.snapshot_path
        return path is not None and self._read_snapshot(path)

    def write_snapshot(self) -> None:
        """Write the index as it is now (with its log position) for the next start."""
        with self._lock:
            self._write_snapshot()

    @abstractmethod
    def _write_snapshot(self) -> None:
        """The index and its log position as a snapshot (nothing without a snapshot_dir)."""

    def catch_up(self, block: bool = True) -> int:
        with self._lock, self.sessions() as session:
            self._state, changed = apply_changes(session, self._state, self._apply)
            return changed

    def state(self) -> LogState:
        return self._state

    def close(self) -> None:
        """Nothing to release: the index is in memory and goes with the process."""
