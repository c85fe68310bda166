"""The on-disk Whoosh index of one instance, kept in step with the change log.

On disk, under ``settings.index_dir``::

    whoosh -> whoosh-<token>/      a symlink to the current generation (swapped atomically)
    whoosh-<token>/applied.json    {"last_id", "gaps", "schema", "models"} of *that* generation
    write.lock                     flock: one index writer at a time across all processes

``applied.json`` lives inside the generation so that a rebuild swaps index and bookkeeping in
one ``os.replace`` of the symlink. A writer applies the log under the lock: Whoosh commit
first, then ``applied.json`` (written to a temp file and renamed), so a crash in between only
means the same changes are applied again, which is harmless (a document is re-read from the
database).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from kb.search.indexes.changelog import (
    GAP_TIMEOUT,
    LogState,
    advance,
    changed_keys,
    fetch_changes,
    iter_all_records,
    load_records,
    snapshot_state,
)
from kb.search.indexes.fulltext import BM25Config, FullTextIndex
from kb.search.indexes.locks import WriteLock
from kb.search.indexes.store import SCHEMA_VERSION, IndexStore

LINK = "whoosh"
STATE_FILE = "applied.json"
LOCK_FILE = "write.lock"


def read_state(generation: Path) -> tuple[LogState, dict[str, object]]:
    """The log state of a generation and its other bookkeeping (schema version, models)."""
    try:
        data = json.loads((generation / STATE_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return LogState(), {}
    return LogState.from_dict(data), data


def write_state(generation: Path, state: LogState, extra: Mapping[str, object]) -> None:
    """Atomically replace ``applied.json`` (temp file, fsync, rename)."""
    data = {**extra, **state.to_dict(), "schema": SCHEMA_VERSION}
    temp = generation / f".{STATE_FILE}.{uuid.uuid4().hex}"
    with temp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, generation / STATE_FILE)


class WhooshStore(IndexStore):
    """The on-disk Whoosh index of one instance: open, catch up, rebuild and swap."""

    name = "whoosh"

    def __init__(
        self,
        index_dir: Path,
        sessions: sessionmaker[Session],
        bm25: BM25Config | None = None,
        models: Sequence[str] = (),
        lock_timeout: float = 120.0,
    ) -> None:
        self.index_dir = index_dir
        self.sessions = sessions
        self.bm25 = bm25 or BM25Config()
        self.models = list(models)
        self.lock_timeout = lock_timeout
        self.lock = WriteLock(index_dir / LOCK_FILE)
        self._index: FullTextIndex | None = None
        self._target: str | None = None
        self._open_lock = threading.Lock()
        self._state: tuple[tuple[str, int, int, int], LogState] | None = None

    @property
    def link(self) -> Path:
        return self.index_dir / LINK

    def current_generation(self) -> Path | None:
        try:
            return self.index_dir / os.readlink(self.link)
        except (FileNotFoundError, OSError):
            return None

    def usable(self) -> bool:
        """Is there a current generation built by this schema version?"""
        generation = self.current_generation()
        if generation is None or not (generation / STATE_FILE).exists():
            return False
        return read_state(generation)[1].get("schema") == SCHEMA_VERSION

    def index(self) -> FullTextIndex:
        """The current generation's index, reopened if a reindex swapped in a new one."""
        with self._open_lock:
            target = os.readlink(self.link)
            if self._index is None or target != self._target:
                old = self._index
                self._index = FullTextIndex.open(self.index_dir / target, self.bm25)
                self._target = target
                if old is not None:
                    old.close()
            return self._index

    def state(self) -> LogState:
        """The current generation's log state, read again only when its file was replaced
        (every search asks; ``write_state`` replaces the file, so its inode changes)."""
        generation = self.current_generation()
        if generation is None:
            return LogState()
        path = generation / STATE_FILE
        try:
            info = os.stat(path)
        except FileNotFoundError:
            return LogState()
        key = (str(path), info.st_ino, info.st_mtime_ns, info.st_size)
        cached = self._state
        if cached is None or cached[0] != key:
            cached = self._state = (key, read_state(generation)[0])
        return cached[1]

    def load(self) -> None:
        """Build the index if there is none, or if it was built by an older schema; then
        apply what was committed while no process was running."""
        if not self.usable():
            with self.lock.hold(None):
                if not self.usable():
                    self._rebuild_locked()
        self.catch_up()

    def catch_up(self, block: bool = True) -> int:
        """Apply pending log rows; returns how many documents were updated.

        ``block=False`` (before a search) gives up at once when another process is writing:
        it is applying the same log, and the searcher sees its commit. A blocking call that
        waits longer than ``lock_timeout`` leaves the changes for the next catch-up.
        """
        state = self.state()
        expired = any(time.time() - t >= GAP_TIMEOUT for t in state.gaps.values())
        with self.sessions() as session:
            if not fetch_changes(session, state) and not expired:
                return 0
        with self.lock.hold(self.lock_timeout if block else 0) as held:
            if not held:
                return 0
            generation = self.current_generation()
            assert generation is not None
            state, extra = read_state(generation)
            with self.sessions() as session:
                changes = fetch_changes(session, state)
                keys = changed_keys(changes)
                records = load_records(session, keys)
            index = self.index()
            if keys:
                with index.writer() as writer:
                    for key in keys:
                        index.replace_document(writer, key, records[key])
            write_state(generation, advance(state, [i for i, _ in changes], time.time()), extra)
            return len(keys)

    def rebuild(self) -> None:
        """Rebuild from the database in a new directory and swap it in atomically."""
        with self.lock.hold(None):
            self._rebuild_locked()

    def _rebuild_locked(self) -> None:
        self.index_dir.mkdir(parents=True, exist_ok=True)
        name = f"{LINK}-{uuid.uuid4().hex[:12]}"
        generation = self.index_dir / name
        fresh = FullTextIndex.create(generation, self.bm25)
        with self.sessions() as session:
            state = snapshot_state(session, time.time())
            fresh.add(iter_all_records(session))
        fresh.close()
        write_state(generation, state, {"models": self.models})
        previous = self.current_generation()
        temp_link = self.index_dir / f".{LINK}-link-{uuid.uuid4().hex[:8]}"
        os.symlink(name, temp_link)
        os.replace(temp_link, self.link)  # the atomic swap
        self._remove_old_generations(keep={name, previous.name if previous else name})

    def _remove_old_generations(self, keep: set[str]) -> None:
        """Drop generations older than the previous one (a reader may still use that)."""
        for path in self.index_dir.glob(f"{LINK}-*"):
            if path.is_dir() and path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        with self._open_lock:
            if self._index is not None:
                self._index.close()
                self._index = None
                self._target = None
