"""Matching vectors: what matching compares, embedded once when it is written.

Matching compares people's goals with their evidence: stated expertise phrases and the
public chunks of published guides and consented shared insights. Each such text is embedded
with every matching model when it is written or imported, and stored in ``MatchingVector``
keyed by the text's hash, the model's name and the side, in the same transaction as the
content. A matching request only loads them; it never runs a model over stored content.

Session notes are never matching evidence: only chunks without a pair (guides and consented
insights) and the phrases people state about themselves are embedded here.

Like :mod:`kb.services.content`, functions that write never commit, and embedding happens
before a write where the caller can arrange it (:func:`compute` then :func:`write`).

A document published on the web gets its vectors just after its commit, from a
:class:`Refresher` thread of that process (the publish request answers once the document is
searchable, without waiting for every matching model). Until they are stored, matching
scores the new document's texts as unrelated (``missing_vectors``); the pools and jobs
fingerprint the vector count, so they are rebuilt once the vectors land, and this process's
matching reads wait for its pending refreshes first (:meth:`Refresher.wait`). Vectors a
process never stored (it died) are computed by :func:`catch_up` (``tandem serve`` at
start, ``tandem match-vectors``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from kb.chunking import embedding_text
from kb.embedding import Embedder, text_hash
from kb.models import Chunk, MatchingVector, Person

log = logging.getLogger(__name__)

# Matching embeds goals and evidence alike as queries (E5's "query: " on both sides is what
# the reviewer-expertise tuning chose; symmetric models such as MiniLM have one side only).
MATCHING_SIDE = "query"
EVIDENCE_DOC_TYPES = ("guide", "insight")
EMBED_BATCH = 256
_LOOKUP_BATCH = 500
# Above this many wanted texts, one scan of a model's rows beats many IN (...) look-ups.
_SCAN_ABOVE = 5000

# model name -> text hash -> vector
Vectors = dict[str, dict[str, np.ndarray]]


def phrases(value: str | None) -> list[str]:
    """A ";"-separated field as distinct, non-empty phrases, in order (as matching reads
    goals and stated expertise: ``matching.profiles.split_phrases``)."""
    seen: dict[str, None] = {}
    for part in (value or "").split(";"):
        phrase = " ".join(part.split())
        if phrase and phrase.lower() not in {p.lower() for p in seen}:
            seen[phrase] = None
    return list(seen)


def profile_texts(profiles: Iterable[tuple[str | None, str | None]]) -> list[str]:
    """Every phrase of (stated expertise, goals) fields, each once."""
    texts: dict[str, None] = {}
    for expertise, goals in profiles:
        for phrase in (*phrases(expertise), *phrases(goals)):
            texts.setdefault(phrase)
    return list(texts)


def person_texts(people: Iterable[Person]) -> list[str]:
    """Every goal and stated-expertise phrase of ``people``."""
    return profile_texts((p.expertise, p.goals) for p in people)


def chunk_texts(session: Session, doc_keys: Collection[str] | None = None) -> list[str]:
    """The embedding texts of public guide and insight chunks (of ``doc_keys``, or all).

    Chunks with a pair (session notes) are never selected.
    """
    query = select(Chunk.title, Chunk.text).where(
        Chunk.doc_type.in_(EVIDENCE_DOC_TYPES), Chunk.pair_id.is_(None)
    )
    texts: dict[str, None] = {}
    if doc_keys is None:
        for title, text in session.execute(query):
            texts.setdefault(embedding_text(title, text))
        return list(texts)
    keys = list(doc_keys)
    for i in range(0, len(keys), _LOOKUP_BATCH):
        for title, text in session.execute(
            query.where(Chunk.doc_key.in_(keys[i : i + _LOOKUP_BATCH]))
        ):
            texts.setdefault(embedding_text(title, text))
    return list(texts)


def stored_hashes(
    session: Session, hashes: Collection[str], model: str, side: str = MATCHING_SIDE
) -> set[str]:
    """Which of ``hashes`` already have a vector under ``model`` and ``side``."""
    found: set[str] = set()
    keys = list(dict.fromkeys(hashes))
    for i in range(0, len(keys), _LOOKUP_BATCH):
        found.update(
            session.scalars(
                select(MatchingVector.text_hash).where(
                    MatchingVector.model == model,
                    MatchingVector.side == side,
                    MatchingVector.text_hash.in_(keys[i : i + _LOOKUP_BATCH]),
                )
            )
        )
    return found


def compute(
    session: Session,
    texts: Iterable[str],
    embedders: Mapping[str, Embedder],
    *,
    batch_size: int = EMBED_BATCH,
) -> Vectors:
    """Vectors of the ``texts`` not stored yet, per model name (only reads the database)."""
    by_hash = {text_hash(t): t for t in texts}
    out: Vectors = {}
    for embedder in embedders.values():
        have = stored_hashes(session, by_hash, embedder.name)
        missing = [h for h in by_hash if h not in have]
        fresh: dict[str, np.ndarray] = {}
        for start in range(0, len(missing), batch_size):
            part = missing[start : start + batch_size]
            rows = np.asarray(embedder.embed_queries([by_hash[h] for h in part]), np.float32)
            fresh.update(zip(part, rows, strict=True))
        out[embedder.name] = fresh
    return out


def write(session: Session, vectors: Mapping[str, Mapping[str, np.ndarray]]) -> int:
    """Store computed vectors, skipping any stored meanwhile; returns how many rows it added.

    Another process may store the same texts' vectors at the same moment (an import and a
    worker's :class:`Refresher`): the insert skips a row that exists by the time it runs
    (``ON CONFLICT DO NOTHING``) instead of failing the whole write on its key.
    """
    rows_out: list[dict[str, object]] = []
    for model, rows in vectors.items():
        have = stored_hashes(session, rows, model)
        rows_out.extend(
            {"text_hash": key, "model": model, "side": MATCHING_SIDE,
             "vector": np.asarray(vector, np.float32).tobytes()}
            for key, vector in rows.items() if key not in have
        )  # fmt: skip
    if rows_out:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = insert(MatchingVector).on_conflict_do_nothing(
            index_elements=["text_hash", "model", "side"]
        )
        for start in range(0, len(rows_out), _LOOKUP_BATCH):
            session.execute(statement, rows_out[start : start + _LOOKUP_BATCH])
    return len(rows_out)


def store(session: Session, texts: Iterable[str], embedders: Mapping[str, Embedder]) -> int:
    """Compute and store the vectors ``texts`` still lack (one document or profile on the
    web: small enough to embed inside the write)."""
    return write(session, compute(session, texts, embedders))


def store_for_docs(
    session: Session, doc_keys: Collection[str], embedders: Mapping[str, Embedder]
) -> int:
    """Vectors for the public chunks of these documents (after their chunks were written)."""
    return store(session, chunk_texts(session, doc_keys), embedders)


def catch_up(
    factory: sessionmaker[Session],
    embedders: Mapping[str, Embedder],
    *,
    batch_size: int = EMBED_BATCH,
) -> int:
    """Embed every goal, stated expertise and public chunk that has no matching vector yet
    (after an upgrade, or a write made without the matching models); returns rows added.

    Reads first, embeds outside any write transaction, then writes in rounds.
    """
    with factory() as session:
        texts = person_texts(session.scalars(select(Person))) + chunk_texts(session)
    added = 0
    round_size = batch_size * 8
    for start in range(0, len(texts), round_size):
        part = texts[start : start + round_size]
        with factory() as session:
            vectors = compute(session, part, embedders, batch_size=batch_size)
            session.rollback()
            added += write(session, vectors)
            session.commit()
    return added


def load(
    session: Session, hashes: Sequence[str], model: str, side: str = MATCHING_SIDE
) -> dict[str, np.ndarray]:
    """Stored vectors of ``hashes`` under ``model`` and ``side`` (those that exist)."""
    wanted = set(hashes)
    out: dict[str, np.ndarray] = {}
    query = select(MatchingVector.text_hash, MatchingVector.vector).where(
        MatchingVector.model == model, MatchingVector.side == side
    )
    if len(wanted) > _SCAN_ABOVE:
        for key, blob in session.execute(query):
            if key in wanted:
                out[key] = np.frombuffer(blob, dtype=np.float32)
        return out
    keys = list(wanted)
    for i in range(0, len(keys), _LOOKUP_BATCH):
        for key, blob in session.execute(
            query.where(MatchingVector.text_hash.in_(keys[i : i + _LOOKUP_BATCH]))
        ):
            out[key] = np.frombuffer(blob, dtype=np.float32)
    return out


class Refresher:
    """Stores the matching vectors of just-committed documents in a thread of this process.

    :meth:`submit` queues document keys and returns at once; one daemon thread (started on
    first use, so never before a fork) embeds and commits them in its own session, several
    queued documents at a time. A failure is logged and left to :func:`catch_up`.
    """

    def __init__(self, factory: sessionmaker[Session], embedders: Mapping[str, Embedder]) -> None:
        self.factory = factory
        self.embedders = embedders
        self._queue: list[str] = []
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()

    def submit(self, doc_keys: Iterable[str]) -> None:
        """Queue these documents' vectors (after their commit: the thread reads them)."""
        keys = [k for k in doc_keys if k]
        if not keys or not self.embedders:
            return
        with self._cond:
            if self._closed:
                raise RuntimeError("the matching refresher is closed")
            self._queue.extend(k for k in keys if k not in self._queue)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="matching-vectors", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def pending(self) -> bool:
        with self._cond:
            return bool(self._queue) or self._busy

    def wait(self, timeout: float | None = None) -> bool:
        """Until every queued document's vectors are stored (True) or ``timeout`` passed."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Finish what is queued (up to ``timeout``), then stop the thread."""
        self.wait(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._queue) or self._closed)
                if not self._queue:
                    return  # closed and nothing left
                keys, self._queue = self._queue, []
                self._busy = True
            try:
                self._store(keys)
            except Exception:  # the thread lives on; catch_up computes what is missing
                log.exception("storing matching vectors failed for %d document(s)", len(keys))
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _store(self, keys: list[str]) -> None:
        """Read the texts, embed outside any write transaction, then write and commit."""
        with self.factory() as session:
            vectors = compute(session, chunk_texts(session, keys), self.embedders)
            session.rollback()
            if write(session, vectors):
                session.commit()
