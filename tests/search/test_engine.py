"""SearchEngine over a small library written through the services (fake embedder)."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from kb.config import Settings
from kb.embedding import FakeEmbedder
from kb.errors import NotFound
from kb.models import Person, SharedInsight
from kb.search.hybrid import (
    NO_WORD_MATCH,
    NOTHING_RELEVANT,
    SearchEngine,
    SearchFilters,
    _worth_spelling,
)
from kb.search.indexes.vectorstore import VectorStore
from kb.search.query import parse_query
from kb.search.ranking import SearchConfig
from kb.services import guides, notes

from .helpers import Library, add_guide_and_die, make_library, write_and_catch_up


@pytest.fixture
def library(sessions: sessionmaker[Session], embedders) -> Library:  # noqa: ANN001
    return make_library(sessions, embedders)


@pytest.fixture
def search(settings: Settings, sessions, embedders, library: Library) -> Iterator[SearchEngine]:  # noqa: ANN001
    engine = SearchEngine(settings, sessions, embedders)
    yield engine
    engine.close()


def who(sessions: sessionmaker[Session], person_id: int | None) -> Person | None:
    if person_id is None:
        return None
    with sessions() as s:
        return s.get(Person, person_id)


def keys(results) -> list[str]:  # noqa: ANN001
    return [hit.doc_key for hit in results.hits]


def test_results_are_grouped_per_document(search: SearchEngine, library: Library) -> None:
    results = search.search("Copilot formuły Excel", None)
    assert keys(results).count(f"guide:{library.guide_pl}") == 1
    assert len(set(keys(results))) == len(keys(results)) == results.total
    first = results.hits[0]
    assert first.doc_key == f"guide:{library.guide_pl}"
    assert first.title == "Copilot w Excelu" and first.author_name == "Anna Mentor"
    assert first.tags == ["ai", "excel"] and first.doc_date == dt.date(2024, 4, 2)


def test_snippet_highlights_stems_and_escapes(search: SearchEngine) -> None:
    # The Polish guide's hit (the fake embedder's cross-language neighbours are arbitrary, and
    # they may rank first: BM25 is not held against a guide in another language).
    hit = next(h for h in search.search("formuła", None).hits if h.language == "pl")
    assert "<mark>formuły</mark>" in hit.snippet_html  # Polish inflection, same stem
    hit = next(h for h in search.search("prompt", None).hits if h.language == "en")
    assert "<mark>prompts</mark>" in hit.snippet_html
    assert "<mark>Prompting</mark>" in hit.snippet_html


def test_filters(search: SearchEngine, sessions) -> None:  # noqa: ANN001
    query = "Excel prompts blog"
    every = search.search(query, None)
    assert {h.language for h in every.hits} >= {"en", "pl"}
    only_pl = search.search(query, None, SearchFilters(languages=("pl",)))
    assert {h.language for h in only_pl.hits} == {"pl"}
    tagged = search.search(query, None, SearchFilters(tags=("Excel",)))
    assert {h.title for h in tagged.hits} == {"Copilot w Excelu", "Pivot tables in Excel"}
    by_celina = search.search(query, None, SearchFilters(author_email="Celina@example.com"))
    assert {h.author_name for h in by_celina.hits} == {"Celina Mentor"}
    nobody = search.search(query, None, SearchFilters(author_email="ghost@example.com"))
    assert nobody.total == 0
    spring = search.search(
        query, None, SearchFilters(date_from=dt.date(2024, 3, 1), date_to=dt.date(2024, 5, 31))
    )
    assert {h.doc_date for h in spring.hits} == {dt.date(2024, 4, 2), dt.date(2024, 5, 10)}
    guides_only = search.search(query, None, SearchFilters(doc_types=("insight",)))
    assert guides_only.total == 0


def test_private_note_reaches_only_its_pair(
    search: SearchEngine,
    sessions,
    library: Library,  # noqa: ANN001
) -> None:
    note_key = f"note:{library.private_note}"
    for outsider in (None, library.celina, library.hania):
        user = who(sessions, outsider)
        results = search.search("Zyxelgate budget", user)
        assert note_key not in keys(results)
        assert "Zyxelgate" not in str(results.to_dict()["hits"])
        alone = search.search("Zyxelgate", user)
        assert alone.did_you_mean is None
        assert alone.message == NO_WORD_MATCH  # as for any word nobody wrote
        for hit in search.related(f"guide:{library.guide_pl}", user, limit=20):
            assert hit.doc_type != "note"
        with pytest.raises(NotFound):
            search.related(note_key, user)
        notes_only = search.search("budget", user, SearchFilters(doc_types=("note",)))
        assert notes_only.total == 0
    for member in (library.anna, library.bogdan):
        user = who(sessions, member)
        assert keys(search.search("Zyxelgate", user))[0] == note_key
        assert search.search("Zyxelgate", user).message is None
        related = search.related(f"guide:{library.guide_pl}", user, limit=20)
        assert note_key in [h.doc_key for h in related]
        assert search.related(note_key, user)  # their own note has related content


def test_insight_is_public_only_after_both_consents(
    search: SearchEngine,
    sessions,
    embedders,
    library: Library,  # noqa: ANN001
) -> None:
    assert search.search("channels threads", None, SearchFilters(doc_types=("insight",))).total == 0
    with sessions() as s:
        insight = s.scalar(select(SharedInsight))
        notes.consent_insight(s, insight, s.get(Person, library.anna), embedders=embedders)
        s.commit()
    # No explicit catch-up: the check before each search applies the change log.
    found = search.search("channels threads", None, SearchFilters(doc_types=("insight",)))
    assert found.total == 1
    assert "Quokkaword" not in str(found.to_dict())  # only the agreed excerpt is public


def test_odd_queries_get_messages_not_errors(search: SearchEngine) -> None:
    assert search.search("", None).message == "Type a few words to search."
    assert search.search("  ?! ", None).message == "Your query has no words to search for."
    long = search.search("prompts " * 400, None)
    assert long.message and "longer than" in long.message and long.total >= 1
    assert keys(search.search("How to write prompts?", None)) == keys(
        search.search("How to write prompts", None)
    )
    for odd in ['"unbalanced', "title:x AND (", "*", "NOT NOT", "\x00"]:
        search.search(odd, None)
    nonsense = search.search("qwzxvbnm", None)
    assert nonsense.total >= 1 and nonsense.message == NO_WORD_MATCH  # vectors, said plainly
    assert search.search("prompts", None).message is None


def test_did_you_mean_suggests_from_the_vocabulary(search: SearchEngine) -> None:
    results = search.search("pivott prommpts", None)
    assert results.did_you_mean == "pivot prompts"
    assert search.search("pivot prompts", None).did_you_mean is None


def test_did_you_mean_next_to_a_word_many_passages_hold(search: SearchEngine) -> None:
    # "Excel" alone is in several passages, so the query has results; no passage holds a
    # misspelt word, and the suggestion keeps how the user wrote the words around it.
    results = search.search("Excel promts", None)
    assert results.total >= 3
    assert results.did_you_mean == "Excel prompts"
    assert search.search("EXCEL PROMTS", None).did_you_mean == "EXCEL PROMPTS"
    # Stop words are never "corrected" (no language's analyser keeps them as a term).
    assert search.search("budget tables with promts", None).did_you_mean == (
        "budget tables with prompts"
    )


def test_which_queries_are_spell_checked() -> None:
    short, long = parse_query("Power Qeury"), parse_query("how do managers write weekly reprots")
    assert _worth_spelling(short, word_matches=50, whole_matches=0)
    assert not _worth_spelling(short, word_matches=50, whole_matches=3)
    # A long question with matches is left alone: its unknown words are mostly real ones.
    assert not _worth_spelling(long, word_matches=50, whole_matches=0)
    assert _worth_spelling(long, word_matches=2, whole_matches=0)


def test_did_you_mean_leaves_inflections_and_filtered_words_alone(
    search: SearchEngine, sessions, library: Library,  # noqa: ANN001
) -> None:  # fmt: skip
    # "formułach" is no word of the library, but its stem is: an inflection, not a typo.
    assert search.search("formułach Copilot", None).did_you_mean is None
    # A correction must be a word the user may find under their filters.
    assert search.search("promts", None).did_you_mean == "prompts"
    russian = SearchFilters(languages=("ru",))
    assert search.search("promts", None, russian).did_you_mean is None
    # A pair member's own note holds "Zyxelgate": not misspelt for them, and never offered
    # to anyone else (the spelling vocabulary is public).
    anna = who(sessions, library.anna)
    assert search.search("Zyxelgate pivot", anna).did_you_mean is None
    assert search.search("Zyxelgat pivot", None).did_you_mean is None


def test_browse_with_filters_and_no_words(search: SearchEngine) -> None:
    results = search.search("", None, SearchFilters(tags=("excel",)))
    assert [h.title for h in results.hits] == ["Copilot w Excelu", "Pivot tables in Excel"]


def test_pagination(search: SearchEngine) -> None:
    everything = search.search("Excel prompts blog Copilot", None, limit=50)
    pages = [search.search("Excel prompts blog Copilot", None, limit=2, offset=o) for o in (0, 2)]
    assert keys(pages[0]) + keys(pages[1]) == keys(everything)[:4]
    assert all(p.total == everything.total for p in pages)


def test_hit_metadata_costs_one_query_whatever_the_page(
    search: SearchEngine,
    engine,  # noqa: ANN001
) -> None:
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    counts = []
    for limit in (1, 4):
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            results = search.search("Excel prompts blog", None, limit=limit)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert len(results.hits) == limit
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_reindex_equals_incremental_state(search: SearchEngine, sessions, embedders) -> None:  # noqa: ANN001
    queries = ["Excel", "prompts", "blog", "Copilot formuły", "budget Zyxelgate", "channels"]
    anna = who(sessions, 1)
    before = [keys(search.search(q, anna, limit=50)) for q in queries]
    generation = search.fulltext.current_generation()
    search.reindex()
    assert search.fulltext.current_generation() != generation
    assert [keys(search.search(q, anna, limit=50)) for q in queries] == before
    assert search.fulltext.index().doc_count() > 0


def test_content_committed_before_a_crash_is_found_after_restart(
    settings: Settings,
    sessions,
    embedders,
    library: Library,  # noqa: ANN001
) -> None:
    first = SearchEngine(settings, sessions, embedders)
    first.close()
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(
        target=add_guide_and_die,
        args=(settings.database_url, "Crash Survivor", "Phoenixword rises after the crash."),
    )
    child.start()
    child.join(120)
    assert child.exitcode == 1  # died right after commit, before any index update
    assert "phoenixword" not in str(first.fulltext.state())  # nothing applied yet
    restarted = SearchEngine(settings, sessions, embedders)
    try:
        english = SearchFilters(languages=("en",))  # the fake embedder's other languages: noise
        assert restarted.search("Phoenixword", None, english).hits[0].title == "Crash Survivor"
    finally:
        restarted.close()


def test_two_processes_write_and_catch_up_without_lock_errors(
    settings: Settings,
    sessions,
    embedders,
    library: Library,  # noqa: ANN001
) -> None:
    SearchEngine(settings, sessions, embedders).close()  # the index exists
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        args = [(str(settings.instance_dir), settings.database_url, w, 4) for w in (1, 2)]
        applied = pool.starmap(write_and_catch_up, args)
    assert sum(applied) >= 1
    engine = SearchEngine(settings, sessions, embedders)
    try:
        for worker in (1, 2):
            for i in range(4):
                found = engine.search(f"w{worker}x{i}", None, SearchFilters(languages=("en",)))
                assert found.hits[0].title == f"Worker {worker} guide {i}"
    finally:
        engine.close()


def test_free_words_use_the_sparse_index_whoosh_finds_only_phrases(
    search: SearchEngine,
    monkeypatch,  # noqa: ANN001
) -> None:
    from kb.search.indexes.fulltext import FullTextIndex

    calls: list[tuple[str, str]] = []
    for method in ("search", "phrase_matches"):
        original = getattr(FullTextIndex, method)

        def spy(self, parsed, *args, _original=original, _method=method, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            calls.append((_method, parsed.text))
            return _original(self, parsed, *args, **kwargs)

        monkeypatch.setattr(FullTextIndex, method, spy)
    assert search.search("pivot tables", None).hits[0].title == "Pivot tables in Excel"
    assert calls == []
    assert search.search('"pivot tables" budget', None).hits[0].title == "Pivot tables in Excel"
    assert calls == [("phrase_matches", "pivot tables budget")]  # never Whoosh's OR of words


def test_sparse_index_follows_the_change_log(
    search: SearchEngine,
    sessions,
    embedders,
    library: Library,  # noqa: ANN001
) -> None:
    from kb.models import SessionNote

    anna = who(sessions, library.anna)
    with sessions() as s:
        note = s.get(SessionNote, library.private_note)
        notes.update_note(s, note, s.get(Person, library.anna), embedders=embedders,
                          body_md="Now only about the Wombatplan.")  # fmt: skip
        s.commit()
    assert keys(search.search("Wombatplan", anna))[0] == f"note:{library.private_note}"
    assert search.search("Zyxelgate", anna).message == NO_WORD_MATCH
    with sessions() as s:
        note = s.get(SessionNote, library.private_note)
        notes.delete_note(s, note, s.get(Person, library.anna))
        s.commit()
    assert search.search("Wombatplan", anna).message == NO_WORD_MATCH
    live = search.sparse.size()
    search.reindex()
    assert search.sparse.size() == live


def test_a_members_note_vectors_are_kept_until_the_change_log_moves(
    search: SearchEngine,
    sessions,
    embedders,
    library: Library,  # noqa: ANN001
) -> None:
    from kb.models import Chunk, SessionNote

    def note_chunks_in_db() -> set[int]:
        key = f"note:{library.private_note}"
        with sessions() as s:
            return set(s.scalars(select(Chunk.id).where(Chunk.doc_key == key)))

    anna = who(sessions, library.anna)
    assert keys(search.search("Zyxelgate", anna))[0] == f"note:{library.private_note}"
    cached = {r.chunk_id for notes_, _ in search.pair_notes._cache.values() for r in notes_}
    assert note_chunks_in_db() <= cached
    loads = []
    original = search._pair_vectors
    search._pair_vectors = lambda *a: loads.append(a) or original(*a)  # type: ignore[method-assign]
    search.search("budget", anna)
    assert loads == []  # kept: nothing changed
    with sessions() as s:
        note = s.get(SessionNote, library.private_note)
        notes.update_note(s, note, s.get(Person, library.anna), embedders=embedders,
                          body_md="Now only about the Wombatplan.")  # fmt: skip
        s.commit()
    search.search("Wombatplan", anna)
    assert loads  # the log moved: loaded again, with the note's new chunks
    cached = {r.chunk_id for notes_, _ in search.pair_notes._cache.values() for r in notes_}
    assert note_chunks_in_db() <= cached
    assert search.search("budget", None).hits  # anonymous: no pair notes asked for


def test_pair_notes_are_kept_per_pairs_and_emptied_when_the_log_moves() -> None:
    import numpy as np

    from kb.search.hybrid import PairNotes

    cache, loads = PairNotes(size=2), []

    def load(tag: str):  # noqa: ANN202
        return lambda: loads.append(tag) or ([tag], np.zeros((1, 2)))

    cache.seen(5)
    first = cache.get(frozenset({1}), "m", load("a"))
    assert cache.get(frozenset({1}), "m", load("b")) is first
    assert cache.get(frozenset({2}), "m", load("c"))[0] == ["c"]  # another user's pairs
    cache.seen(6)
    assert cache.get(frozenset({1}), "m", load("d"))[0] == ["d"]

    def racing():  # noqa: ANN202 - a change lands while this search loads
        cache.seen(7)
        return ["e"], np.zeros((1, 2))

    assert cache.get(frozenset({3}), "m", racing)[0] == ["e"]  # returned, not kept
    assert cache.get(frozenset({3}), "m", load("f"))[0] == ["f"]
    assert loads == ["a", "c", "d", "f"]


def test_another_pairs_note_changes_no_bm25_score(
    search: SearchEngine,
    sessions,
    embedders,
    library: Library,  # noqa: ANN001
) -> None:
    from kb.models import Pair
    from kb.search.indexes.sparsestore import access_for
    from kb.search.query import parse_query

    def bm25(text: str) -> list[tuple[int, float]]:
        hits = search.sparse.search(parse_query(text), 100, access_for(set(), None, None))
        return [(h.chunk_id, h.score) for h in hits]

    queries = ["Excel pivot tables budget", "prompts", "Copilot formuły", "budget forecast"]
    before = [bm25(q) for q in queries]
    with sessions() as s:
        pair = s.scalars(select(Pair).where(Pair.mentor_id == library.celina)).one()
        notes.create_note(s, pair, s.get(Person, library.celina), title="Budget pivot tables",
                          body_md="Excel pivot tables budget forecast prompts " * 5,
                          language="en", embedders=embedders)  # fmt: skip
        s.commit()
    search.catch_up()
    assert [bm25(q) for q in queries] == before  # exactly: statistics ignore unseen notes


def test_a_starting_worker_loads_the_sparse_snapshot_and_catches_up(
    search: SearchEngine,
    settings: Settings,
    sessions,
    embedders,
    library: Library,
    monkeypatch,  # noqa: ANN001
) -> None:
    from kb.search.indexes.sparse import SparseIndex
    from kb.services import guides

    assert search.sparse.snapshot_path is not None and search.sparse.snapshot_path.exists()
    with sessions() as s:
        author = s.get(Person, library.anna)
        made = guides.create_guide(s, author, title="Late guide", body_md="Narwhalword here.",
                                   language="en")  # fmt: skip
        guides.publish(s, made, author, embedders)
        s.commit()

    def no_build(*args: object, **kwargs: object) -> SparseIndex:
        raise AssertionError("a snapshot exists: nothing to build")

    monkeypatch.setattr(SparseIndex, "build", no_build)
    monkeypatch.setattr(VectorStore, "rebuild", no_build)
    worker = SearchEngine(settings, sessions, embedders)
    try:
        assert worker.search("Narwhalword", None).hits[0].title == "Late guide"
        assert worker.sparse.size() == search.sparse.size() + 1
        # the vector snapshot too: loaded, then the late guide's chunk from the log
        assert worker.vectors.size()["fake"] == search.vectors.size()["fake"] + 1
        query = embedders["fake"].embed_queries(["Narwhalword"])[0]
        search.catch_up()
        assert worker.vectors.search("fake", query, 5) == search.vectors.search("fake", query, 5)
    finally:
        worker.close()


def test_a_vector_snapshot_is_only_used_for_the_configuration_it_was_built_for(
    search: SearchEngine,
    settings: Settings,
    sessions,
    embedders,
    monkeypatch,  # noqa: ANN001
) -> None:
    from dataclasses import replace

    built = search.vectors.snapshot_path
    assert built is not None and built.exists()
    other = SearchEngine(settings, sessions, embedders,
                         replace(search.config, hnsw_threshold=1))  # fmt: skip
    try:
        assert other.vectors.snapshot_path != built and other.vectors.snapshot_path.exists()
        assert not built.exists()  # the other configuration's snapshot is not left behind
        assert {type(b).__name__ for b in other.vectors.backends.values()} == {"HnswBackend"}
        assert {type(b).__name__ for b in search.vectors.backends.values()} == {"ExactBackend"}
    finally:
        other.close()


def test_writing_a_sparse_snapshot_removes_those_of_older_formats(search: SearchEngine) -> None:
    current = search.sparse.snapshot_path
    assert current is not None and current.exists()
    older = current.with_name("sparse-v0.0.pickle")
    older.write_bytes(b"an older format")
    unrelated = current.with_name("notes.txt")
    unrelated.write_text("kept")
    search.sparse.rebuild()
    assert current.exists() and not older.exists() and unrelated.exists()


def test_result_floor_counts_only_relevant_documents(
    settings: Settings,
    sessions,
    embedders,
    library: Library,  # noqa: ANN001
) -> None:
    """With a floor on the (language-centred) similarity, the count is what passes it; a
    query with nothing close says so and names the nearest documents' topics."""
    plain = SearchEngine(settings, sessions, embedders)
    floored = SearchEngine(
        settings, sessions, embedders, SearchConfig(models=("fake",), result_floors={"fake": 0.2})
    )
    try:
        everything = plain.search("pivot tables budget", None)
        found = floored.search("pivot tables budget", None)
        assert found.hits[0].title == "Pivot tables in Excel"
        assert 1 <= found.total < everything.total and found.total == len(found.hits)
        nothing = floored.search("qwzxvbnm", None)
        assert nothing.total == 0 and nothing.hits == []
        assert nothing.message == NOTHING_RELEVANT
        public_tags = {"ai", "excel", "social media"}
        assert nothing.closest_topics and set(nothing.closest_topics) <= public_tags
        assert plain.search("qwzxvbnm", None).total >= 1  # without a floor: vectors always
    finally:
        plain.close()
        floored.close()


def test_a_word_match_is_not_hidden_by_the_result_floor(
    settings: Settings,
    sessions: sessionmaker[Session],
    embedders: dict[str, FakeEmbedder],
    library: Library,
) -> None:
    """A passage holding every word of the query is shown whatever its similarity (a guide's
    unique word must find it, also with a tag filter); junk and private words still are not."""
    floored = SearchEngine(  # no passage reaches this floor: only word matches are shown
        settings, sessions, embedders, SearchConfig(models=("fake",), result_floors={"fake": 9.0})
    )
    try:
        with sessions() as s:
            anna = s.get(Person, library.anna)
            guide = guides.create_guide(
                s, anna, title="Checklists", language="en", tags=["zorblaxian", "ai"],
                body_md="Prompts for the review. The zorblaxian checklist closes the session.",
            )  # fmt: skip
            guides.publish(s, guide, anna, embedders)
            s.commit()
        floored.catch_up()
        for filters in (None, SearchFilters(tags=("zorblaxian",))):
            found = floored.search("zorblaxian", None, filters)
            assert keys(found) == [f"guide:{guide.id}"] and found.total == 1
        # every word of the query in one passage: that guide, not those with one of the words
        both = floored.search("pivot budget", None)
        assert [h.title for h in both.hits] == ["Pivot tables in Excel"]
        for junk in ("qwzxvbnm", "the and of", 'NOT ( ) * OR AND "', "<script>alert(1)</script>"):
            assert floored.search(junk, None).total == 0, junk
        # the private note's word: shown to its pair's members only
        assert floored.search("Zyxelgate", None).total == 0
        assert floored.search("Zyxelgate", who(sessions, library.celina)).total == 0
        mine = floored.search("Zyxelgate", who(sessions, library.anna))
        assert keys(mine) == [f"note:{library.private_note}"]
    finally:
        floored.close()


def test_vector_store_means_follow_replacements(
    settings: Settings,
    sessions,
    embedders,
    library: Library,  # noqa: ANN001
) -> None:
    """The per-language means kept up from the change log equal a rebuild's (derived data)."""
    engine = SearchEngine(settings, sessions, embedders)
    try:
        with sessions() as s:
            anna = s.get(Person, library.anna)
            guide = guides.create_guide(
                s, anna, title="Nowy", body_md="Pierwsza wersja.", language="pl"
            )
            guides.publish(s, guide, anna, embedders)
            s.commit()
        engine.catch_up()
        with sessions() as s:
            anna = s.get(Person, library.anna)
            guide = s.merge(guide)
            guides.save_revision(
                s, guide, anna, title="Nowy", body_md="Druga, zupełnie inna treść.",
                embedders=embedders,
            )  # fmt: skip
            s.commit()
        engine.catch_up()
        kept = engine.vectors.means["fake"]
        engine.vectors.rebuild()
        rebuilt = engine.vectors.means["fake"]
        assert kept is not rebuilt and list(kept.counts) == list(rebuilt.counts)
        np.testing.assert_allclose(kept.sums, rebuilt.sums, atol=1e-5)
        # A new process starts from the snapshot (written by the rebuild): the same means.
        restarted = VectorStore(sessions, engine.vectors.model_names, engine.config,
                                settings.index_dir)  # fmt: skip
        restarted.rebuild = lambda: pytest.fail("rebuilt instead of reading the snapshot")
        restarted.load()
        loaded = restarted.means["fake"]
        assert loaded is not None and list(loaded.counts) == list(rebuilt.counts)
        np.testing.assert_allclose(loaded.sums, rebuilt.sums)
        query = embedders["fake"].embed_queries(["Druga treść"])[0]
        assert restarted.search("fake", query, 5) == engine.vectors.search("fake", query, 5)
    finally:
        engine.close()
