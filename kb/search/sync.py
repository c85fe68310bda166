"""Keep the derived indexes in step with the database through the change log.

On disk, under ``settings.index_dir``::

    whoosh -> whoosh-<token>/      a symlink to the current generation (swapped atomically)
    whoosh-<token>/applied.json    {"last_id", "gaps", "schema", "models"} of *that* generation
    write.lock                     flock: one index writer at a time across all processes

``applied.json`` lives inside the generation so that a reindex swaps index and bookkeeping in
one ``os.replace`` of the symlink. A writer applies the log under the lock: Whoosh commit
first, then ``applied.json`` (written to a temp file and renamed), so a crash in between only
means the same changes are applied again, which is harmless (a document is re-read from the
database). FAISS and the sparse BM25 index live in each process's memory and apply the same
log on their own.

Change-log ids can become visible out of order on PostgreSQL (a transaction holding a lower
id commits later), so ids skipped over are remembered as *gaps* and looked for again until
they show up or ``GAP_TIMEOUT`` passes (a rolled-back transaction leaves a permanent gap).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import pickle
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from kb.errors import TandemError
from kb.models import ChangeLog, Chunk, ChunkEmbedding
from kb.search.fulltext import BM25Config, FullTextIndex
from kb.search.records import ChunkRecord, record_from_chunk

# Bump when analyzers or the schema change: an index built by older code is rebuilt.
SCHEMA_VERSION = 1
GAP_TIMEOUT = 600.0  # seconds
GAP_WINDOW = 1000  # ids below the newest one checked for gaps when a snapshot is taken
LINK = "whoosh"
STATE_FILE = "applied.json"
LOCK_FILE = "write.lock"


class IndexBusy(TandemError):
    """Another process held the index write lock for longer than we were willing to wait."""

    status = 503


# -- the applied position in the log (pure) -----------------------------------------------


@dataclass(frozen=True)
class LogState:
    """The last applied change-log id, and skipped ids still expected (id -> first seen)."""

    last_id: int = 0
    gaps: Mapping[int, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"last_id": self.last_id, "gaps": {str(k): v for k, v in self.gaps.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> LogState:
        gaps = data.get("gaps") or {}
        assert isinstance(gaps, dict)
        return cls(int(data.get("last_id") or 0), {int(k): float(v) for k, v in gaps.items()})


def advance(
    state: LogState, seen: Collection[int], now: float, timeout: float = GAP_TIMEOUT
) -> LogState:
    """The state after applying the log rows ``seen`` (ids > last_id or former gaps)."""
    seen = set(seen)
    newest = max([state.last_id, *seen])
    gaps = {i: t for i, t in state.gaps.items() if i not in seen and now - t < timeout}
    for missing in range(state.last_id + 1, newest):
        if missing not in seen:
            gaps.setdefault(missing, now)
    return LogState(newest, gaps)


def fetch_changes(session: Session, state: LogState) -> list[tuple[int, str]]:
    """(id, doc_key) of log rows not applied yet: newer than ``last_id`` or filling a gap."""
    condition = ChangeLog.id > state.last_id
    if state.gaps:
        condition = or_(condition, ChangeLog.id.in_(sorted(state.gaps)))
    rows = session.execute(
        select(ChangeLog.id, ChangeLog.doc_key).where(condition).order_by(ChangeLog.id)
    )
    return [(int(i), str(k)) for i, k in rows]


NEWEST_CHANGE = select(func.max(ChangeLog.id))


def newest_change(session: Session) -> int:
    """The newest change-log id (0: empty log): one indexed look-up (on the session's
    connection, without the ORM's statement handling: it runs before every search)."""
    return int(session.connection().execute(NEWEST_CHANGE).scalar() or 0)


def covers(state: LogState, newest: int) -> bool:
    """Has ``state`` applied everything up to ``newest``, with no gap left to look for?"""
    return state.last_id >= newest and not state.gaps


def snapshot_state(session: Session, now: float) -> LogState:
    """The log position of a full rebuild that reads the database right after this call.

    Ids missing just below the newest one may belong to transactions still in flight: they
    become gaps so the next catch-up looks for them.
    """
    newest = session.scalar(select(func.max(ChangeLog.id))) or 0
    present = set(
        session.scalars(select(ChangeLog.id).where(ChangeLog.id > newest - GAP_WINDOW)).all()
    )
    gaps = {i: now for i in range(max(1, newest - GAP_WINDOW + 1), newest) if i not in present}
    return LogState(int(newest), gaps)


def changed_keys(changes: Sequence[tuple[int, str]]) -> list[str]:
    """Distinct document keys in log order (several changes to one document apply once)."""
    return list(dict.fromkeys(key for _, key in changes))


def apply_changes(
    session: Session,
    state: LogState,
    apply: Callable[[Session, list[str], dict[str, list[ChunkRecord]]], None],
) -> tuple[LogState, int]:
    """Hand the documents changed since ``state`` (keys in log order, their current chunks)
    to ``apply``; returns the state after them and how many documents changed.

    With nothing new, gaps older than ``GAP_TIMEOUT`` expire. The in-memory indexes (vectors,
    sparse BM25) catch up through this; Whoosh's store keeps its state on disk.
    """
    changes = fetch_changes(session, state)
    if not changes:
        return (advance(state, [], time.time()) if state.gaps else state), 0
    keys = changed_keys(changes)
    apply(session, keys, load_records(session, keys))
    return advance(state, [i for i, _ in changes], time.time()), len(keys)


# -- reading the database ------------------------------------------------------------------


def load_records(session: Session, doc_keys: Sequence[str]) -> dict[str, list[ChunkRecord]]:
    """Current chunks of each document (an empty list: the document is gone)."""
    found: dict[str, list[ChunkRecord]] = {key: [] for key in doc_keys}
    for i in range(0, len(doc_keys), 500):
        part = list(doc_keys[i : i + 500])
        rows = session.scalars(
            select(Chunk).where(Chunk.doc_key.in_(part)).order_by(Chunk.doc_key, Chunk.position)
        )
        for chunk in rows:
            found[chunk.doc_key].append(record_from_chunk(chunk))
    return found


def iter_all_records(session: Session, batch: int = 2000) -> Iterator[ChunkRecord]:
    """Every chunk, in id order, without holding them all in memory."""
    last = 0
    while True:
        rows = session.scalars(
            select(Chunk).where(Chunk.id > last).order_by(Chunk.id).limit(batch)
        ).all()
        if not rows:
            return
        for chunk in rows:
            yield record_from_chunk(chunk)
        last = rows[-1].id
        session.expunge_all()


def load_vectors(session: Session, chunk_ids: Collection[int], model: str) -> dict[int, np.ndarray]:
    """Stored vectors of ``model`` for these chunks."""
    ids = sorted(chunk_ids)
    vectors: dict[int, np.ndarray] = {}
    for i in range(0, len(ids), 500):
        rows = session.execute(
            select(ChunkEmbedding.chunk_id, ChunkEmbedding.vector).where(
                ChunkEmbedding.model == model, ChunkEmbedding.chunk_id.in_(ids[i : i + 500])
            )
        )
        for chunk_id, blob in rows:
            vectors[int(chunk_id)] = np.frombuffer(blob, dtype=np.float32)
    return vectors


# -- the one-writer lock -------------------------------------------------------------------


class WriteLock:
    """An exclusive ``flock`` on ``index_dir/write.lock`` plus a lock for this process's threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread_lock = threading.Lock()

    @contextmanager
    def hold(self, timeout: float | None) -> Iterator[bool]:
        """Yields True when held; False when ``timeout`` passed first (0: just try once)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._thread_lock.acquire(timeout=-1 if timeout is None else timeout):
            yield False
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                held = self._acquire(fd, deadline)
                try:
                    yield held
                finally:
                    if held:
                        fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        finally:
            self._thread_lock.release()

    @staticmethod
    def _acquire(fd: int, deadline: float | None) -> bool:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


# -- snapshots of in-memory indexes (sparse BM25, FAISS) ------------------------------------


def start_from_snapshot(
    path: Path | None, read: Callable[[Path], bool], build: Callable[[], None]
) -> None:
    """Process start of an in-memory index: ``read`` its snapshot at ``path`` (False: none or
    unreadable), else ``build`` it (which writes the snapshot). Of several processes starting
    together only the first builds; the others wait for the lock and read what it wrote."""
    if path is None:
        build()
        return
    if not read(path):
        with WriteLock(path.with_suffix(".lock")).hold(None):
            if not read(path):  # another process may have just written it
                build()


def read_snapshot(path: Path) -> object | None:
    """What :func:`write_snapshot` stored at ``path``, or None if there is nothing readable."""
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)
    except (FileNotFoundError, EOFError, pickle.UnpicklingError):
        return None


def write_snapshot(path: Path, payload: object, replaces: str | None = None) -> None:
    """Pickle ``payload`` to ``path`` atomically (temp file, rename), then remove the other
    files matching the glob ``replaces``: snapshots of older formats or other configurations
    (gigabytes at a million chunks; a worker still configured that way builds again)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    with temp.open("wb") as handle:
        pickle.dump(payload, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(temp, path)
    for other in path.parent.glob(replaces) if replaces else ():
        if other != path:
            other.unlink(missing_ok=True)


# -- Whoosh on disk ------------------------------------------------------------------------


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


class WhooshStore:
    """The on-disk Whoosh index of one instance: open, catch up, rebuild and swap."""

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

    def ensure(self) -> None:
        """Build the index if there is none, or if it was built by an older schema."""
        if not self.usable():
            with self.lock.hold(None):
                if not self.usable():
                    self._rebuild_locked()

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

    def reindex(self) -> None:
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
