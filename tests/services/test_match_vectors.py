"""Matching vectors in the database: each text embedded once per model, found by its hash."""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select

from kb.embedding import FakeEmbedder, text_hash
from kb.models import MatchingVector
from kb.services import match_vectors
from matching.profiles import split_phrases


class Counting(FakeEmbedder):
    def __init__(self) -> None:
        super().__init__(dim=16, name="counted")
        self.texts: list[str] = []

    def embed_queries(self, texts):
        self.texts.extend(texts)
        return super().embed_queries(texts)


def test_phrases_are_read_as_matching_reads_them() -> None:
    for value in ("a; b ;A;  c  d ;;", "", None, "Excel;excel;EXCEL formulas", " ; "):
        assert match_vectors.phrases(value) == split_phrases(value)


def test_each_text_is_embedded_once_and_loaded_by_hash(session) -> None:
    model = Counting()
    texts = ["Copilot w Excelu", "negocjacje budżetu", "Copilot w Excelu"]
    assert match_vectors.store(session, texts, {"counted": model}) == 2
    assert match_vectors.store(session, texts + ["new one"], {"counted": model}) == 1
    session.commit()
    assert model.texts == ["Copilot w Excelu", "negocjacje budżetu", "new one"]
    loaded = match_vectors.load(session, [text_hash(t) for t in texts], "counted")
    assert set(loaded) == {text_hash("Copilot w Excelu"), text_hash("negocjacje budżetu")}
    expected = FakeEmbedder(dim=16).embed_queries(["negocjacje budżetu"])[0]
    assert np.allclose(loaded[text_hash("negocjacje budżetu")], expected)
    count = session.scalar(select(func.count()).select_from(MatchingVector))
    assert count == 3


def test_writing_vectors_twice_adds_nothing(session) -> None:
    vectors = match_vectors.compute(session, ["a", "b"], {"x": Counting()})
    assert match_vectors.write(session, vectors) == 2
    assert match_vectors.write(session, vectors) == 0


def test_a_row_another_process_stored_meanwhile_does_not_fail_the_write(
    sessions, monkeypatch
) -> None:
    # An import and a web worker's refresher store the same texts: one of them checks for
    # stored rows before the other commits, and its insert must skip the row, not fail.
    vectors = {"x": {text_hash(t): FakeEmbedder(dim=16).embed_queries([t])[0] for t in "ab"}}
    with sessions() as other:
        first = {"x": {text_hash("a"): vectors["x"][text_hash("a")]}}
        assert match_vectors.write(other, first) == 1
        other.commit()
    monkeypatch.setattr(match_vectors, "stored_hashes", lambda *args, **kwargs: set())
    with sessions() as late:
        match_vectors.write(late, vectors)  # checked "before" the other commit
        late.commit()
        rows = late.scalars(select(MatchingVector.text_hash).where(MatchingVector.model == "x"))
        assert sorted(rows) == sorted([text_hash("a"), text_hash("b")])


class FailingOnce(Counting):
    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def embed_queries(self, texts):
        if not self.failed:
            self.failed = True
            raise RuntimeError("model broke")
        return super().embed_queries(texts)


def test_the_refresher_stores_a_published_guides_vectors_after_its_commit(
    sessions, embedders, caplog
) -> None:
    """Queued document keys get their chunks' vectors in a thread; a failure is logged and
    the thread goes on with the next documents; close() finishes what is queued."""
    from kb.services import guides, people

    with sessions() as s:
        author, _ = people.upsert_person(s, people.PersonRecord(
            name="Anna", email="anna@example.com", roles=("mentor",)))  # fmt: skip
        keys = []
        for title in ("Zeppelin hangars", "Mooring masts"):
            guide = guides.create_guide(
                s, author, title=title, body_md=f"{title} explained.", language="en"
            )
            guides.publish(s, guide, author, embedders)
            keys.append(guides.guide_doc_key(guide))
        s.commit()
    model = FailingOnce()
    refresher = match_vectors.Refresher(sessions, {"counted": model})
    refresher.submit(keys[:1])
    assert refresher.wait(30) and not refresher.pending()
    assert "storing matching vectors failed" in caplog.text
    refresher.submit(keys)
    refresher.close()  # drains the queue
    with sessions() as s:
        wanted = {text_hash(t) for t in match_vectors.chunk_texts(s, keys)}
        assert len(wanted) == 2
        assert match_vectors.stored_hashes(s, wanted, "counted") == wanted
    assert len(model.texts) == 2  # each text embedded once
