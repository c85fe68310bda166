"""Whoosh full-text index: language fields, phrases, permissions and filters, vocabulary."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from dataclasses import replace

import pytest
from whoosh import query as wq

from kb.search.filters import SearchFilters, allowed, combined_query, matches
from kb.search.indexes.fulltext import FullTextIndex
from kb.search.query import parse_query
from kb.search.records import ChunkRecord

RECORDS = [
    ChunkRecord(1, "guide:1", "guide", "en", "Prompting basics",
                "How to write prompts for large language models. State of the art prompting.",
                ("AI",), 5, dt.date(2024, 1, 2)),
    ChunkRecord(2, "guide:2", "guide", "pl", "Sztuczna inteligencja",
                "Najlepszymi pracownikami są ludzie, którzy używają ChatGPT w pracy.",
                ("AI", "Social media"), 6, dt.date(2024, 2, 2)),
    ChunkRecord(3, "note:1", "note", "ru", "Заметка", "Книги о программировании Zyxelgate",
                (), 5, dt.date(2024, 3, 1), pair_id=7),
    ChunkRecord(4, "insight:1", "insight", "ru", "Совет", "Программирование с ChatGPT",
                ("AI",), 6, dt.date(2024, 3, 5)),
]  # fmt: skip


@pytest.fixture(scope="module")
def index() -> FullTextIndex:
    ft = FullTextIndex.in_memory()
    ft.add(RECORDS)
    return ft


def ids(index: FullTextIndex, text: str, pair_ids: tuple[int, ...] = ()) -> list[int]:
    allow = combined_query(pair_ids, None, None)
    return [hit.chunk_id for hit in index.search(parse_query(text), 10, allow)]


def test_stemmed_matches_per_language(index: FullTextIndex) -> None:
    assert ids(index, "prompt") == [1]
    assert ids(index, "pracownik") == [2]  # Polish inflection
    assert ids(index, "программированию") == [4]  # Russian inflection, note hidden


def test_identical_words_cross_languages(index: FullTextIndex) -> None:
    # A Polish or Russian query finds other languages' content through shared words.
    assert set(ids(index, "ChatGPT")) == {2, 4}


def test_title_is_searchable(index: FullTextIndex) -> None:
    assert ids(index, "basics") == [1]


def test_exact_phrases_rank_first() -> None:
    ft = FullTextIndex.in_memory()
    ft.add(
        [
            ChunkRecord(1, "a", "guide", "en", "", "the art of state methods, art and state"),
            ChunkRecord(2, "b", "guide", "en", "", "state of the art methods"),
        ]
    )
    assert ids(ft, "state of the art") == [1, 2]  # more of the words
    assert ids(ft, '"state of the art"') == [2, 1]  # the exact phrase wins
    assert ids(ft, '"art state"') == [1, 2]  # a phrase nobody has still finds the words


def test_question_mark_and_operators_change_nothing(index: FullTextIndex) -> None:
    assert ids(index, "prompts?") == ids(index, "prompts") == [1]
    assert ids(index, "prompts AND NOT ChatGPT") == ids(index, "prompts and not chatgpt")


def test_private_note_only_for_its_pair(index: FullTextIndex) -> None:
    assert ids(index, "Zyxelgate") == []
    assert ids(index, "Zyxelgate", (8,)) == []
    assert ids(index, "Zyxelgate", (7,)) == [3]


def test_spelling_vocabulary_is_public_only(index: FullTextIndex) -> None:
    assert index.vocabulary_has("chatgpt")
    assert not index.vocabulary_has("zyxelgate")
    assert "prompts" in index.suggestions("promts")
    assert index.suggestions("zyxelgat") == []


def test_suggestions_closest_first_then_most_frequent() -> None:
    """Whoosh's corrector alone would offer the frequent word two edits away first."""
    ft = FullTextIndex.in_memory()
    records = [
        replace(RECORDS[0], chunk_id=20 + i, doc_key=f"guide:{20 + i}", text="Tablets. " * 3)
        for i in range(4)
    ]
    ft.add([*records, replace(RECORDS[0], chunk_id=30, doc_key="guide:30", text="One table.")])
    assert ft.suggestions("tabls", limit=2) == ["table", "tablets"]
    assert ft.suggestions("tablts", limit=2) == ["tablets", "table"]


def test_replace_and_delete_a_document() -> None:
    ft = FullTextIndex.in_memory()
    ft.add(RECORDS)
    changed = replace(RECORDS[0], chunk_id=10, title="Sheets", text="Now about spreadsheets.")
    with ft.writer() as writer:
        ft.replace_document(writer, "guide:1", [changed])
        ft.replace_document(writer, "guide:2", [])
    assert ids(ft, "prompts") == []
    assert ids(ft, "spreadsheets") == [10]
    assert ids(ft, "pracownik") == []


def test_changes_after_a_search_are_seen_by_the_next_one(tmp_path) -> None:
    """The searcher open since the last search is replaced, not refreshed: whoosh-reloaded's
    refresh kept deleted documents live and segments a merge had removed."""
    ft = FullTextIndex.create(tmp_path / "ix")
    ft.add(RECORDS)
    assert ids(ft, "prompts") == [1] and ft.vocabulary_has("prompts")  # a searcher is open
    with ft.writer() as writer:
        ft.replace_document(
            writer, "guide:1", [replace(RECORDS[0], title="Sheets", text="Now spreadsheets.")]
        )
        ft.replace_document(writer, "guide:2", [])
    assert ids(ft, "prompts") == [] and not ft.vocabulary_has("prompts")
    assert ids(ft, "pracownik") == [] and not ft.vocabulary_has("pracownikami")
    assert "prompts" not in ft.suggestions("promptz")  # a deleted chunk's word is not offered
    assert "spreadsheets" in ft.suggestions("spreadsheetz")
    phrase = ft.phrase_matches(parse_query('"state of the art"'))
    assert phrase and all(len(m.chunk_ids) == 0 for m in phrase)
    for i in range(20):  # small commits: Whoosh merges their segments along the way
        record = replace(RECORDS[3], chunk_id=100 + i, doc_key=f"insight:{100 + i}")
        with ft.writer() as writer:
            ft.replace_document(writer, record.doc_key, [record])
        assert ft.doc_count() == 3 + i + 1, i  # no segment counted twice, none left behind
    ft.close()


def test_a_change_reopens_only_the_segments_it_touched(tmp_path) -> None:
    ft = FullTextIndex.create(tmp_path / "ix")

    def commit(key: str, records: list) -> None:  # one new segment, no merging
        with ft.writer(merge=False) as writer:
            ft.replace_document(writer, key, records)

    def leaves() -> list:
        with ft.searcher() as searcher:
            return [reader for reader, _ in searcher.reader().leaf_readers()]

    for record in RECORDS:
        commit(record.doc_key, [record])
    before = leaves()
    assert len(before) == 4
    commit("guide:5", [replace(RECORDS[0], chunk_id=5, doc_key="guide:5", text="Spreadsheets.")])
    after = leaves()
    assert after[:4] == before and len(after) == 5  # the same readers, one new
    commit("guide:2", [])
    again = leaves()
    assert again[1] is not before[1]  # its deletions changed: read again
    assert [again[i] for i in (0, 2, 3, 4)] == [before[0], before[2], before[3], after[4]]
    fresh = FullTextIndex.open(tmp_path / "ix")
    for text in ("prompts", "pracownik", "spreadsheets", "ChatGPT", '"state of the art"'):
        assert ids(ft, text) == ids(fresh, text), text
    assert ids(ft, "pracownik") == [] and ft.doc_count() == fresh.doc_count() == 4
    fresh.close()
    ft.close()


def random_filters(rng: random.Random) -> SearchFilters:
    def some(values: tuple) -> tuple:  # noqa: ANN001
        return tuple(rng.sample(values, rng.randint(0, 2)))

    dates = [None, dt.date(2024, 1, 15), dt.date(2024, 3, 1), dt.date(2024, 3, 5)]
    return SearchFilters(
        doc_types=some(("guide", "note", "insight")),
        tags=some(("ai", "Social  Media", "none")),
        languages=some(("en", "pl", "ru")),
        date_from=rng.choice(dates),
        date_to=rng.choice(dates),
    )


def test_whoosh_filters_agree_with_record_filters(index: FullTextIndex) -> None:
    rng = random.Random(4)
    pair_sets = [(), (7,), (8, 9)]
    authors = [None, {5}, {6}, set()]
    with index.searcher() as searcher:
        for _ in range(300):
            filters = random_filters(rng)
            pairs = rng.choice(pair_sets)
            author_ids = rng.choice(authors)
            hits = searcher.search(
                wq.Every(), limit=None, filter=combined_query(pairs, filters, author_ids)
            )
            got = {int(h["chunk_id"]) for h in hits}
            want = {
                r.chunk_id for r in RECORDS if allowed(r, pairs) and matches(r, filters, author_ids)
            }
            assert got == want, (filters, pairs, author_ids)


def test_note_without_pair_is_visible_to_nobody() -> None:
    orphan = ChunkRecord(1, "note:9", "note", "en", "t", "orphan words", pair_id=None)
    assert not orphan.is_public
    assert not any(allowed(orphan, pairs) for pairs in itertools.chain([()], [(1,), (2, 3)]))


def test_bulk_add_in_batches_equals_one_batch() -> None:
    records = [
        replace(RECORDS[i % 2], chunk_id=i, doc_key=f"guide:{i}", text=f"{'budget ' * i}prompts")
        for i in range(1, 12)
    ]
    one, many = FullTextIndex.in_memory(), FullTextIndex.in_memory()
    one.add(records)
    many.add(records, batch=3)
    with many.searcher() as searcher:
        assert len(searcher.reader().leaf_readers()) == 4  # 3 + 3 + 3 + 2, none merged
    for query in ("budget prompts", "prompts", "pracownik"):
        allow = combined_query((), None, None)
        got = [(h.chunk_id, round(h.score, 9)) for h in many.search(parse_query(query), 5, allow)]
        assert got == [
            (h.chunk_id, round(h.score, 9)) for h in one.search(parse_query(query), 5, allow)
        ]
    assert many.doc_count() == one.doc_count() == 11


def on_disk(tmp_path, name: str) -> FullTextIndex:
    return FullTextIndex.create(tmp_path / name)


def bulk_records(count: int) -> list[ChunkRecord]:
    return [
        replace(RECORDS[i % 4], chunk_id=i, doc_key=f"doc:{i}",
                text=f"{RECORDS[i % 4].text} {'budget ' * (i % 5)}prompts {i}")
        for i in range(1, count + 1)
    ]  # fmt: skip


def test_bulk_add_in_processes_equals_one_process(tmp_path, monkeypatch) -> None:
    records = bulk_records(23)
    alone, parallel = on_disk(tmp_path, "alone"), on_disk(tmp_path, "parallel")
    alone.add(records, procs=1)
    rounds: list[int] = []
    in_processes = FullTextIndex._add_in_processes
    monkeypatch.setattr(
        FullTextIndex, "_add_in_processes",
        lambda self, part, *args: rounds.append(len(part)) or in_processes(self, part, *args),
    )  # fmt: skip
    parallel.add(records, batch=4, procs=2)  # rounds of 8: jobs of 4 chunks for 2 processes
    assert rounds == [8, 8, 7]
    with parallel.searcher() as searcher:
        assert 3 <= len(searcher.reader().leaf_readers()) <= 6  # a segment per process, unmerged
    assert parallel.doc_count() == alone.doc_count() == 23
    for query in ("budget prompts", "prompts 17", "pracownik", "программирование", '"state of"'):
        for pairs in ((), (7,)):
            allow = combined_query(pairs, None, None)
            # Equal scores come in index order, which depends on which process finished
            # first: compare the hits with ties put in chunk order.
            got, want = (
                sorted(
                    (
                        (h.chunk_id, round(h.score, 9))
                        for h in i.search(parse_query(query), 30, allow)
                    ),
                    key=lambda hit: (-hit[1], hit[0]),
                )  # fmt: skip
                for i in (parallel, alone)
            )
            assert got == want and got, query


def test_bulk_add_that_loses_a_process_raises(tmp_path, monkeypatch) -> None:
    from whoosh.multiproc import SubWriterTask

    from kb.search.indexes.fulltext import IndexBuildError

    def fail(self, filename, doc_count):  # noqa: ANN001 - runs in the forked child
        raise MemoryError("a build process ran out of memory")

    monkeypatch.setattr(SubWriterTask, "_process_file", fail)
    index = on_disk(tmp_path, "broken")
    with pytest.raises(IndexBuildError, match="lost documents|processes died"):
        index.add(bulk_records(9), batch=4, procs=2)
