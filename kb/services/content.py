"""How a document becomes searchable: chunks, their vectors and the change log.

Everything here writes into the caller's session and never commits, so a document's content
rows, chunks, vectors and change-log row land in one transaction (or not at all).

Vectors are reused by content hash: a chunk whose embedding text (title + passage) is already
stored, under the same model, for *any* chunk is never embedded again. That makes re-imports
cheap and makes an unchanged document a no-op (no rows written, no change-log entry).

Two ways to use it:

* one document: :func:`replace_chunks` (plan, look up stored vectors, embed the rest, write);
* many documents (imports): plan every document with :func:`plan_chunks`, embed all texts not
  yet stored in large batches with :func:`preload_embedders`, then call the services (or
  :func:`replace_chunks`) per document with the preloaded embedders; they answer from memory,
  so no model runs while a write transaction (and SQLite's write lock) is open.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from kb.chunking import chunk_text, embedding_text
from kb.embedding import Embedder, text_hash
from kb.errors import ValidationError
from kb.models import ChangeLog, Chunk, ChunkEmbedding, join_list, split_list

# Texts sent to a model per call: large enough to keep the model busy, small enough to bound
# memory (the benchmark wants the pipeline close to the bare model's throughput).
EMBED_BATCH = 256
_LOOKUP_BATCH = 500

# model name -> text hash -> vector
VectorMap = dict[str, dict[str, np.ndarray]]


@dataclass(frozen=True)
class PlannedChunk:
    """One passage of a document as it will be stored: its text and embedding key."""

    position: int
    text: str
    embed_text: str
    text_hash: str


def plan_chunks(title: str, text: str) -> list[PlannedChunk]:
    """Passages of ``text`` with what gets embedded for each (pure)."""
    planned = []
    for passage in chunk_text(text):
        embed = embedding_text(title, passage.text)
        planned.append(PlannedChunk(passage.position, passage.text, embed, text_hash(embed)))
    return planned


def _tags(tags: Sequence[str] | str | None) -> str:
    if tags is None:
        return ""
    return join_list(split_list(tags) if isinstance(tags, str) else list(tags))


def stored_vectors(
    session: Session, hashes: Collection[str], models: Collection[str] | None
) -> dict[str, dict[str, bytes]]:
    """Vectors already in the database for these embedding-text hashes, by model then hash.

    ``models=None`` means every model found.
    """
    found: dict[str, dict[str, bytes]] = {m: {} for m in models or ()}
    keys = list(dict.fromkeys(hashes))
    if not keys or models is not None and not models:
        return found
    for i in range(0, len(keys), _LOOKUP_BATCH):
        part = keys[i : i + _LOOKUP_BATCH]
        query = (
            select(Chunk.text_hash, ChunkEmbedding.model, ChunkEmbedding.vector)
            .join(ChunkEmbedding, ChunkEmbedding.chunk_id == Chunk.id)
            .where(Chunk.text_hash.in_(part))
        )
        if models is not None:
            query = query.where(ChunkEmbedding.model.in_(list(models)))
        for key, model, vector in session.execute(query):
            found.setdefault(model, {}).setdefault(key, vector)
    return found


def embed_texts(
    session: Session,
    texts: Iterable[str],
    embedders: Mapping[str, Embedder],
    *,
    batch_size: int = EMBED_BATCH,
    progress: bool = False,
) -> VectorMap:
    """Vectors for every text under every embedder, embedding only what is not stored yet.

    Keys are ``embedder.name`` then ``text_hash(text)``. Only reads the database.
    """
    by_hash = {text_hash(t): t for t in texts}
    result: VectorMap = {}
    # Vectors already in memory (preloaded in bulk) need no database lookup.
    known = {
        e.name: {h: e.vectors[h] for h in by_hash if h in e.vectors}
        for e in embedders.values()
        if isinstance(e, PrecomputedEmbedder)
    }
    lookup = [h for h in by_hash if any(h not in known.get(e.name, ()) for e in embedders.values())]
    stored = stored_vectors(session, lookup, [e.name for e in embedders.values()])
    for embedder in embedders.values():
        have = {h: np.frombuffer(v, dtype=np.float32) for h, v in stored[embedder.name].items()}
        have.update(known.get(embedder.name, {}))
        missing = [h for h in by_hash if h not in have]
        steps: Iterable[int] = range(0, len(missing), batch_size)
        if progress and missing:
            from tqdm import tqdm

            steps = tqdm(steps, desc=f"embedding ({embedder.name})", unit="batch", leave=False)
        for start in steps:
            part = missing[start : start + batch_size]
            vectors = np.asarray(embedder.embed_passages([by_hash[h] for h in part]), np.float32)
            have.update(zip(part, vectors, strict=True))
        result[embedder.name] = have
    return result


class PrecomputedEmbedder:
    """An embedder that answers passages from vectors computed beforehand in bulk.

    Texts it was not given fall back to the wrapped model (counted in ``misses``), so it is
    always correct, and fast whenever the batch phase saw everything.
    """

    def __init__(self, inner: Embedder, vectors: Mapping[str, np.ndarray]) -> None:
        self.inner = inner
        self.name = inner.name
        self.vectors = dict(vectors)
        self.misses = 0

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        hashes = [text_hash(t) for t in texts]
        missing = [i for i, h in enumerate(hashes) if h not in self.vectors]
        if missing:
            self.misses += len(missing)
            fresh = self.inner.embed_passages([texts[i] for i in missing])
            for i, vector in zip(missing, fresh, strict=True):
                self.vectors[hashes[i]] = np.asarray(vector, np.float32)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack([self.vectors[h] for h in hashes]).astype(np.float32)


def preload_embedders(
    session: Session,
    texts: Iterable[str],
    embedders: Mapping[str, Embedder],
    *,
    batch_size: int = EMBED_BATCH,
    progress: bool = False,
) -> dict[str, PrecomputedEmbedder]:
    """Embed all of ``texts`` not yet stored, in batches, before any write transaction starts."""
    vectors = embed_texts(session, texts, embedders, batch_size=batch_size, progress=progress)
    return {
        spec: PrecomputedEmbedder(embedder, vectors[embedder.name])
        for spec, embedder in embedders.items()
    }


def _vectors_for(
    session: Session,
    planned: Sequence[PlannedChunk],
    embedders: Mapping[str, Embedder],
    given: Mapping[str, np.ndarray] | None,
) -> VectorMap:
    """Vectors by model name and hash for ``planned``: given rows first, then stored/embedded."""
    result: VectorMap = {}
    if given:
        for model, rows in given.items():
            rows = np.asarray(rows, dtype=np.float32)
            if rows.ndim != 2 or len(rows) != len(planned):
                raise ValidationError(
                    f"expected {len(planned)} vectors for model {model!r}, got {rows.shape}"
                )
            result[model] = {p.text_hash: row for p, row in zip(planned, rows, strict=True)}
    rest = {spec: e for spec, e in embedders.items() if e.name not in result}
    if rest:
        result.update(embed_texts(session, [p.embed_text for p in planned], rest))
    return result


@dataclass(frozen=True)
class _Existing:
    position: int
    text: str
    text_hash: str
    title: str
    language: str
    tags: str
    author_id: int | None
    doc_date: dt.date | None
    pair_id: int | None
    doc_type: str
    doc_id: int


def _existing(session: Session, doc_key: str) -> tuple[list[_Existing], dict[int, set[str]]]:
    """Stored chunks of a document (by position) and, per position, the models with vectors."""
    rows = session.execute(
        select(
            Chunk.id,
            Chunk.position,
            Chunk.text,
            Chunk.text_hash,
            Chunk.title,
            Chunk.language,
            Chunk.tags,
            Chunk.author_id,
            Chunk.doc_date,
            Chunk.pair_id,
            Chunk.doc_type,
            Chunk.doc_id,
        )
        .where(Chunk.doc_key == doc_key)
        .order_by(Chunk.position)
    ).all()
    ids = {row[0]: row[1] for row in rows}
    models: dict[int, set[str]] = {row[1]: set() for row in rows}
    if ids:
        for chunk_id, model in session.execute(
            select(ChunkEmbedding.chunk_id, ChunkEmbedding.model).where(
                ChunkEmbedding.chunk_id.in_(list(ids))
            )
        ):
            models[ids[chunk_id]].add(model)
    return [_Existing(*tuple(row)[1:]) for row in rows], models


def write_chunks(
    session: Session,
    *,
    doc_key: str,
    doc_type: str,
    doc_id: int,
    title: str,
    language: str,
    tags: Sequence[str] | str | None,
    author_id: int | None,
    doc_date: dt.date | None,
    pair_id: int | None,
    planned: Sequence[PlannedChunk],
    vectors: Mapping[str, Mapping[str, np.ndarray]],
) -> bool:
    """Store ``planned`` as the document's chunks with their vectors, plus an upsert log row.

    ``vectors`` must hold every planned hash for every model to store. Returns False, and
    writes nothing, when the stored chunks are already exactly these (same texts, metadata
    and models); an empty plan removes the document (see :func:`remove_chunks`).
    """
    if not planned:
        return remove_chunks(session, doc_key)
    tag_text = _tags(tags)
    wanted = [
        _Existing(
            p.position,
            p.text,
            p.text_hash,
            title,
            language,
            tag_text,
            author_id,
            doc_date,
            pair_id,
            doc_type,
            doc_id,
        )
        for p in planned
    ]
    models = set(vectors)
    for model in models:
        absent = [p.position for p in planned if p.text_hash not in vectors[model]]
        if absent:
            raise ValidationError(f"no {model!r} vectors for passages {absent} of {doc_key}")
    existing, existing_models = _existing(session, doc_key)
    if existing == wanted and all(existing_models[p.position] >= models for p in planned):
        return False
    carried: dict[str, dict[str, bytes]] = {}
    if existing:
        # Vectors of models not computed now survive for passages whose text is unchanged.
        carried = stored_vectors(session, [p.text_hash for p in planned], None)
        _delete(session, doc_key)
    for p in planned:
        session.add(
            Chunk(
                doc_key=doc_key,
                doc_type=doc_type,
                doc_id=doc_id,
                position=p.position,
                title=title,
                text=p.text,
                text_hash=p.text_hash,
                language=language,
                tags=tag_text,
                author_id=author_id,
                doc_date=doc_date,
                pair_id=pair_id,
                embeddings=[
                    ChunkEmbedding(model=model, vector=vector)
                    for model, vector in sorted(_chunk_vectors(p, vectors, carried).items())
                ],
            )
        )
    session.add(ChangeLog(doc_key=doc_key, op="upsert"))
    session.flush()
    return True


def _chunk_vectors(
    p: PlannedChunk,
    vectors: Mapping[str, Mapping[str, np.ndarray]],
    carried: Mapping[str, Mapping[str, bytes]],
) -> dict[str, bytes]:
    out = {m: found[p.text_hash] for m, found in carried.items() if p.text_hash in found}
    out.update(
        {m: np.asarray(found[p.text_hash], np.float32).tobytes() for m, found in vectors.items()}
    )
    return out


def replace_chunks(
    session: Session,
    *,
    doc_key: str,
    doc_type: str,
    doc_id: int,
    title: str,
    text: str,
    language: str,
    tags: Sequence[str] | str | None,
    author_id: int | None,
    doc_date: dt.date | None,
    pair_id: int | None,
    embedders: Mapping[str, Embedder],
    vectors: Mapping[str, np.ndarray] | None = None,
) -> bool:
    """Chunk ``text``, embed what is new and store it as ``doc_key``'s chunks (one log row).

    ``vectors`` optionally gives precomputed rows (aligned with ``plan_chunks(title, text)``)
    by model name. Embedding happens before the first write. Returns whether anything changed.
    """
    planned = plan_chunks(title, text)
    found = _vectors_for(session, planned, embedders, vectors)
    return write_chunks(
        session,
        doc_key=doc_key,
        doc_type=doc_type,
        doc_id=doc_id,
        title=title,
        language=language,
        tags=tags,
        author_id=author_id,
        doc_date=doc_date,
        pair_id=pair_id,
        planned=planned,
        vectors=found,
    )


def _delete(session: Session, doc_key: str) -> int:
    chunk_ids = select(Chunk.id).where(Chunk.doc_key == doc_key)
    session.execute(
        delete(ChunkEmbedding).where(ChunkEmbedding.chunk_id.in_(chunk_ids)),
        execution_options={"synchronize_session": "fetch"},
    )
    # A DELETE answers a CursorResult (with rowcount); Session.execute is typed Result.
    result = cast(
        "CursorResult[Any]",
        session.execute(
            delete(Chunk).where(Chunk.doc_key == doc_key),
            execution_options={"synchronize_session": "fetch"},
        ),
    )
    return int(result.rowcount or 0)


def remove_chunks(session: Session, doc_key: str) -> bool:
    """Delete a document's chunks and vectors and log the deletion; False if it had none."""
    if not _delete(session, doc_key):
        return False
    session.add(ChangeLog(doc_key=doc_key, op="delete"))
    session.flush()
    return True


def doc_models(session: Session, doc_keys: Collection[str]) -> dict[str, set[str]]:
    """Models for which *every* chunk of each document has a vector (imports use it to spot
    documents that need vectors for a newly configured model)."""
    result: dict[str, set[str]] = {}
    keys = list(doc_keys)
    for i in range(0, len(keys), _LOOKUP_BATCH):
        part = keys[i : i + _LOOKUP_BATCH]
        chunks: dict[int, str] = {}
        counts: dict[str, int] = {}
        for chunk_id, key in session.execute(
            select(Chunk.id, Chunk.doc_key).where(Chunk.doc_key.in_(part))
        ):
            chunks[chunk_id] = key
            counts[key] = counts.get(key, 0) + 1
        per_model: dict[tuple[str, str], int] = {}
        if chunks:
            for chunk_id, model in session.execute(
                select(ChunkEmbedding.chunk_id, ChunkEmbedding.model)
                .join(Chunk, Chunk.id == ChunkEmbedding.chunk_id)
                .where(Chunk.doc_key.in_(part))
            ):
                key = chunks[chunk_id]
                per_model[(key, model)] = per_model.get((key, model), 0) + 1
        for key, count in counts.items():
            result[key] = {m for (k, m), n in per_model.items() if k == key and n == count}
    return result
