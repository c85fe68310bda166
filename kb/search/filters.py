"""Search filters and the permission rule, expressed once for Whoosh and once for plain records.

Both forms must agree; tests check that they do. Permission: public chunks for everyone, a
private (note) chunk only for the members of its pair. HR and anonymous users see public only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from whoosh import query as wq

from kb.search.records import PUBLIC, ChunkRecord


@dataclass(frozen=True)
class SearchFilters:
    """Narrow a search. Within one attribute any listed value matches; attributes combine."""

    doc_types: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    author_email: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    @property
    def is_empty(self) -> bool:
        return self == SearchFilters()


def normalise_tag(tag: str) -> str:
    return " ".join(tag.lower().split())


def allowed(record: ChunkRecord, pair_ids: Collection[int]) -> bool:
    """May someone in pairs ``pair_ids`` see this chunk?"""
    if record.is_public:
        return True
    return record.doc_type == "note" and record.pair_id is not None and record.pair_id in pair_ids


def matches(
    record: ChunkRecord, filters: SearchFilters, author_ids: Collection[int] | None
) -> bool:
    """Does the record pass ``filters``? ``author_ids`` is the resolved author email (or None)."""
    if filters.doc_types and record.doc_type not in filters.doc_types:
        return False
    if filters.languages and record.language not in filters.languages:
        return False
    if filters.tags:
        wanted = {normalise_tag(t) for t in filters.tags}
        if not wanted.intersection(normalise_tag(t) for t in record.tags):
            return False
    if author_ids is not None and record.author_id not in author_ids:
        return False
    if filters.date_from or filters.date_to:
        if record.doc_date is None:
            return False
        if filters.date_from and record.doc_date < filters.date_from:
            return False
        if filters.date_to and record.doc_date > filters.date_to:
            return False
    return True


def permission_query(pair_ids: Collection[int]) -> wq.Query:
    """Whoosh form of :func:`allowed`."""
    public = wq.Term("visibility", PUBLIC)
    if not pair_ids:
        return public
    mine = wq.And(
        [wq.Term("doc_type", "note"), wq.Or([wq.Term("pair", str(p)) for p in sorted(pair_ids)])]
    )
    return wq.Or([public, mine])


def filter_query(filters: SearchFilters, author_ids: Collection[int] | None) -> wq.Query | None:
    """Whoosh form of :func:`matches` (None when nothing is filtered)."""
    parts: list[wq.Query] = []
    if filters.doc_types:
        parts.append(wq.Or([wq.Term("doc_type", t) for t in filters.doc_types]))
    if filters.languages:
        parts.append(wq.Or([wq.Term("language", lang) for lang in filters.languages]))
    if filters.tags:
        parts.append(wq.Or([wq.Term("tags", normalise_tag(t)) for t in filters.tags]))
    if author_ids is not None:
        parts.append(
            wq.Or([wq.Term("author", str(a)) for a in sorted(author_ids)])
            if author_ids
            else wq.NullQuery
        )
    if filters.date_from or filters.date_to:
        start = filters.date_from.isoformat() if filters.date_from else None
        end = filters.date_to.isoformat() if filters.date_to else None
        parts.append(wq.TermRange("doc_date", start, end))
    if not parts:
        return None
    return wq.And(parts) if len(parts) > 1 else parts[0]


def combined_query(
    pair_ids: Collection[int], filters: SearchFilters | None, author_ids: Collection[int] | None
) -> wq.Query:
    """Permission AND filters: what a search for this user may return."""
    permission = permission_query(pair_ids)
    extra = filter_query(filters, author_ids) if filters else None
    return wq.And([permission, extra]) if extra is not None else permission
