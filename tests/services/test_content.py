from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb.chunking import embedding_text
from kb.db import transaction
from kb.embedding import FakeEmbedder, text_hash
from kb.models import ChangeLog, Chunk, ChunkEmbedding
from kb.services.content import (
    plan_chunks,
    preload_embedders,
    remove_chunks,
    replace_chunks,
)

LONG = "\n\n".join(
    f"Paragraph {i} explains topic number {i} in some detail. " * 12 for i in range(6)
)


def _write(session: Session, embedders, text: str = "Prompting basics for managers.", **extra):
    args = dict(
        doc_key="guide:1", doc_type="guide", doc_id=1, title="Prompting", text=text,
        language="en", tags=["ai", "prompts"], author_id=None, doc_date=dt.date(2025, 5, 1),
        pair_id=None, embedders=embedders,
    )  # fmt: skip
    args.update(extra)
    return replace_chunks(session, **args)


def _log(session: Session) -> list[tuple[str, str]]:
    return [(r.doc_key, r.op) for r in session.scalars(select(ChangeLog).order_by(ChangeLog.id))]


def test_replace_chunks_writes_chunks_vectors_and_one_log_row(session, embedders, fake_embedder):
    assert _write(session, embedders, text=LONG)
    session.commit()
    chunks = session.scalars(select(Chunk).order_by(Chunk.position)).all()
    planned = plan_chunks("Prompting", LONG)
    assert len(chunks) == len(planned) > 1
    for chunk, plan in zip(chunks, planned, strict=True):
        assert chunk.text == plan.text
        assert chunk.text_hash == text_hash(embedding_text("Prompting", plan.text))
        assert chunk.tags == "ai;prompts" and chunk.pair_id is None
        [emb] = chunk.embeddings
        assert emb.model == fake_embedder.name
        expected = fake_embedder.embed_passages([plan.embed_text])[0]
        assert np.allclose(np.frombuffer(emb.vector, dtype=np.float32), expected)
    assert _log(session) == [("guide:1", "upsert")]


def test_unchanged_document_writes_nothing(session, counting_embedders, counting):
    _write(session, counting_embedders, text=LONG)
    session.commit()
    ids = session.scalars(select(Chunk.id)).all()
    calls = counting.calls
    assert not _write(session, counting_embedders, text=LONG)
    session.commit()
    assert counting.calls == calls  # nothing embedded
    assert session.scalars(select(Chunk.id)).all() == ids  # rows untouched
    assert len(_log(session)) == 1


def test_changed_document_reuses_vectors_of_unchanged_passages(
    session, counting_embedders, counting
):
    _write(session, counting_embedders, text=LONG)
    session.commit()
    before = plan_chunks("Prompting", LONG)
    counting.passages.clear()
    changed = LONG.replace("Paragraph 5 explains", "Paragraph 5 now covers")
    assert _write(session, counting_embedders, text=changed)
    session.commit()
    after = plan_chunks("Prompting", changed)
    new_texts = {p.embed_text for p in after} - {p.embed_text for p in before}
    assert new_texts and set(counting.passages) == new_texts
    assert len(after) - len(new_texts) >= 1  # at least one passage was reused
    assert session.scalar(select(func.count()).select_from(Chunk)) == len(after)
    assert session.scalar(select(func.count()).select_from(ChunkEmbedding)) == len(after)
    assert _log(session) == [("guide:1", "upsert"), ("guide:1", "upsert")]


def test_metadata_change_rewrites_chunks_without_embedding(session, counting_embedders, counting):
    _write(session, counting_embedders)
    session.commit()
    counting.passages.clear()
    assert _write(session, counting_embedders, tags=["ai", "new-tag"])
    session.commit()
    assert counting.passages == []
    assert session.scalar(select(Chunk.tags)) == "ai;new-tag"
    assert len(_log(session)) == 2


def test_given_vectors_are_stored_as_is(session, counting_embedders, counting):
    planned = plan_chunks("Prompting", LONG)
    rows = np.random.default_rng(1).random((len(planned), 64)).astype(np.float32)
    _write(session, counting_embedders, text=LONG, vectors={"fake": rows})
    session.commit()
    assert counting.calls == 0
    stored = session.scalars(
        select(ChunkEmbedding.vector).join(Chunk).order_by(Chunk.position)
    ).all()
    assert np.allclose(np.vstack([np.frombuffer(v, np.float32) for v in stored]), rows)


def test_vectors_of_other_models_survive_for_unchanged_passages(session, embedders):
    other = {"other": FakeEmbedder(dim=8, name="other")}
    _write(session, {**embedders, **other}, text=LONG)
    session.commit()
    # Re-import with only one model and one changed paragraph: unchanged passages keep "other".
    changed = LONG.replace("Paragraph 0 explains", "Paragraph 0 describes")
    _write(session, embedders, text=changed)
    session.commit()
    models = session.execute(
        select(Chunk.position, ChunkEmbedding.model).join(ChunkEmbedding)
    ).all()
    assert ("fake" in {m for _, m in models}) and ("other" in {m for _, m in models})
    assert not _write(session, embedders, text=changed)  # a subset of models is "unchanged"


def test_remove_chunks_deletes_and_logs_once(session, embedders):
    _write(session, embedders, text=LONG)
    session.commit()
    assert remove_chunks(session, "guide:1")
    session.commit()
    assert session.scalar(select(func.count()).select_from(Chunk)) == 0
    assert session.scalar(select(func.count()).select_from(ChunkEmbedding)) == 0
    assert not remove_chunks(session, "guide:1")
    assert _log(session) == [("guide:1", "upsert"), ("guide:1", "delete")]


def test_empty_text_removes_the_document(session, embedders):
    _write(session, embedders)
    session.commit()
    assert _write(session, embedders, text="   ")
    assert _log(session)[-1] == ("guide:1", "delete")


def test_preloaded_embedders_embed_many_documents_in_one_batch(
    session, counting_embedders, counting
):
    docs = [(f"Title {i}", f"Text of document {i}. " * 5) for i in range(20)]
    texts = [p.embed_text for title, text in docs for p in plan_chunks(title, text)]
    preloaded = preload_embedders(session, texts, counting_embedders, batch_size=64)
    assert counting.calls == 1
    for i, (title, text) in enumerate(docs):
        _write(session, preloaded, doc_key=f"guide:{i}", doc_id=i, title=title, text=text)
    session.commit()
    assert counting.calls == 1 and preloaded["fake"].misses == 0
    assert session.scalar(select(func.count()).select_from(ChunkEmbedding)) == 20
    # Stored vectors are reused: a second preload of the same texts embeds nothing.
    preload_embedders(session, texts, counting_embedders)
    assert counting.calls == 1


def test_failure_after_writing_chunks_leaves_nothing(sessions, embedders):
    with pytest.raises(RuntimeError), transaction(sessions) as session:
        _write(session, embedders, text=LONG)
        raise RuntimeError("boom")
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Chunk)) == 0
        assert _log(session) == []
