"""Sparse-matrix BM25: Whoosh's scores, permissions, filters, updates, brute-force checks."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from collections import Counter
from dataclasses import replace

import pytest

from kb.search.analysis import LANGUAGES, analyse, index_terms
from kb.search.filters import SearchFilters, allowed, combined_query, matches
from kb.search.indexes.fulltext import BM25Config, FullTextIndex, indexed_text
from kb.search.indexes.sparse import Access, SparseIndex, serves, stored_length
from kb.search.query import parse_query
from kb.search.records import ChunkRecord

WORDS = {
    "en": "manager managers managing budget budgets excel spreadsheet prompts prompting "
    "language models writing teams channel meeting forecast report reports pivot tables "
    "data summary mentor mentoring learning course the of and a to is in for".split(),
    "pl": "kierownik kierownika budżet budżetu arkusz arkusze formuły tabele przestawne "
    "raport raporty zespół zespołu spotkanie mentor nauka kurs dane excel copilot "
    "i w na z że się do nie jest".split(),
    "ru": "руководитель руководителя бюджет бюджета таблица таблицы отчёт отчёты команда "
    "команды встреча наставник обучение курс данные excel copilot и в на с что не".split(),
}
QUERIES = [
    "budget forecast", "managers writing reports", "excel", "pivot tables and data",
    "kierownik budżetu", "arkusze formuły", "бюджет команды", "отчёты руководителя",
    "copilot excel mentor", "the of and", "zyxelgate", "mentoring course data excel tables",
]  # fmt: skip


def text(rng: random.Random, language: str, words: int) -> str:
    return " ".join(rng.choice(WORDS[language]) for _ in range(words))


def corpus(seed: int, size: int, notes: bool = False) -> list[ChunkRecord]:
    """Random chunks in three languages, lengths 1-300 words (Whoosh rounds lengths > 100)."""
    rng = random.Random(seed)
    records = []
    for i in range(1, size + 1):
        language = rng.choice(LANGUAGES)
        pair = rng.choice([None, 7, 8]) if notes else None
        kind = "note" if pair else rng.choice(["guide", "insight"])
        records.append(
            ChunkRecord(
                chunk_id=i,
                doc_key=f"{kind}:{(i + 1) // 2}",
                doc_type=kind,
                language=language,
                title=text(rng, language, rng.randint(0, 4)),
                text=text(rng, language, rng.choice([1, 5, 30, 120, 300])),
                tags=tuple(rng.sample(["ai", "excel", "Social media"], rng.randint(0, 2))),
                author_id=rng.choice([5, 6]),
                doc_date=dt.date(2024, 1, rng.randint(1, 28)),
                pair_id=pair,
            )  # fmt: skip
        )
    return records


def brute_force(records: list[ChunkRecord], query: str, access: Access,
                config: BM25Config) -> dict[int, float]:  # fmt: skip
    """BM25 straight from the definition, over the chunks ``access`` may see."""
    visible = [r for r in records if allowed(r, access.pair_ids)]
    terms = {r.chunk_id: Counter(analyse(indexed_text(r), r.index_language)) for r in visible}
    totals = Counter()
    for r in visible:
        totals[r.index_language] += sum(terms[r.chunk_id].values())
    scores: dict[int, float] = {}
    for language in LANGUAGES:
        avgfl = totals[language] / len(visible) or 1.0
        for term in dict.fromkeys(analyse(query, language)):
            having = [r for r in visible
                      if r.index_language == language and terms[r.chunk_id][term]]  # fmt: skip
            if not having:
                continue
            idf = math.log(len(visible) / (len(having) + 1)) + 1
            for r in having:
                if not matches(r, access.filters, access.author_ids):
                    continue
                tf = terms[r.chunk_id][term]
                dl = stored_length(sum(terms[r.chunk_id].values()))
                norm = config.k1 * (1 - config.b + config.b * dl / avgfl)
                part = idf * tf * (config.k1 + 1) / (tf + norm)
                scores[r.chunk_id] = scores.get(r.chunk_id, 0.0) + part
    return scores


PUBLIC_ONLY = Access()


def found(index: SparseIndex, query: str, access: Access = PUBLIC_ONLY) -> dict[int, float]:
    return {h.chunk_id: h.score for h in index.search(parse_query(query), None, access)}


def assert_scores_equal(got: dict[int, float], want: dict[int, float]) -> None:
    assert set(got) == set(want)
    for chunk_id, score in want.items():
        assert got[chunk_id] == pytest.approx(score, rel=1e-9), chunk_id


def test_index_terms_are_the_analyzer_terms() -> None:
    rng = random.Random(1)
    samples = [
        "Node.js 3.5 e.g. ChatGPT's İstanbul ŁÓDŹ Ёлки-палки KIEROWNIKA___x", "", "  ,.;",
        *(text(rng, lang, 50) for lang in LANGUAGES for _ in range(5)),
    ]  # fmt: skip
    for sample in samples:
        for language in LANGUAGES:
            assert index_terms(sample, language) == analyse(sample, language)


def test_scores_equal_whoosh_on_public_chunks() -> None:
    records = corpus(3, 300)
    config = BM25Config(k1=1.2, b=0.75)
    whoosh = FullTextIndex.in_memory(config)
    whoosh.add(records)
    index = SparseIndex.build(records, config)
    allow = combined_query((), None, None)
    for query in QUERIES:
        parsed = parse_query(query)
        want = {h.chunk_id: h.score for h in whoosh.search(parsed, None, allow)}
        assert_scores_equal(found(index, query), want)
        top = [h.chunk_id for h in index.search(parsed, 10, Access())]
        assert top == [h.chunk_id for h in whoosh.search(parsed, 10, allow)], query
    whoosh.close()


def test_scores_equal_brute_force_with_notes_and_filters() -> None:
    records = corpus(5, 200, notes=True)
    config = BM25Config(k1=1.5, b=0.6)
    index = SparseIndex.build(records, config)
    accesses = [
        Access(), Access(frozenset({7})), Access(frozenset({7, 8})),
        Access(frozenset({8}), SearchFilters(languages=("pl", "en"), tags=("excel",))),
        Access(frozenset(), SearchFilters(doc_types=("insight",)), frozenset({5})),
        Access(frozenset({7}), SearchFilters(date_from=dt.date(2024, 1, 10))),
    ]  # fmt: skip
    for access in accesses:
        for query in QUERIES:
            assert_scores_equal(
                found(index, query, access), brute_force(records, query, access, config)
            )


def test_private_note_is_never_returned_nor_scored_into_results() -> None:
    public = corpus(7, 120)
    secret = ChunkRecord(1000, "note:999", "note", "en", "Budget forecast",
                         "Zyxelgate budget forecast budget excel manager", pair_id=7)  # fmt: skip
    orphan = replace(secret, chunk_id=1001, doc_key="note:998", pair_id=None)
    with_notes = SparseIndex.build([*public, secret, orphan])
    without = SparseIndex.build(public)
    for pairs in (frozenset(), frozenset({8})):
        access = Access(pairs)
        for query in [*QUERIES, "zyxelgate budget forecast"]:
            got = found(with_notes, query, access)
            assert 1000 not in got and 1001 not in got
            # Not even the statistics move: every score is what it is without the note.
            assert got == found(without, query, access)
        assert with_notes.browse(access) == without.browse(access)
        assert found(with_notes, "zyxelgate", access) == {}
    assert 1000 in found(with_notes, "zyxelgate", Access(frozenset({7})))
    assert 1001 not in with_notes.chunk_ids(Access(frozenset({7, 8})))


def test_filter_masks_agree_with_record_filters() -> None:
    records = corpus(9, 150, notes=True)
    index = SparseIndex.build(records)
    rng = random.Random(4)
    for _ in range(200):
        filters = SearchFilters(
            doc_types=tuple(rng.sample(("guide", "note", "insight"), rng.randint(0, 2))),
            tags=tuple(rng.sample(("ai", "Social  Media", "none"), rng.randint(0, 2))),
            languages=tuple(rng.sample(LANGUAGES, rng.randint(0, 2))),
            date_from=rng.choice([None, dt.date(2024, 1, 15)]),
        )
        access = Access(rng.choice([frozenset(), frozenset({7}), frozenset({7, 8})]), filters,
                        rng.choice([None, frozenset({5}), frozenset()]))  # fmt: skip
        want = {
            r.chunk_id
            for r in records
            if allowed(r, access.pair_ids) and matches(r, filters, access.author_ids)
        }
        assert set(index.chunk_ids(access)) == want
        assert {h.chunk_id for h in index.browse(access)} == want


@pytest.mark.parametrize("delta_rows", [1, 7, 10_000])
def test_updates_give_the_scores_of_a_fresh_build(delta_rows: int) -> None:
    rng = random.Random(delta_rows)
    records = corpus(11, 160, notes=True)
    index = SparseIndex(delta_rows=delta_rows)
    index.add(records[:100])
    current = {key: [r for r in records[:100] if r.doc_key == key]
               for key in dict.fromkeys(r.doc_key for r in records[:100])}  # fmt: skip
    next_id = 1000
    for step in range(60):
        key = rng.choice([*current, f"guide:new{step}"])
        if rng.random() < 0.3:
            index.delete_document(key)
            current.pop(key, None)
            continue
        language = rng.choice(LANGUAGES)
        chunks = []
        for _ in range(rng.randint(1, 3)):
            next_id += 1
            chunks.append(ChunkRecord(next_id, key, key.split(":")[0], language, "",
                                      text(rng, language, rng.choice([3, 40, 150]))))  # fmt: skip
        index.replace_document(key, chunks)
        current[key] = chunks
    final = [r for chunks in current.values() for r in chunks]
    fresh = SparseIndex.build(sorted(final, key=lambda r: r.chunk_id))
    assert len(index) == len(final)
    for access in (Access(), Access(frozenset({7}))):
        for query in QUERIES:
            assert_scores_equal(found(index, query, access), found(fresh, query, access))


def test_limit_keeps_the_best_and_breaks_ties_by_chunk_id() -> None:
    same = [ChunkRecord(i, f"guide:{i}", "guide", "en", "", "budget report") for i in (5, 3, 9)]
    index = SparseIndex.build([*same, ChunkRecord(1, "guide:1", "guide", "en", "", "budget")])
    hits = index.search(parse_query("budget report"), 2, Access())
    assert [h.chunk_id for h in hits] == [3, 5]
    assert index.search(parse_query("budget"), 0, Access()) == []
    assert index.search(parse_query("the of"), 10, Access()) == []


def test_phrases_are_left_to_whoosh() -> None:
    assert serves(parse_query("state of the art"))
    assert not serves(parse_query('"state of the art" methods'))


PHRASE_QUERIES = [
    '"pivot tables" data', '"budget forecast"', 'excel "arkusze formuły" raport',
    '"бюджет команды" отчёты', '"the of" budget', '"zyxelgate budget" excel',
    '"managers writing" "pivot tables"',
]  # fmt: skip


def test_phrase_queries_score_as_whoosh_with_the_phrases_from_whoosh() -> None:
    """Sparse words + the phrases Whoosh finds give Whoosh's whole-query scores and top 10."""
    records = corpus(17, 300)
    records[0] = replace(records[0], text="pivot tables budget forecast " * 3)
    records[1] = replace(records[1], language="en", text="budget forecast budget forecast")
    config = BM25Config(k1=1.2, b=0.75)
    whoosh = FullTextIndex.in_memory(config)
    whoosh.add(records)
    index = SparseIndex.build(records, config)
    allow = combined_query((), None, None)
    with_phrase = 0
    for query in [*PHRASE_QUERIES, '"budget forecast budget"']:
        parsed = parse_query(query)
        assert not serves(parsed)
        phrases = whoosh.phrase_matches(parsed)
        with_phrase += any(len(m.chunk_ids) for m in phrases)
        want = {h.chunk_id: h.score for h in whoosh.search(parsed, None, allow)}
        got = {h.chunk_id: h.score for h in index.search(parsed, None, Access(), phrases)}
        assert_scores_equal(got, want)
        top = [h.chunk_id for h in index.search(parsed, 10, Access(), phrases)]
        assert top == [h.chunk_id for h in whoosh.search(parsed, 10, allow)], query
    assert with_phrase >= 5  # the phrases do occur: the sum is really tested
    whoosh.close()


def test_a_private_note_moves_no_score_of_a_phrase_query() -> None:
    """Whoosh's own phrase score counts every chunk; the product's counts what the user may
    see, so a note holding the phrase many times changes nothing anyone else gets."""
    public = corpus(19, 200)
    public[0] = replace(public[0], language="en", text="pivot tables budget forecast")
    secret = ChunkRecord(
        1000,
        "note:999",
        "note",
        "en",
        "Pivot tables",
        "pivot tables pivot tables budget forecast budget",
        pair_id=7,
    )
    records = [*public, secret]
    whoosh = FullTextIndex.in_memory()
    whoosh.add(records)
    with_note, without = SparseIndex.build(records), SparseIndex.build(public)
    for query in ['"pivot tables" budget', '"budget forecast"', 'excel "pivot tables"']:
        parsed = parse_query(query)
        phrases = whoosh.phrase_matches(parsed)
        assert any(1000 in m.chunk_ids for m in phrases)  # Whoosh finds the note, ...
        for access in (Access(), Access(frozenset({8}))):
            got = {h.chunk_id: h.score for h in with_note.search(parsed, None, access, phrases)}
            assert 1000 not in got  # ... nobody outside the pair gets it or its statistics
            alone = {h.chunk_id: h.score for h in without.search(parsed, None, access, phrases)}
            assert got == alone
            assert got[public[0].chunk_id] > 0
        mine = with_note.search(parsed, None, Access(frozenset({7})), phrases)
        assert 1000 in {h.chunk_id for h in mine}  # the pair finds its own note
    whoosh.close()


def test_dense_and_sorted_accumulation_agree() -> None:
    rare = ChunkRecord(999, "guide:999", "guide", "en", "", "zyxelgate budget excel")
    records = [*corpus(13, 400), rare]
    index = SparseIndex.build(records)
    for query, dense in (("excel budget", True), ("zyxelgate", False)):
        rows, _ = index.scores(query, Access())
        assert (len(rows) * 16 >= index.rows.size) == dense
        want = brute_force(records, query, Access(), BM25Config())
        assert_scores_equal(found(index, query), want)


@pytest.mark.parametrize("delta_rows", [1, 10_000])
def test_hits_say_whether_they_hold_every_word_of_the_query(delta_rows: int) -> None:
    """``all_words``: every analysed query term in the chunk's own language (Polish stems
    too), checked against a brute-force reading of the text; stop words alone hold nothing."""
    records = corpus(21, 300)
    index = SparseIndex(delta_rows=delta_rows)
    index.add(records[:200])
    index.add(records[200:])  # some rows in the delta matrix
    by_id = {r.chunk_id: r for r in records}
    seen = Counter()
    for query in [*QUERIES, "budżet arkusze", "budżetu arkusz"]:
        for hit in index.search(parse_query(query), None, Access()):
            seen[hit.all_words] += 1
            record = by_id[hit.chunk_id]
            language = record.language
            wanted = set(index_terms(query, language))
            held = set(index_terms(indexed_text(record), language))
            assert hit.all_words == (bool(wanted) and wanted <= held), (query, hit)
    assert seen[True] > 20 and seen[False] > 20
    assert any(h.all_words for h in index.search(parse_query("budżet arkusze"), None, Access()))
    assert not any(h.all_words for h in index.search(parse_query("the of and"), None, Access()))


@pytest.mark.parametrize("delta_rows", [1, 7, 10_000])
def test_an_index_restored_from_its_arrays_answers_and_changes_as_the_original(
    delta_rows: int,
) -> None:
    records = corpus(13, 120, notes=True)
    index = SparseIndex(delta_rows=delta_rows)
    index.add(records[:80])
    for record in records[80:]:  # rows in the delta, and dead rows
        index.replace_document(record.doc_key, [record])
    facts, arrays = index.to_arrays()
    copy = SparseIndex.from_arrays(json.loads(json.dumps(facts)), arrays)
    assert len(copy) == len(index) and copy.vocabulary == index.vocabulary
    assert copy.rows.meta == [replace(r, title="", text="") for r in index.rows.meta]
    assert copy.doc_rows == index.doc_rows
    filters = SearchFilters(doc_types=("guide",), tags=("ai",))
    for access in (Access(), Access(frozenset({7})), Access(frozenset({8}), filters)):
        for query in QUERIES:
            assert found(copy, query, access) == found(index, query, access)
        assert copy.browse(access) == index.browse(access)
    for target in (index, copy):  # and both change alike afterwards
        target.replace_document(records[0].doc_key, [replace(records[0], text="zyxelgate")])
        target.delete_document(records[5].doc_key)
    member = Access(frozenset({7}))
    for query in [*QUERIES, "zyxelgate"]:
        assert found(copy, query, member) == found(index, query, member)


def test_arrays_that_do_not_describe_an_index_are_refused() -> None:
    facts, arrays = SparseIndex.build(corpus(3, 20)).to_arrays()
    with pytest.raises(ValueError, match="rows"):
        SparseIndex.from_arrays({**facts, "size": 21}, arrays)
    with pytest.raises(KeyError):
        SparseIndex.from_arrays(facts, {k: v for k, v in arrays.items() if k != "main.data"})
