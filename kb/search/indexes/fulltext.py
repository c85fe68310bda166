"""BM25 over chunks with Whoosh: one text field per language, each with its own analyzer.

A query is analysed with every language's analyzer and searched across all language fields,
so a Polish query still hits English content through identical words (names, tools, acronyms).
Note chunks are indexed too, with their ``pair``; every search carries the permission filter.
Only public chunks feed the ``spell`` vocabulary behind "did you mean", so a suggestion can
never reveal a word of a private note.

The product searches it for queries that quote a phrase (positions) and for the vocabulary;
free words go to the sparse index (:mod:`kb.search.indexes.sparse`), which scores them with the same
formula (BM25F of one field, Whoosh's idf and stored lengths).
"""

from __future__ import annotations

import itertools
import os
import queue
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from whoosh import index as windex
from whoosh import query as wq
from whoosh.fields import ID, KEYWORD, TEXT, Schema
from whoosh.filedb.filestore import FileStorage, RamStorage
from whoosh.reading import EmptyReader, MultiReader, SegmentReader
from whoosh.scoring import BM25F
from whoosh.searching import Searcher
from whoosh.support.levenshtein import damerau_levenshtein
from whoosh.writing import IndexWriter

from kb.search.analysis import LANGUAGES, language_analyzer, surface_analyzer
from kb.search.filters import normalise_tag
from kb.search.query import ParsedQuery, build_query, phrase_clauses
from kb.search.records import ChunkRecord

SPELL_FIELD = "spell"
SUGGESTION_POOL = 50  # spelling candidates (the most frequent within the distance) to re-rank
ALLOWED_CACHE_SIZE = 64  # filter queries whose allowed documents are kept per searcher
BULK_BATCH = 10_000  # chunks per segment in a bulk build (their postings stay in memory)
BULK_LIMIT_MB = 512  # a segment's posting pool: 10,000 chunks fit without spilling to disk


class IndexBuildError(RuntimeError):
    """A bulk build lost documents (a build process failed); the index must not be used."""


class PhraseMatch(NamedTuple):
    """One clause of a query's quoted phrase (the phrase's terms on one language field) and
    every chunk holding it, private ones included: Whoosh knows word positions, the caller
    scores what the asking user may see (:meth:`kb.search.indexes.sparse.SparseIndex.search`)."""

    language: str
    terms: tuple[str, ...]
    boost: float
    chunk_ids: np.ndarray  # int64


class TextHit(NamedTuple):
    """A chunk found by BM25."""

    chunk_id: int
    score: float
    doc_key: str
    doc_date: str = ""
    # The chunk holds every word of the query (as analysed in its language, stop words
    # aside): shown whatever the result floor says (kb.search.ranking.above_floor).
    all_words: bool = False


@dataclass(frozen=True)
class BM25Config:
    """BM25 parameters. The title is indexed as the first line of every chunk's text.

    Chosen on dev: title folded into the text field beat a separate title field (which Whoosh
    scores as a second, independently saturated BM25 term) on SciFact (0.696 vs 0.671 at
    boost 1) and PoQuAD (0.847 vs 0.840).
    """

    k1: float = 1.2
    b: float = 0.75

    def to_dict(self) -> dict[str, float | str]:
        return {"k1": self.k1, "b": self.b, "title": "first line of the text field"}


class PrivateRamStorage(RamStorage):
    """RAM storage whose writer scratch files go to a fresh temp dir.

    Whoosh's RamStorage names its scratch dir after the index ("/tmp/MAIN.tmp"), so two
    processes building in-memory indexes at once delete each other's files.
    """

    def temp_storage(self, name: str | None = None) -> FileStorage:
        return FileStorage(tempfile.mkdtemp(prefix="tandem-whoosh-")).create()


def text_field(language: str) -> str:
    return f"text_{language}"


def build_schema() -> Schema:
    """Identifiers and filter attributes, plus one text field per language."""
    fields = {
        "chunk_id": ID(stored=True, unique=True),
        "doc_key": ID(stored=True),
        "doc_type": ID,
        "language": ID,
        "tags": KEYWORD(commas=True, lowercase=True),
        "author": ID,
        "visibility": ID,
        "pair": ID,
        "doc_date": ID(stored=True),
        SPELL_FIELD: TEXT(analyzer=surface_analyzer(), phrase=False),
    }
    for language in LANGUAGES:
        fields[text_field(language)] = TEXT(analyzer=language_analyzer(language), phrase=True)
    return Schema(**fields)


def document_fields(record: ChunkRecord) -> dict[str, str]:
    """The Whoosh document of a chunk."""
    language = record.index_language
    doc = {
        "chunk_id": str(record.chunk_id),
        "doc_key": record.doc_key,
        "doc_type": record.doc_type,
        "language": record.language,
        "tags": ",".join(normalise_tag(t) for t in record.tags),
        "author": str(record.author_id) if record.author_id is not None else "",
        "visibility": record.visibility,
        "pair": str(record.pair_id) if record.pair_id is not None else "",
        "doc_date": record.doc_date.isoformat() if record.doc_date else "",
        text_field(language): indexed_text(record),
    }
    if record.is_public:
        doc[SPELL_FIELD] = doc[text_field(language)]
    return {k: v for k, v in doc.items() if v != ""}


def indexed_text(record: ChunkRecord) -> str:
    """Title on the first line, then the passage (as for embeddings)."""
    return f"{record.title}\n{record.text}" if record.title.strip() else record.text


def _live_word(searcher: Searcher, word: str) -> bool:
    """Does a live (not deleted) chunk hold ``word`` in the spelling vocabulary?"""
    if searcher.reader().frequency(SPELL_FIELD, word) <= 0:
        return False
    return next(iter(searcher.docs_for_query(wq.Term(SPELL_FIELD, word))), None) is not None


class FullTextIndex:
    """A Whoosh index of chunks with a long-lived searcher, refreshed when the index moves.

    Writing goes through :meth:`writer`; callers serialise writers across processes (see
    :mod:`kb.search.indexes.whooshstore`). Reads take an in-process lock because Whoosh readers
    share file handles.
    """

    def __init__(self, ix: windex.Index, config: BM25Config | None = None) -> None:
        self.ix = ix
        self.config = config or BM25Config()
        self._searcher: Searcher | None = None
        self._lock = threading.RLock()
        fields = [text_field(lang) for lang in LANGUAGES]
        self._fields = {name: ix.schema[name].analyzer for name in fields}
        # Allowed document numbers per filter query, for the current searcher only: Whoosh
        # otherwise rebuilds the permission filter's bitset on every search.
        self._allowed: OrderedDict[wq.Query, set[int]] = OrderedDict()
        self._allowed_for: Searcher | None = None

    @classmethod
    def create(cls, path: Path, config: BM25Config | None = None) -> FullTextIndex:
        path.mkdir(parents=True, exist_ok=True)
        return cls(windex.create_in(str(path), build_schema()), config)

    @classmethod
    def open(cls, path: Path, config: BM25Config | None = None) -> FullTextIndex:
        return cls(windex.open_dir(str(path)), config)

    @classmethod
    def in_memory(cls, config: BM25Config | None = None) -> FullTextIndex:
        return cls(PrivateRamStorage().create_index(build_schema()), config)

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def writer(self, limitmb: int = 128, merge: bool = True) -> Iterator[IndexWriter]:
        """A Whoosh writer, committed on success and cancelled on error; ``merge=False`` writes
        its own segment without merging earlier ones."""
        writer = self.ix.writer(limitmb=limitmb)
        writer.merge = merge
        try:
            yield writer
        except BaseException:
            writer.cancel()
            raise
        writer.commit()

    @staticmethod
    def replace_document(writer: IndexWriter, doc_key: str, records: Iterable[ChunkRecord]) -> None:
        """Delete a document's chunks and add ``records`` (none: the document is gone)."""
        writer.delete_by_term("doc_key", doc_key)
        for record in records:
            writer.add_document(**document_fields(record))

    def add(
        self, records: Iterable[ChunkRecord], batch: int = BULK_BATCH, procs: int | None = None
    ) -> None:
        """Bulk add (a fresh index: evaluation and reindex), one new segment per ``batch``.

        Batches keep Whoosh from spilling sorted runs to disk past its memory limit and
        merging them at commit (one commit for everything does, and is far slower at 100,000
        chunks): a batch's postings fit in memory (``BULK_LIMIT_MB``), and each commit writes
        its segments without merging older ones (searches read all segments; later catch-ups
        merge small segments as usual).

        Whoosh's analysis and posting writing are pure Python, so with more than one batch
        in hand ``procs`` processes (default: one per core) each write a segment of their
        own (Whoosh's ``MpWriter``, forked after the language tables are loaded here). A
        build that ends with fewer documents than it was given raises
        :class:`IndexBuildError`; callers build into a new directory, so nothing is swapped in.
        """
        procs = max(1, procs or os.cpu_count() or 1)
        if not isinstance(self.ix.storage, FileStorage):
            procs = 1  # other processes cannot reach an index in this process's memory
        if procs > 1:
            from kb.search.analysis import warm_up

            warm_up()  # forked children inherit the stemmer tables instead of loading them
        pending = iter(records)
        while True:
            part = list(itertools.islice(pending, batch * procs))
            if not part:
                return
            expected = self.ix.doc_count_all() + len(part)
            if len(part) > batch:
                self._add_in_processes(part, batch, procs)
            else:
                # Only its own segment: no rewrite of earlier ones.
                with self.writer(BULK_LIMIT_MB, merge=False) as writer:
                    for record in part:
                        writer.add_document(**document_fields(record))
            if self.ix.doc_count_all() != expected:
                raise IndexBuildError(
                    f"full-text build lost documents: {self.ix.doc_count_all():,} indexed, "
                    f"{expected:,} expected"
                )

    def _add_in_processes(self, part: Sequence[ChunkRecord], batch: int, procs: int) -> None:
        from whoosh.multiproc import MpWriter

        count = min(procs, -(-len(part) // batch))  # processes with a batch's share each
        writer = MpWriter(
            self.ix, procs=count, multisegment=True, limitmb=BULK_LIMIT_MB,
            batchsize=min(100, batch),  # chunks per job handed to a process
        )  # fmt: skip
        put = writer.jobqueue.put

        def put_while_someone_reads(job: object) -> None:
            """Whoosh waits forever for room in the job queue; if every process died, stop."""
            while True:
                try:
                    return put(job, timeout=1)
                except queue.Full:
                    if not any(task.is_alive() for task in writer.tasks):
                        raise IndexBuildError("full-text build processes died") from None

        writer.jobqueue.put = put_while_someone_reads
        try:
            for record in part:
                writer.add_document(**document_fields(record))
            writer.commit(merge=False)
        except BaseException:
            for task in writer.tasks:  # Whoosh's cancel does not reach the child processes
                task.terminate()
            writer.cancel()
            raise

    # -- reading ---------------------------------------------------------------------------

    @contextmanager
    def searcher(self) -> Iterator[Searcher]:
        """The current searcher, reopened first if the index has a newer generation."""
        with self._lock:
            if self._searcher is None:
                self._searcher = self.ix.searcher(weighting=self._weighting())
            elif not self._searcher.up_to_date():
                self._searcher = self._reopen(self._searcher)
            yield self._searcher

    def _weighting(self) -> BM25F:
        return BM25F(B=self.config.b, K1=self.config.k1)

    def _reopen(self, old: Searcher) -> Searcher:
        """A searcher of the index's current segments that keeps the old one's reader of each
        segment whose documents did not change (same segment, as many deletions), so a change
        opens only what it touched (a fresh searcher reads every segment, a hundred in a
        bulk-built index of a million chunks).

        Not ``Searcher.refresh()``: whoosh-reloaded 2.7.5 reuses a segment's reader however
        its deletions changed and keeps segments a merge removed, so a replaced or deleted
        chunk stayed findable, its words suggestible (tested).
        """
        toc = self.ix._read_toc()
        leaves = [reader for reader, _ in old.reader().leaf_readers()]
        kept = {r.segment().segment_id(): r for r in leaves if r.segment() is not None}
        readers = []
        for segment in toc.segments:
            reader = kept.pop(segment.segment_id(), None)
            if reader is None or reader.segment().deleted_count() != segment.deleted_count():
                if reader is not None:
                    kept[segment.segment_id()] = reader  # closed below
                reader = SegmentReader(self.ix.storage, toc.schema, segment, toc.generation)
            readers.append(reader)
        for reader in kept.values():
            reader.close()
        if not readers:
            combined = EmptyReader(toc.schema)
        elif len(readers) == 1 and readers[0].generation() == toc.generation:
            combined = readers[0]
        else:  # a MultiReader carries the generation up_to_date() compares
            combined = MultiReader(readers, generation=toc.generation)
        return Searcher(combined, weighting=self._weighting(), fromindex=self.ix)

    def allowed_docs(self, searcher: Searcher, allow: wq.Query) -> set[int]:
        """Document numbers passing ``allow`` in ``searcher`` (cached until the index moves).

        Shared between searches: callers only test membership, never change it.
        """
        with self._lock:
            if self._allowed_for is not searcher:
                self._allowed.clear()
                self._allowed_for = searcher
            docs = self._allowed.get(allow)
            if docs is None:
                docs = set(searcher.docs_for_query(allow))
                self._allowed[allow] = docs
                while len(self._allowed) > ALLOWED_CACHE_SIZE:
                    self._allowed.popitem(last=False)
            else:
                self._allowed.move_to_end(allow)
            return docs

    def build(self, parsed: ParsedQuery, searcher: Searcher | None = None) -> wq.Query | None:
        """The Whoosh query for ``parsed`` (None when it has no searchable term).

        With a searcher, language fields without any text are left out: analysing an English
        query for an index without Polish documents would only load the slow Polish stemmer.
        """
        fields = self._fields
        if searcher is not None:
            reader = searcher.reader()
            fields = {name: a for name, a in fields.items() if reader.field_length(name)}
        return build_query(parsed, fields)

    def search(
        self, parsed: ParsedQuery, limit: int | None, allow: wq.Query | None = None
    ) -> list[TextHit]:
        """The best ``limit`` chunks passing ``allow``, by BM25."""
        with self.searcher() as searcher:
            query = self.build(parsed, searcher)
            if query is None:
                return []
            docs = self.allowed_docs(searcher, allow) if allow is not None else None
            if docs is not None and not docs:
                return []  # Whoosh reads an empty allow-set as "no filter": never pass one
            results = searcher.search(query, limit=limit, filter=docs)
            return [TextHit(int(h["chunk_id"]), float(h.score), h["doc_key"]) for h in results]

    def phrase_matches(self, parsed: ParsedQuery) -> list[PhraseMatch]:
        """The chunks holding each of the query's quoted phrases, clause by clause, with no
        score and no permission filter: whoever scores them counts only what the user may
        see (Whoosh's own score would count every chunk's statistics, private notes too).
        """
        with self.searcher() as searcher:
            reader = searcher.reader()
            fields = {name: a for name, a in self._fields.items() if reader.field_length(name)}
            languages = {text_field(language): language for language in LANGUAGES}
            matches = []
            for clause in phrase_clauses(parsed, fields):
                docs = list(searcher.docs_for_query(clause))
                chunk_ids = np.fromiter(
                    (int(searcher.stored_fields(d)["chunk_id"]) for d in docs), np.int64, len(docs)
                )
                matches.append(PhraseMatch(languages[clause.fieldname], tuple(clause.words),
                                           clause.boost, chunk_ids))  # fmt: skip
            return matches

    def browse(self, allow: wq.Query) -> list[TextHit]:
        """Every chunk passing ``allow`` (no query: filters only), scored by its date."""
        with self.searcher() as searcher:
            docs = self.allowed_docs(searcher, allow)
            if not docs:
                return []  # see search(): an empty allow-set would mean "no filter"
            results = searcher.search(wq.Every(), limit=None, filter=docs)
            return [
                TextHit(int(h["chunk_id"]), 0.0, h["doc_key"], h.get("doc_date") or "")
                for h in results
            ]

    def vocabulary_has(self, word: str) -> bool:
        """Is ``word`` (lowercased surface form) a word of some live public chunk?"""
        with self.searcher() as searcher:
            return _live_word(searcher, word)

    def suggestions(self, word: str, limit: int = 3, maxdist: int = 2) -> Sequence[str]:
        """Public-vocabulary words close to ``word`` by edit distance (closest, then frequent).

        Whoosh's corrector ranks its candidates by frequency alone (its score ignores the
        distance), so a pool of them is re-ranked by Damerau-Levenshtein distance here (a
        swapped pair of letters is one edit). Whoosh's word list keeps the words of deleted
        chunks until their segment is merged away; a chunk deleted or no longer shared must not
        be suggested, so every candidate is checked against the live chunks."""
        with self.searcher() as searcher:
            corrector = searcher.corrector(SPELL_FIELD)
            pool = corrector.suggest(word, limit=SUGGESTION_POOL, maxdist=maxdist, prefix=1)
            found = sorted(pool, key=lambda w: damerau_levenshtein(word, w))  # stable
            return [w for w in found if _live_word(searcher, w)][:limit]

    def doc_count(self) -> int:
        with self.searcher() as searcher:
            return searcher.doc_count()

    def close(self) -> None:
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None
            self.ix.close()
