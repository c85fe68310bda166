"""The search engine: BM25 + vectors, fused, grouped per document, permission-filtered.

Permissions live here, not in callers: ``search`` and ``related`` take the asking Person.
Public chunks come from the shared indexes; a user's own pair notes are matched by BM25 under
a pair filter and by brute-force vectors over just that pair's chunks, loaded per request.
Every hit is re-checked against the database row before it is shown.

BM25 comes from the in-memory sparse index (:mod:`kb.search.indexes.sparse`) for free words,
and from Whoosh when the query quotes a phrase (positions); Whoosh also holds the spelling
vocabulary.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import bindparam, literal, or_, select
from sqlalchemy.orm import Session, sessionmaker

from kb.config import Settings
from kb.embedding import Embedder, normalise
from kb.errors import ConfigError, NotFound
from kb.i18n import N_, Text
from kb.models import Chunk, Pair, Person
from kb.search.analysis import guess_language
from kb.search.centring import TAIL_DIM, with_tail
from kb.search.filters import SearchFilters, allowed, matches
from kb.search.indexes.changelog import covers, load_vectors, newest_change
from kb.search.indexes.fulltext import TextHit
from kb.search.indexes.sparse import serves
from kb.search.indexes.sparsestore import SparseStore, access_for
from kb.search.indexes.store import IndexStore
from kb.search.indexes.vectors import brute_force
from kb.search.indexes.vectorstore import VectorStore
from kb.search.indexes.whooshstore import WhooshStore
from kb.search.query import ParsedQuery, parse_query, query_words
from kb.search.ranking import BM25, SearchConfig, above_floor, fuse, rank, rank_documents
from kb.search.records import ChunkRecord, record_from_chunk
from kb.search.snippets import snippet_html

__all__ = ["Hit", "SearchEngine", "SearchFilters", "SearchResults"]

# Few passages hold the query's words: look for a spelling suggestion (see _worth_spelling).
FEW_RESULTS = 3
SHORT_QUERY = 4  # words: a query this short is checked for typos even when results abound
# Vectors always find neighbours; say so when none of them contains a word of the query
# (counted over what the user may see only, so it reveals nothing about private notes).
NO_WORD_MATCH = Text(
    N_("No passage contains these words; the results below are the closest in meaning.")
)
# Nothing reached the result floor (SearchConfig.result_floor): say so, and offer the topics
# (tags) of the nearest documents below it.
NOTHING_RELEVANT = Text(N_("Nothing in the library is close enough to this query."))
CLOSEST_TOPICS = 5
QUERY_CACHE_SIZE = 256
# A page's hits: the columns a hit shows and the permission check needs, with the author.
HIT_QUERY = (
    select(
        Chunk.id, Chunk.doc_key, Chunk.doc_type, Chunk.doc_id, Chunk.title, Chunk.text,
        Chunk.language, Chunk.tags, Chunk.author_id, Chunk.doc_date, Chunk.pair_id,
        Person.name.label("author_name"),
    )
    .outerjoin(Person, Person.id == Chunk.author_id)
    .where(Chunk.id.in_(bindparam("ids", expanding=True)))
)  # fmt: skip


# The asking user's pair-note chunks for the vector leg: columns, not ORM objects, and no
# text (a pair can hold hundreds of note chunks; loading them as ORM objects is slow).
PAIR_CHUNKS = select(
    Chunk.id,
    Chunk.doc_key,
    Chunk.doc_type,
    Chunk.language,
    literal("").label("title"),
    literal("").label("text"),
    Chunk.tags,
    Chunk.author_id,
    Chunk.doc_date,
    Chunk.pair_id,
).where(Chunk.pair_id.in_(bindparam("pairs", expanding=True)), Chunk.doc_type == "note")


@dataclass
class Hit:
    """One document in a result list, shown through its best passage."""

    doc_key: str
    doc_type: str
    doc_id: int
    title: str
    snippet_html: str
    score: float
    language: str
    tags: list[str]
    author_name: str | None
    doc_date: dt.date | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_key": self.doc_key,
            "doc_type": self.doc_type,
            "doc_id": self.doc_id,
            "title": self.title,
            "snippet_html": self.snippet_html,
            "score": round(self.score, 6),
            "language": self.language,
            "tags": list(self.tags),
            "author_name": self.author_name,
            "doc_date": self.doc_date.isoformat() if self.doc_date else None,
        }


@dataclass
class SearchResults:
    """A page of hits, how many documents matched, and notes for the user."""

    query: str
    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    did_you_mean: str | None = None
    message: str | None = None
    took_ms: float = 0.0
    closest_topics: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "hits": [hit.to_dict() for hit in self.hits],
            "total": self.total,
            "did_you_mean": self.did_you_mean,
            "message": self.message,
            "took_ms": round(self.took_ms, 1),
            "closest_topics": list(self.closest_topics),
        }


@dataclass
class _Candidates:
    """Signals (name -> chunk id -> score) and which document each chunk belongs to."""

    signals: dict[str, dict[int, float]] = field(default_factory=dict)
    doc_of: dict[int, str] = field(default_factory=dict)
    language_of: dict[int, str] = field(default_factory=dict)  # of vector candidates

    def add(
        self, signal: str, found: Sequence[tuple[int, float]], doc_of: Mapping[int, str]
    ) -> None:
        scores = self.signals.setdefault(signal, {})
        for chunk_id, score in found:
            if chunk_id in doc_of and score > scores.get(chunk_id, float("-inf")):
                scores[chunk_id] = score
                self.doc_of[chunk_id] = doc_of[chunk_id]


class PairNotes:
    """The note chunks and vectors of a user's pairs, per (pairs, model), for the vector leg:
    kept until the change log moves (any change empties it), so a member's searches do not
    load their pairs' notes each time. Entries are keyed
    by the asking user's own pairs and only ever returned for them."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._cache: OrderedDict[tuple[frozenset[int], str], tuple[list[ChunkRecord], np.ndarray]]
        self._cache = OrderedDict()
        self._newest = -1
        self._lock = threading.Lock()

    def seen(self, newest: int) -> None:
        """The change log's newest id as a search just read it: a new one empties the cache."""
        with self._lock:
            if newest != self._newest:
                self._cache.clear()
                self._newest = newest

    def get(
        self, pair_ids: frozenset[int], spec: str,
        load: Callable[[], tuple[list[ChunkRecord], np.ndarray]],
    ) -> tuple[list[ChunkRecord], np.ndarray]:  # fmt: skip
        key = (pair_ids, spec)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            newest = self._newest
        value = load()
        with self._lock:
            if newest == self._newest:  # nothing changed while loading
                self._cache[key] = value
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
        return value


class QueryVectors:
    """A small LRU of query embeddings per model (people repeat and page through queries)."""

    def __init__(self, size: int = QUERY_CACHE_SIZE) -> None:
        self.size = size
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, spec: str, embedder: Embedder, text: str) -> np.ndarray:
        key = (spec, text)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        vector = np.asarray(embedder.embed_queries([text])[0], dtype=np.float32)
        with self._lock:
            self._cache[key] = vector
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return vector


def user_pairs(session: Session, user: Person | None) -> frozenset[int]:
    """Pairs whose notes ``user`` may read: those they are a member of (HR gets no extra)."""
    if user is None or user.id is None:
        return frozenset()
    rows = session.scalars(
        select(Pair.id).where(or_(Pair.mentor_id == user.id, Pair.mentee_id == user.id))
    )
    return frozenset(int(i) for i in rows)


def author_ids_for(session: Session, filters: SearchFilters) -> frozenset[int] | None:
    """The author filter as person ids (empty: nobody has that email); None: no filter."""
    if not filters.author_email:
        return None
    email = filters.author_email.strip().lower()
    rows = session.scalars(select(Person.id).where(Person.email == email))
    return frozenset(int(i) for i in rows)


class SearchEngine:
    """Hybrid search over one instance's chunks; indexes are caught up from the change log."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        embedders: Mapping[str, Embedder],
        config: SearchConfig | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = session_factory
        self.embedders = embedders
        self.config = config or SearchConfig.from_mapping(
            tuple(settings.search_models), settings.extra.get("search", {})
        )
        missing = [m for m in self.config.models if m not in embedders]
        if missing:
            raise ConfigError(f"search model(s) {', '.join(missing)} not among the embedders")
        names = {spec: embedders[spec].name for spec in self.config.models}
        self.fulltext = WhooshStore(
            settings.index_dir, session_factory, self.config.bm25, list(names.values())
        )
        self.vectors = VectorStore(session_factory, names, self.config, settings.index_dir)
        self.sparse = SparseStore(session_factory, self.config.bm25, settings.index_dir)
        self.stores: tuple[IndexStore, ...] = (self.fulltext, self.vectors, self.sparse)
        self.query_vectors = QueryVectors()
        self.pair_notes = PairNotes()
        # Start-up: build what is missing, apply what was committed while we were away.
        for store in self.stores:
            store.load()

    # -- keeping up -------------------------------------------------------------------------

    def catch_up(self) -> int:
        """Apply pending change-log rows to every index (blocking); documents applied."""
        return max(store.catch_up(block=True) for store in self.stores)

    def _refresh(self, session: Session) -> None:
        """The cheap check before each search: one look-up of the newest change when every
        index is current; never waits for another process's writer."""
        newest = newest_change(session)
        self.pair_notes.seen(newest)
        for store in self.stores:
            if not covers(store.state(), newest):
                store.catch_up(block=False)

    def reindex(self) -> None:
        """Rebuild every index from the database (Whoosh swapped in atomically, the
        in-memory ones with their snapshots)."""
        for store in self.stores:
            store.rebuild()

    def close(self) -> None:
        for store in self.stores:
            store.close()

    def warm_up(self) -> None:
        """Open what the first searches would otherwise open: Whoosh's searcher (quoted
        phrases, spelling), which reads every segment, and each segment's term readers, which
        the first phrase look-up of a process reads (seconds on a large index)."""
        index = self.fulltext.index()
        index.doc_count()
        index.phrase_matches(parse_query('"warm up" "rozgrzewka przed" "разминка перед"'))

    # -- search -----------------------------------------------------------------------------

    def search(
        self,
        query: str,
        user: Person | None,
        filters: SearchFilters | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> SearchResults:
        """A page of documents for ``query`` that ``user`` may see, best first."""
        started = time.perf_counter()
        parsed = parse_query(query)
        filters = filters or SearchFilters()
        limit, offset = max(0, int(limit)), max(0, int(offset))
        if parsed.is_empty and filters.is_empty:
            return SearchResults(parsed.text, message=parsed.message, took_ms=_ms(started))
        with self.sessions() as session:
            self._refresh(session)
            pair_ids = user_pairs(session, user)
            author_ids = author_ids_for(session, filters)
            word_matches = whole_matches = 0
            below: list[int] = []
            if parsed.is_empty:
                ranking = self._browse(pair_ids, filters, author_ids)
            else:
                ranking, word_matches, whole_matches, below = self._rank(
                    session, parsed, pair_ids, filters, author_ids
                )
            page = ranking[offset : offset + limit]
            hits = self._hits(session, page, query_words(parsed), pair_ids)
        suggestion = None
        if not parsed.is_empty and _worth_spelling(parsed, word_matches, whole_matches):
            suggestion = self._did_you_mean(parsed, pair_ids, filters, author_ids)
        message = parsed.message
        topics: list[str] = []
        if message is None and not parsed.is_empty:
            if ranking and word_matches == 0:
                message = NO_WORD_MATCH
            elif not ranking:
                message = NOTHING_RELEVANT
                topics = self._closest_topics(below)
        return SearchResults(
            parsed.text, hits, len(ranking), suggestion, message, _ms(started), topics
        )

    def _closest_topics(self, chunk_ids: Sequence[int]) -> list[str]:
        """Tags of the nearest public documents below the floor, nearest first (only public
        chunks: the floor's verdict on a private note says nothing to anyone else)."""
        tags: dict[str, None] = {}
        for chunk_id in chunk_ids:
            record = self.vectors.records.get(chunk_id)
            if record is not None:
                tags.update(dict.fromkeys(record.tags))
        return list(tags)[:CLOSEST_TOPICS]

    def _rank(
        self,
        session: Session,
        parsed: ParsedQuery,
        pair_ids: frozenset[int],
        filters: SearchFilters,
        author_ids: frozenset[int] | None,
    ) -> tuple[list[tuple[str, float, int]], int, int, list[int]]:
        """Ranked (document, score, best chunk) above the result floor, how many passages BM25
        matched and how many of them hold every word, and (when the floor left nothing) the
        best chunks of the nearest documents."""
        language = guess_language(parsed.text)
        candidates = _Candidates()
        text_hits = self._text_search(parsed, self.config.depth, pair_ids, filters, author_ids)
        candidates.add(
            BM25,
            [(h.chunk_id, h.score) for h in text_hits],
            {h.chunk_id: h.doc_key for h in text_hits},
        )
        models = [m for m in self.config.models if self.config.speaks(m, language)]
        queries = {m: self.query_vectors.get(m, self.embedders[m], parsed.text) for m in models}
        if queries:
            self._vector_candidates(session, candidates, queries, pair_ids, filters, author_ids)
        weights = self.config.signal_weights(language, tuple(candidates.signals))
        doc_of = candidates.doc_of.__getitem__
        ranking = rank(
            candidates.signals, weights, self.config, doc_of, candidates.language_of.get, language
        )
        holding = sum(h.all_words for h in text_hits)
        similarity = self.config.similarity_signal(candidates.signals)
        if similarity is None:
            return ranking, len(text_hits), holding, []
        whole = {h.doc_key for h in text_hits if h.all_words}
        shown = above_floor(ranking, similarity, doc_of, self.config.result_floor, whole)
        below = [chunk for _, _, chunk in ranking[:CLOSEST_TOPICS]] if not shown else []
        return shown, len(text_hits), holding, below

    def _text_search(
        self,
        parsed: ParsedQuery,
        limit: int,
        pair_ids: frozenset[int],
        filters: SearchFilters | None,
        author_ids: frozenset[int] | None,
    ) -> list[TextHit]:
        """BM25 over what the user may see, from the sparse index; for quoted phrases Whoosh
        (it alone knows word positions) says which chunks hold them, the sparse index scores
        them with the statistics of what the user may see."""
        access = access_for(pair_ids, filters, author_ids)
        if serves(parsed):
            return self.sparse.search(parsed, limit, access)
        phrases = self.fulltext.index().phrase_matches(parsed)
        return self.sparse.search(parsed, limit, access, phrases)

    def _vector_candidates(
        self,
        session: Session,
        candidates: _Candidates,
        queries: Mapping[str, np.ndarray],
        pair_ids: frozenset[int],
        filters: SearchFilters | None,
        author_ids: frozenset[int] | None,
        exclude_doc: str | None = None,
    ) -> None:
        """Nearest public chunks (shared FAISS) and nearest own-pair chunks (brute force)."""
        depth = self.config.depth
        public_allowed = self.vectors.allowed_ids(filters, author_ids)
        wanted = filters or SearchFilters()
        for spec, query in queries.items():
            found = self.vectors.search(
                spec, query, depth + (8 if exclude_doc else 0), public_allowed
            )
            doc_of = {c: d for c, _ in found if (d := self.vectors.doc_of(c)) is not None}
            if exclude_doc:
                found = [(c, s) for c, s in found if doc_of.get(c) != exclude_doc]
            candidates.add(spec, found, doc_of)
            for chunk_id, _ in found:
                if (lang := self.vectors.language_of(chunk_id)) is not None:
                    candidates.language_of[chunk_id] = lang
            if not pair_ids:
                continue
            notes, matrix = self.pair_notes.get(
                pair_ids, spec, functools.partial(self._pair_vectors, session, pair_ids, spec)
            )
            keep = [i for i, r in enumerate(notes)
                    if r.doc_key != exclude_doc and matches(r, wanted, author_ids)]  # fmt: skip
            if keep:
                mine = [notes[i] for i in keep]
                tailed = self.vectors.tailed_query(spec, query)
                found = brute_force(tailed, [r.chunk_id for r in mine], matrix[keep], depth)
                candidates.add(spec, found, {r.chunk_id: r.doc_key for r in mine})
                candidates.language_of.update({r.chunk_id: r.index_language for r in mine})

    def _pair_vectors(self, session: Session, pair_ids: frozenset[int], spec: str
                      ) -> tuple[list[ChunkRecord], np.ndarray]:  # fmt: skip
        """The asking user's own pair-note chunks that ``spec`` speaks, with their vectors
        (language-tailed like the shared index's: kb.search.centring)."""
        rows = session.connection().execute(PAIR_CHUNKS, {"pairs": sorted(pair_ids)})
        notes = [
            r
            for r in map(record_from_chunk, rows)
            if allowed(r, pair_ids) and self.config.speaks(spec, r.index_language)
        ]
        vectors = load_vectors(session, [r.chunk_id for r in notes], self.vectors.model_names[spec])
        notes = [r for r in notes if r.chunk_id in vectors]
        dim = len(next(iter(vectors.values()))) if vectors else 0
        if not notes:
            return notes, np.zeros((0, dim + TAIL_DIM), np.float32)
        matrix = np.vstack([vectors[r.chunk_id] for r in notes])
        return notes, with_tail(matrix, [r.index_language for r in notes])

    def _browse(
        self,
        pair_ids: frozenset[int],
        filters: SearchFilters,
        author_ids: frozenset[int] | None,
    ) -> list[tuple[str, float, int]]:
        """No words, only filters: matching documents, newest first."""
        found = self.sparse.browse(access_for(pair_ids, filters, author_ids))
        first: dict[str, tuple[str, int]] = {}
        for hit in sorted(found, key=lambda h: h.chunk_id):
            first.setdefault(hit.doc_key, (hit.doc_date, hit.chunk_id))
        ordered = sorted(first.items(), key=lambda kv: (kv[1][0], kv[0]), reverse=True)
        return [(doc, 0.0, chunk) for doc, (_, chunk) in ordered]

    def _hits(
        self,
        session: Session,
        page: Sequence[tuple[str, float, int]],
        words: Sequence[str],
        pair_ids: frozenset[int],
    ) -> list[Hit]:
        """Hits for a page of (document, score, best chunk), with ONE database query
        (columns, not ORM objects: a page is read-only)."""
        if not page:
            return []
        ids = [chunk for _, _, chunk in page]
        rows = session.connection().execute(HIT_QUERY, {"ids": ids}).all()
        by_id = {row.id: row for row in rows}
        hits = []
        for doc_key, score, chunk_id in page:
            if chunk_id not in by_id:
                continue  # deleted since the index saw it
            row = by_id[chunk_id]
            record = record_from_chunk(row)
            # The database row has the last word on who may see it.
            if row.doc_key != doc_key or not allowed(record, pair_ids):
                continue
            hits.append(
                Hit(
                    doc_key=row.doc_key,
                    doc_type=row.doc_type,
                    doc_id=row.doc_id,
                    title=row.title,
                    snippet_html=snippet_html(row.text, words, record.index_language),
                    score=float(score),
                    language=row.language,
                    tags=list(record.tags),
                    author_name=row.author_name,
                    doc_date=row.doc_date,
                )
            )
        return hits

    def _did_you_mean(
        self,
        parsed: ParsedQuery,
        pair_ids: frozenset[int],
        filters: SearchFilters,
        author_ids: frozenset[int] | None,
    ) -> str | None:
        """Replace each word that no passage this user may see holds (in any form: an
        inflection the stemmer knows is not a typo; a stop word never is) by the closest word
        of the public vocabulary that such a passage holds; None when no word needs or finds
        one."""
        index = self.fulltext.index()
        access = access_for(pair_ids, filters, author_ids)
        words = [w for w in dict.fromkeys(query_words(parsed))
                 if len(w) >= 3 and not w.isdigit() and not index.vocabulary_has(w)]  # fmt: skip
        text = parsed.text
        for word in self.sparse.unknown_words(words, access):
            options = index.suggestions(word, limit=3)
            unknown = self.sparse.unknown_words(options, access)
            best = next((option for option in options if option not in unknown), None)
            if best is not None:
                text = _replace_word(text, word, best)
        return parse_query(text).text if text != parsed.text else None

    # -- related content --------------------------------------------------------------------

    def related(self, doc_key: str, user: Person | None, limit: int = 5) -> list[Hit]:
        """Documents nearest to ``doc_key`` by meaning that ``user`` may see.

        A document the user may not see is reported as not found (its existence is private).
        """
        with self.sessions() as session:
            self._refresh(session)
            pair_ids = user_pairs(session, user)
            chunks = [
                record_from_chunk(c)
                for c in session.scalars(select(Chunk).where(Chunk.doc_key == doc_key))
            ]
            if not chunks or not all(allowed(r, pair_ids) for r in chunks):
                raise NotFound("No such document.")
            language = chunks[0].index_language
            queries: dict[str, np.ndarray] = {}
            for spec in self.config.models:
                if not self.config.speaks(spec, language):
                    continue
                stored = load_vectors(
                    session, [r.chunk_id for r in chunks], self.vectors.model_names[spec]
                )
                if stored:
                    queries[spec] = normalise(np.vstack(list(stored.values())).mean(axis=0)[None])[
                        0
                    ]
            candidates = _Candidates()
            self._vector_candidates(session, candidates, queries, pair_ids, None, None, doc_key)
            signals = tuple(candidates.signals)
            weights = self.config.signal_weights(language, signals) or dict.fromkeys(signals, 1.0)
            fused = fuse(candidates.signals, weights, self.config)
            ranking = rank_documents(fused, candidates.doc_of.__getitem__)
            ranking = [r for r in ranking if r[0] != doc_key][: max(0, limit)]
            return self._hits(session, ranking, (), pair_ids)


def _worth_spelling(parsed: ParsedQuery, word_matches: int, whole_matches: int) -> bool:
    """Look for a spelling suggestion? When few passages hold any word of the query (vectors
    always find something, so the result count says nothing), and, for a short query, when
    few hold every word: one common word ("Power Qeury") makes BM25 match many passages, but
    a misspelt word is held by none. A long question is left alone unless nothing matches:
    its unknown words are mostly real ones the library lacks, and each costs a pass over
    Whoosh's word list (about 0.1-0.3 s at 100k chunks)."""
    if word_matches < FEW_RESULTS:
        return True
    return whole_matches < FEW_RESULTS and len(set(query_words(parsed))) <= SHORT_QUERY


def _replace_word(text: str, word: str, replacement: str) -> str:
    """``word`` replaced wherever it stands alone in ``text``, keeping how it was written
    (capitalised or in capitals)."""

    def written_alike(found: re.Match[str]) -> str:
        typed = found.group(0)
        if typed.isupper() and len(typed) > 1:
            return replacement.upper()
        return replacement.capitalize() if typed[:1].isupper() else replacement

    pattern = rf"(?<!\w){re.escape(word)}(?!\w)"
    return re.sub(pattern, written_alike, text, flags=re.IGNORECASE)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
