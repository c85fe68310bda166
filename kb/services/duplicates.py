"""Near-duplicate guides: published guides whose meaning is very close to a guide's text.

Asked before publishing. Nothing of the library is embedded again: the guide's own passages
are embedded (or found stored by content hash), the search engine's in-memory vector index
names the nearest public chunks, and the candidates' *stored* vectors give an exact cosine
between document means, compared with a threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.embedding import Embedder, normalise
from kb.models import Chunk, Guide
from kb.search.hybrid import SearchEngine
from kb.search.indexes.changelog import load_vectors
from kb.services.content import embed_texts, plan_chunks
from kb.services.guides import guide_doc_key, guide_text

# Cosine between document means above which two guides count as saying the same thing.
DEFAULT_THRESHOLD = 0.92
CANDIDATE_CHUNKS = 40


@dataclass(frozen=True)
class NearDuplicate:
    guide: Guide
    similarity: float


def _mean(rows: list[np.ndarray]) -> np.ndarray:
    return normalise(np.vstack(rows).astype(np.float32).mean(axis=0)[None])[0]


def near_duplicates(
    session: Session,
    guide: Guide,
    engine: SearchEngine,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    limit: int = 5,
) -> list[NearDuplicate]:
    """Published guides (other than ``guide``) at or above ``threshold``, closest first."""
    if not engine.config.models:
        return []
    spec = engine.config.models[0]
    embedder: Embedder = engine.embedders[spec]
    model = engine.vectors.model_names[spec]
    planned = plan_chunks(guide.title, guide_text(guide))
    if not planned:
        return []
    vectors = embed_texts(session, [p.embed_text for p in planned], {spec: embedder})[embedder.name]
    mine = _mean([vectors[p.text_hash] for p in planned])
    own_key = guide_doc_key(guide)
    candidates: list[str] = []
    for chunk_id, _ in engine.vectors.search(spec, mine, CANDIDATE_CHUNKS):
        key = engine.vectors.doc_of(chunk_id)
        if key and key.startswith("guide:") and key != own_key and key not in candidates:
            candidates.append(key)
    if not candidates:
        return []
    chunks: dict[str, list[int]] = {}
    for chunk_id, key in session.execute(
        select(Chunk.id, Chunk.doc_key).where(Chunk.doc_key.in_(candidates))
    ):
        chunks.setdefault(key, []).append(chunk_id)
    stored = load_vectors(session, [c for ids in chunks.values() for c in ids], model)
    found: list[NearDuplicate] = []
    for key, ids in chunks.items():
        rows = [stored[c] for c in ids if c in stored]
        if not rows:
            continue
        similarity = float(mine @ _mean(rows))
        if similarity < threshold:
            continue
        other = session.get(Guide, int(key.split(":", 1)[1]))
        if other is not None and other.status == "published":
            found.append(NearDuplicate(other, similarity))
    found.sort(key=lambda d: -d.similarity)
    return found[:limit]


def threshold_from(extra: Mapping[str, object]) -> float:
    """``[guides] duplicate_threshold`` from the settings file, else the default."""
    section = extra.get("guides")
    if isinstance(section, Mapping):
        value = section.get("duplicate_threshold")
        if isinstance(value, int | float):
            return float(value)
    return DEFAULT_THRESHOLD
