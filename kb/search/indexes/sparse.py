"""BM25 over a sparse term matrix: the free-word part of a search without Whoosh's posting loop.

The same terms as the Whoosh index (:func:`kb.search.analysis.index_terms`, one field per
language, the title as the first line of the text) and Whoosh's BM25F formula for a single
field, so its scores and the fusion weights tuned on them carry over:

    idf = ln(N / (df + 1)) + 1
    score = sum over query terms of idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgfl))

with ``dl`` rounded as Whoosh stores it (one byte per length), ``avgfl`` the field's total
length over N (Whoosh divides by every document, not only those of the field) and each term
counted once however often the query repeats it.

One difference is deliberate: N, df and avgfl are counted over the chunks the asking user may
see (public chunks and their own pairs' notes), so a private note changes nothing anyone else
gets, not even a score; quoted phrases too (Whoosh, which knows word positions, only says
which chunks hold a phrase; the phrase is scored here as Whoosh would, the sum of its
terms' BM25 boosted, from the same statistics). Whoosh counts every chunk, deleted ones too
until it merges segments; over public chunks only, freshly built, both agree
(``tests/search/test_sparse.py``).

Layout: a term-major (CSC) matrix of term frequencies for the bulk of the chunks, a small one
for chunks added since, and a mask of live rows. Replacing a document kills its rows and adds
new ones; statistics are computed at query time from the live rows, so they are exact after
any update. The two matrices are merged (dead rows dropped) when the small one grows.
"""

from __future__ import annotations

import threading
from array import array
from collections import Counter, OrderedDict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import sparse
from whoosh.util.numeric import byte_to_length, length_to_byte

from kb.search.analysis import LANGUAGES, index_terms
from kb.search.filters import SearchFilters, matches
from kb.search.indexes.fulltext import BM25Config, PhraseMatch, TextHit, indexed_text
from kb.search.indexes.snapshots import pack_records, pack_strings, unpack_records, unpack_strings
from kb.search.query import ParsedQuery
from kb.search.records import ChunkRecord

# Bump when the analysis or the layout changes: snapshots written by older code are rebuilt.
FORMAT_VERSION = 2
MASK_CACHE_SIZE = 64  # permission and filter masks kept until the index changes
DELTA_ROWS = 5_000  # rows added since the last merge before the next one
DEAD_SHARE = 0.25  # share of dead rows that triggers a merge


def serves(parsed: ParsedQuery) -> bool:
    """Can the sparse index answer this query alone? Quoted phrases need word positions:
    Whoosh scores them and :meth:`SparseIndex.search` adds that (``extra``)."""
    return not parsed.phrases


def stored_length(length: int) -> float:
    """A field length as Whoosh stores it: one byte, exact up to about 100, then rounded."""
    return float(byte_to_length(length_to_byte(length)))


@dataclass(frozen=True)
class Access:
    """Who asks (their pairs' notes are visible) and how they narrow the search."""

    pair_ids: frozenset[int] = frozenset()
    filters: SearchFilters = field(default_factory=SearchFilters)
    author_ids: frozenset[int] | None = None

    @property
    def filtered(self) -> bool:
        return not self.filters.is_empty or self.author_ids is not None


class _Rows:
    """Per-row arrays that grow by doubling (row = one chunk as it was added)."""

    def __init__(self, capacity: int = 1024) -> None:
        self.size = 0
        self.chunk_id = np.zeros(capacity, dtype=np.int64)
        self.field = np.zeros(capacity, dtype=np.int8)  # index into LANGUAGES
        self.length = np.zeros(capacity, dtype=np.int64)  # exact, for the field totals
        self.dl = np.zeros(capacity, dtype=np.float64)  # as Whoosh stores it, for scoring
        self.alive = np.zeros(capacity, dtype=bool)
        self.public = np.zeros(capacity, dtype=bool)
        self.note = np.zeros(capacity, dtype=bool)
        self.pair = np.full(capacity, -1, dtype=np.int64)
        self.kind = np.zeros(capacity, dtype=np.int16)  # doc_type, coded (for filters)
        self.language = np.zeros(capacity, dtype=np.int16)  # the language filter, coded
        self.codes: dict[str, dict[str, int]] = {"kind": {}, "language": {}}
        self.meta: list[ChunkRecord] = []  # filter attributes (no text), doc key, date

    _ARRAYS = ("chunk_id", "field", "length", "dl", "alive", "public", "note", "pair", "kind",
               "language")  # fmt: skip

    def code(self, attribute: str, value: str) -> int:
        table = self.codes[attribute]
        return table.setdefault(value, len(table))

    def coded(self, attribute: str, values: Iterable[str]) -> np.ndarray:
        """Rows whose ``attribute`` is one of ``values``."""
        table = self.codes[attribute]
        wanted = [table[v] for v in values if v in table]
        return np.isin(self.view(attribute), wanted)

    def append(self, record: ChunkRecord, field_index: int, length: int) -> int:
        row = self.size
        if row == len(self.chunk_id):
            for name in self._ARRAYS:
                old = getattr(self, name)
                grown = np.zeros(2 * len(old), dtype=old.dtype)
                grown[: len(old)] = old
                setattr(self, name, grown)
        self.chunk_id[row] = record.chunk_id
        self.field[row] = field_index
        self.length[row] = length
        self.dl[row] = stored_length(length)
        self.alive[row] = True
        self.public[row] = record.is_public
        self.note[row] = record.doc_type == "note"
        self.pair[row] = record.pair_id if record.pair_id is not None else -1
        self.kind[row] = self.code("kind", record.doc_type)
        self.language[row] = self.code("language", record.language)
        self.meta.append(replace(record, title="", text=""))
        self.size += 1
        return row

    def keep(self, rows: np.ndarray) -> None:
        """Keep only ``rows`` (in this order), renumbered from 0."""
        for name in self._ARRAYS:
            old = getattr(self, name)
            kept = np.zeros(max(1024, 2 * len(rows)), dtype=old.dtype)
            kept[: len(rows)] = old[rows]
            setattr(self, name, kept)
        self.meta = [self.meta[i] for i in rows.tolist()]
        self.size = len(rows)

    def view(self, name: str) -> np.ndarray:
        return getattr(self, name)[: self.size]


@dataclass
class _Stats:
    """What one user's searches need, computed once per index version."""

    visible: np.ndarray  # live rows the user may see (the statistics' corpus)
    count: int  # N
    avgfl: np.ndarray  # per field


class SparseIndex:
    """In-memory BM25 index of chunks; not thread-safe for writers (callers hold a lock)."""

    def __init__(self, config: BM25Config | None = None, delta_rows: int = DELTA_ROWS) -> None:
        self.config = config or BM25Config()
        self.delta_rows = delta_rows
        # Per field (language), term -> column; columns are numbered across all fields.
        self.vocabulary: list[dict[str, int]] = [{} for _ in LANGUAGES]
        self._columns = 0
        self.rows = _Rows()
        self.doc_rows: dict[str, list[int]] = {}
        self._main = sparse.csc_matrix((0, 0), dtype=np.float32)
        self._main_rows = 0  # rows below this live in the main matrix
        # row, column, tf
        self._delta_postings: tuple[array[Any], array[Any], array[Any]] = (
            array("i"),
            array("i"),
            array("f"),
        )
        self._delta: sparse.csc_matrix | None = None
        self._dead = 0
        self._field_seen = np.zeros(len(LANGUAGES), dtype=bool)
        self._stats: OrderedDict[frozenset[int], _Stats] = OrderedDict()
        self._masks: OrderedDict[Access, np.ndarray] = OrderedDict()
        self._lock = threading.RLock()

    def to_arrays(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The index as plain data (small facts, arrays) for a snapshot; see :meth:`from_arrays`.
        Most arrays are views of the index's own: write them before the index changes."""
        with self._lock:
            rows = self.rows
            facts = {"size": rows.size, "codes": rows.codes, "main_rows": self._main_rows,
                     "main_shape": list(self._main.shape), "dead": self._dead,
                     "delta_rows": self.delta_rows, "columns": self._columns}  # fmt: skip
            arrays = {f"rows.{name}": rows.view(name) for name in rows._ARRAYS}
            arrays.update(pack_records("meta", rows.meta))
            for field_index, terms in enumerate(self.vocabulary):
                prefix = f"vocabulary.{LANGUAGES[field_index]}"
                arrays.update(pack_strings(f"{prefix}.term", list(terms)))
                arrays[f"{prefix}.column"] = np.fromiter(terms.values(), np.int64, len(terms))
            arrays["main.data"] = self._main.data
            arrays["main.indices"] = self._main.indices
            arrays["main.indptr"] = self._main.indptr
            # Copies: a view would keep the growing array.array from resizing.
            delta_row, delta_column, delta_tf = self._delta_postings
            arrays["delta.row"] = np.array(delta_row, dtype=np.intc)
            arrays["delta.column"] = np.array(delta_column, dtype=np.intc)
            arrays["delta.tf"] = np.array(delta_tf, dtype=np.float32)
            arrays["field_seen"] = self._field_seen
            return facts, arrays

    @classmethod
    def from_arrays(cls, facts: Mapping[str, Any], arrays: Mapping[str, np.ndarray],
                    config: BM25Config | None = None) -> SparseIndex:  # fmt: skip
        """The index :meth:`to_arrays` described, ready to search (ValueError, KeyError:
        the data does not describe an index)."""
        index = cls(config, int(facts["delta_rows"]))
        size = int(facts["size"])
        rows = index.rows
        capacity = max(1024, size)
        for name in rows._ARRAYS:
            stored = arrays[f"rows.{name}"]
            if len(stored) != size:
                raise ValueError(f"rows.{name} holds {len(stored)} rows, not {size}")
            column = np.zeros(capacity, dtype=getattr(rows, name).dtype)
            column[:size] = stored
            setattr(rows, name, column)
        rows.size = size
        rows.codes = {kind: {str(k): int(v) for k, v in table.items()}
                      for kind, table in facts["codes"].items()}  # fmt: skip
        rows.meta = unpack_records(arrays, "meta")
        if len(rows.meta) != size:
            raise ValueError(f"{len(rows.meta)} records for {size} rows")
        for field_index, language in enumerate(LANGUAGES):
            terms = unpack_strings(arrays, f"vocabulary.{language}.term")
            columns = arrays[f"vocabulary.{language}.column"].tolist()
            index.vocabulary[field_index] = dict(zip(terms, columns, strict=True))
        index._columns = int(facts["columns"])
        for row in np.flatnonzero(rows.view("alive")).tolist():
            index.doc_rows.setdefault(rows.meta[row].doc_key, []).append(row)
        index._main = sparse.csc_matrix(
            (arrays["main.data"], arrays["main.indices"], arrays["main.indptr"]),
            shape=tuple(facts["main_shape"]),
        )
        index._main_rows = int(facts["main_rows"])
        index._delta_postings = (
            array("i", arrays["delta.row"].astype(np.intc).tobytes()),
            array("i", arrays["delta.column"].astype(np.intc).tobytes()),
            array("f", arrays["delta.tf"].astype(np.float32).tobytes()),
        )
        index._dead = int(facts["dead"])
        index._field_seen = np.asarray(arrays["field_seen"], dtype=bool)
        index._matrices()  # the delta as a matrix, so the first search finds it ready
        return index

    @classmethod
    def build(cls, records: Iterable[ChunkRecord], config: BM25Config | None = None
              ) -> SparseIndex:  # fmt: skip
        index = cls(config)
        index.add(records)
        return index

    # -- writing ---------------------------------------------------------------------------

    def __len__(self) -> int:
        """Live chunks."""
        return int(self.rows.size - self._dead)

    def add(self, records: Iterable[ChunkRecord]) -> None:
        """Add chunks (their documents must not be in the index yet: see replace_document)."""
        with self._lock:
            for record in records:
                self._append(record)
            self._changed()

    def replace_document(self, doc_key: str, records: Iterable[ChunkRecord]) -> None:
        """A document's chunks are now ``records`` (none: the document is gone)."""
        with self._lock:
            for row in self.doc_rows.pop(doc_key, []):
                self.rows.alive[row] = False
                self._dead += 1
            for record in records:
                self._append(record)
            self._changed()

    def delete_document(self, doc_key: str) -> None:
        self.replace_document(doc_key, [])

    def _append(self, record: ChunkRecord) -> None:
        language = record.index_language
        field_index = LANGUAGES.index(language)
        counts = Counter(index_terms(indexed_text(record), language))
        row = self.rows.append(record, field_index, sum(counts.values()))
        self.doc_rows.setdefault(record.doc_key, []).append(row)
        rows, columns, tfs = self._delta_postings
        vocabulary = self.vocabulary[field_index]
        for term, tf in counts.items():
            column = vocabulary.get(term)
            if column is None:
                column = vocabulary[term] = self._columns
                self._columns += 1
            rows.append(row)
            columns.append(column)
            tfs.append(tf)
        if counts:
            self._field_seen[field_index] = True

    def _changed(self) -> None:
        """Forget cached masks and statistics; merge when the delta or dead rows grew."""
        self._delta = None
        self._stats.clear()
        self._masks.clear()
        delta = self.rows.size - self._main_rows
        if (
            delta >= self.delta_rows
            or delta >= self._main_rows
            or (self._dead > DEAD_SHARE * max(1, self.rows.size))
        ):
            self._merge()

    def _merge(self) -> None:
        """One matrix of the live rows: the main and the delta postings, dead rows dropped."""
        live = np.flatnonzero(self.rows.view("alive"))
        renumber = np.full(self.rows.size, -1, dtype=np.int32)
        renumber[live] = np.arange(len(live), dtype=np.int32)
        main = self._main.tocoo()
        delta_rows, delta_columns, delta_tfs = (np.frombuffer(a, dtype=a.typecode)
                                                for a in self._delta_postings)  # fmt: skip
        rows = np.concatenate([main.row.astype(np.int32), delta_rows])
        columns = np.concatenate([main.col.astype(np.int32), delta_columns])
        tfs = np.concatenate([main.data.astype(np.float32), delta_tfs])
        keep = renumber[rows] >= 0
        shape = (len(live), self._columns)
        self._main = sparse.csc_matrix((tfs[keep], (renumber[rows[keep]], columns[keep])), shape)
        self._main.sort_indices()
        self.rows.keep(live)
        self.doc_rows = {}
        for row, record in enumerate(self.rows.meta):
            self.doc_rows.setdefault(record.doc_key, []).append(row)
        self._main_rows = len(live)
        self._delta_postings = (array("i"), array("i"), array("f"))
        self._delta = None
        self._dead = 0

    def _matrices(self) -> list[sparse.csc_matrix]:
        if self._delta is None and len(self._delta_postings[0]):
            rows, columns, tfs = (np.frombuffer(a, dtype=a.typecode) for a in self._delta_postings)
            shape = (self.rows.size, self._columns)
            self._delta = sparse.csc_matrix((tfs, (rows, columns)), shape)
        return [m for m in (self._main, self._delta) if m is not None and m.nnz]

    # -- who may see what ------------------------------------------------------------------

    def _statistics(self, pair_ids: frozenset[int]) -> _Stats:
        """N and average field lengths over the live rows visible to members of ``pair_ids``."""
        stats = self._stats.get(pair_ids)
        if stats is None:
            rows = self.rows
            visible = rows.view("alive") & rows.view("public")
            if pair_ids:
                mine = rows.view("note") & np.isin(rows.view("pair"), list(pair_ids))
                visible |= rows.view("alive") & mine
            count = int(visible.sum())
            totals = np.bincount(rows.view("field")[visible], rows.view("length")[visible],
                                 minlength=len(LANGUAGES))  # fmt: skip
            avgfl = totals / max(count, 1)
            avgfl[avgfl == 0] = 1.0  # Whoosh: "avg_field_length(...) or 1"
            stats = _Stats(visible, count, avgfl)
            self._stats[pair_ids] = stats
            while len(self._stats) > MASK_CACHE_SIZE:
                self._stats.popitem(last=False)
        else:
            self._stats.move_to_end(pair_ids)
        return stats

    def allowed_rows(self, access: Access) -> np.ndarray:
        """Boolean mask of the rows ``access`` may score and return (permission AND filters)."""
        visible = self._statistics(access.pair_ids).visible
        if not access.filtered:
            return visible
        mask = self._masks.get(access)
        if mask is None:
            filters = access.filters
            mask = visible.copy()
            # Cheap array tests first; matches() (the one filter rule) decides on what is left.
            if filters.doc_types:
                mask &= self.rows.coded("kind", filters.doc_types)
            if filters.languages:
                mask &= self.rows.coded("language", filters.languages)
            for row in np.flatnonzero(mask).tolist():
                mask[row] = matches(self.rows.meta[row], filters, access.author_ids)
            self._masks[access] = mask
            while len(self._masks) > MASK_CACHE_SIZE:
                self._masks.popitem(last=False)
        else:
            self._masks.move_to_end(access)
        return mask

    # -- searching -------------------------------------------------------------------------

    def query_columns(self, text: str) -> list[tuple[int, int]]:
        """(field, column) of each distinct analysed query term, on fields holding text."""
        found = []
        for field_index, language in enumerate(LANGUAGES):
            if not self._field_seen[field_index]:
                continue  # as Whoosh: no analysis (or slow stemmer load) for an empty field
            for term in dict.fromkeys(index_terms(text, language)):
                column = self.vocabulary[field_index].get(term)
                if column is not None:
                    found.append((field_index, column))
        return found

    def _postings(self, column: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, term frequencies) of one term, from the main and the delta matrix."""
        parts = []
        for matrix in self._matrices():
            if column < matrix.shape[1]:
                start, end = matrix.indptr[column], matrix.indptr[column + 1]
                if end > start:
                    parts.append((matrix.indices[start:end], matrix.data[start:end]))
        if not parts:
            return np.zeros(0, dtype=np.int32), np.zeros(0)
        rows = np.concatenate([r for r, _ in parts])
        return rows, np.concatenate([t for _, t in parts]).astype(np.float64)

    def _weights(self, field_index: int, rows: np.ndarray, tfs: np.ndarray, df: int,
                 stats: _Stats) -> np.ndarray:  # fmt: skip
        """BM25 of one term (document frequency ``df``) in ``rows``."""
        k1, b = self.config.k1, self.config.b
        idf = np.log(stats.count / (df + 1)) + 1.0
        norm = k1 * ((1.0 - b) + b * self.rows.view("dl")[rows] / stats.avgfl[field_index])
        return idf * tfs * (k1 + 1.0) / (tfs + norm)

    def scores(self, text: str, access: Access) -> tuple[np.ndarray, np.ndarray]:
        """(rows, BM25 scores) of every allowed row containing a query term (rows ascending)."""
        with self._lock:
            stats = self._statistics(access.pair_ids)
            allowed = self.allowed_rows(access)
            hit_rows: list[np.ndarray] = []
            weights: list[np.ndarray] = []
            for field_index, column in self.query_columns(text):
                rows, tfs = self._postings(column)
                df = int(np.count_nonzero(stats.visible[rows]))
                if not df:
                    continue
                keep = allowed[rows]
                rows, tfs = rows[keep], tfs[keep]
                hit_rows.append(rows)
                weights.append(self._weights(field_index, rows, tfs, df, stats))
            if not hit_rows:
                return np.zeros(0, dtype=np.int64), np.zeros(0)
            rows = np.concatenate(hit_rows)
            summed = np.concatenate(weights)
            if len(rows) * 16 < self.rows.size:  # few postings: sort them
                unique, inverse = np.unique(rows, return_inverse=True)
                return unique, np.bincount(inverse, weights=summed)
            # Many: a dense accumulator is linear (every weight is > 0, so rows hit are nonzero).
            dense = np.bincount(rows, weights=summed, minlength=self.rows.size)
            unique = np.flatnonzero(dense)
            return unique, dense[unique]

    def unknown_words(self, words: Sequence[str], access: Access) -> list[str]:
        """Those of ``words`` that no row ``access`` may see holds in any form: none of the
        word's analysed terms, in any language the index has text in, is in an allowed row.
        A stop word (one that a language's analyser drops) is never unknown."""
        with self._lock:
            allowed = self.allowed_rows(access)
            seen = [(f, lang) for f, lang in enumerate(LANGUAGES) if self._field_seen[f]]
            unknown = []
            for word in words:
                terms = [(f, index_terms(word, lang)) for f, lang in seen]
                if any(not found for _, found in terms):
                    continue
                columns = [self.vocabulary[f].get(t) for f, found in terms for t in found]
                if not any(c is not None and allowed[self._postings(c)[0]].any() for c in columns):
                    unknown.append(word)
            return unknown

    def holds_all_terms(self, text: str, rows: np.ndarray) -> np.ndarray:
        """Which of ``rows`` hold every distinct analysed term of ``text`` in their own
        field's language (a query of stop words only is held by none)."""
        with self._lock:
            held = np.zeros(len(rows), dtype=bool)
            fields = self.rows.view("field")[rows]
            for field_index, language in enumerate(LANGUAGES):
                mine = np.flatnonzero(fields == field_index)
                if not len(mine):
                    continue
                terms = list(dict.fromkeys(index_terms(text, language)))
                columns = [self.vocabulary[field_index].get(term) for term in terms]
                if not terms or None in columns:
                    continue
                holding = np.ones(len(mine), dtype=bool)
                for column in columns:
                    assert column is not None
                    holding &= np.isin(rows[mine], self._postings(column)[0])
                held[mine] = holding
            return held

    def phrase_scores(self, rows: np.ndarray, phrases: Sequence[PhraseMatch], access: Access
                      ) -> np.ndarray:  # fmt: skip
        """What the quoted phrases add to each of ``rows``, as Whoosh scores a phrase (the sum
        of its terms' BM25, boosted) but with the statistics of what the user may see."""
        with self._lock:
            stats = self._statistics(access.pair_ids)
            added = np.zeros(len(rows))
            chunk_ids = self.rows.view("chunk_id")[rows]
            for match in phrases:
                where = np.flatnonzero(np.isin(chunk_ids, match.chunk_ids))
                if not len(where):
                    continue
                field_index = LANGUAGES.index(match.language)
                for term in match.terms:  # a repeated word counts again, as in Whoosh
                    column = self.vocabulary[field_index].get(term)
                    if column is None:
                        continue
                    term_rows, tfs = self._postings(column)
                    df = int(np.count_nonzero(stats.visible[term_rows]))
                    if len(term_rows) > 1 and (np.diff(term_rows) < 0).any():
                        order = np.argsort(term_rows, kind="stable")  # (postings come sorted)
                        term_rows, tfs = term_rows[order], tfs[order]
                    at = np.minimum(np.searchsorted(term_rows, rows[where]), len(term_rows) - 1)
                    holds = term_rows[at] == rows[where]  # a chunk holding the phrase does
                    hit, at = where[holds], at[holds]
                    added[hit] += match.boost * self._weights(
                        field_index, rows[hit], tfs[at], df, stats
                    )
            return added

    def search(
        self,
        parsed: ParsedQuery,
        limit: int | None,
        access: Access,
        phrases: Sequence[PhraseMatch] = (),
    ) -> list[TextHit]:
        """The best ``limit`` allowed chunks by BM25 over the query's words (OR), plus what
        the query's quoted ``phrases`` add where they occur (Whoosh knows word positions and
        says which chunks hold a phrase; those chunks hold its words, so they are among the
        rows found here).
        """
        with self._lock:
            rows, scores = self.scores(parsed.text, access)
            chunk_ids = self.rows.view("chunk_id")[rows]
            if phrases:
                scores = scores + self.phrase_scores(rows, phrases, access)
            if limit is not None and len(rows) > limit:
                if limit <= 0:
                    return []
                # Everything tied with the limit-th best, then ties by chunk id (Whoosh's order
                # for an index built in chunk-id order).
                threshold = np.partition(scores, len(scores) - limit)[len(scores) - limit]
                top = np.flatnonzero(scores >= threshold)
                rows, scores, chunk_ids = rows[top], scores[top], chunk_ids[top]
            order = np.lexsort((chunk_ids, -scores))
            if limit is not None:
                order = order[:limit]
            meta = self.rows.meta
            whole = self.holds_all_terms(parsed.text, rows[order])
            return [
                TextHit(int(chunk_ids[i]), float(scores[i]), meta[rows[i]].doc_key,
                        all_words=bool(held))
                for i, held in zip(order.tolist(), whole.tolist(), strict=True)
            ]  # fmt: skip

    def browse(self, access: Access) -> list[TextHit]:
        """Every allowed chunk (no words: filters only), with its date, score 0."""
        with self._lock:
            meta = self.rows.meta
            chunk_ids = self.rows.view("chunk_id")
            return [
                TextHit(int(chunk_ids[row]), 0.0, meta[row].doc_key,
                        d.isoformat() if (d := meta[row].doc_date) else "")
                for row in np.flatnonzero(self.allowed_rows(access)).tolist()
            ]  # fmt: skip

    def chunk_ids(self, access: Access) -> Collection[int]:
        """Ids of the chunks ``access`` may see (for tests and checks)."""
        with self._lock:
            return set(self.rows.view("chunk_id")[self.allowed_rows(access)].tolist())
