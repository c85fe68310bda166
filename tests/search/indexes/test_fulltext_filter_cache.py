"""The per-searcher cache of allowed documents (a speed fix from the benchmarks)."""

from __future__ import annotations

from kb.search.filters import permission_query
from kb.search.indexes.fulltext import FullTextIndex
from kb.search.query import parse_query
from kb.search.records import ChunkRecord


def note(chunk_id: int, pair_id: int, text: str) -> ChunkRecord:
    return ChunkRecord(chunk_id, f"note:{chunk_id}", "note", "en", "Notes", text, pair_id=pair_id)


def guide(chunk_id: int, text: str) -> ChunkRecord:
    return ChunkRecord(chunk_id, f"guide:{chunk_id}", "guide", "en", "Guide", text)


def test_nothing_allowed_finds_nothing_even_though_whoosh_reads_empty_sets_as_no_filter():
    index = FullTextIndex.in_memory()
    index.add([note(1, 7, "Zyxelgate budget plan"), note(2, 8, "Zyxelgate again")])
    parsed = parse_query("Zyxelgate")
    assert index.search(parsed, 10, permission_query(())) == []
    assert [h.chunk_id for h in index.search(parsed, 10, permission_query({7}))] == [1]
    assert index.search(parsed, 10, permission_query(())) == []


def test_allowed_documents_follow_the_index_when_it_changes():
    index = FullTextIndex.in_memory()
    index.add([guide(1, "spreadsheet pivot tables"), note(2, 7, "spreadsheet secrets")])
    parsed = parse_query("spreadsheet")
    public = permission_query(())
    assert [h.chunk_id for h in index.search(parsed, 10, public)] == [1]
    index.add([guide(3, "spreadsheet macros")])
    assert sorted(h.chunk_id for h in index.search(parsed, 10, public)) == [1, 3]
