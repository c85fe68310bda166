"""Keep the derived indexes in step with the database through the change log.

Every index store records the last change-log id it applied (a :class:`LogState`) and, on
start and before searches, applies the rows written since (:func:`apply_changes`): the
documents they name are read again from the database (:func:`load_records`).

Change-log ids can become visible out of order on PostgreSQL (a transaction holding a lower
id commits later), so ids skipped over are remembered as *gaps* and looked for again until
they show up or ``GAP_TIMEOUT`` passes (a rolled-back transaction leaves a permanent gap).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kb.models import ChangeLog, Chunk, ChunkEmbedding
from kb.search.records import ChunkRecord, record_from_chunk

GAP_TIMEOUT = 600.0  # seconds
GAP_WINDOW = 1000  # ids below the newest one checked for gaps when a snapshot is taken


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
        last_id = data.get("last_id") or 0
        if not isinstance(last_id, int | float | str):
            raise TypeError(f"log state: last_id {last_id!r} is not a number")
        return cls(int(last_id), {int(k): float(v) for k, v in gaps.items()})


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
