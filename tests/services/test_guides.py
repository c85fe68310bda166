from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.models import ChangeLog, Chunk
from kb.services.guides import (
    archive,
    create_guide,
    get_guide,
    list_guides,
    list_revisions,
    publish,
    save_revision,
    unpublish,
)

BODY = """# Prompting for managers

Read [the official guide](https://example.com/guide) first, then **practise**.

- ask for a *draft*
- then ask for critique

Watch [the video](https://youtu.be/abc123).
"""


def _chunks(session, key):
    return session.scalars(select(Chunk).where(Chunk.doc_key == key)).all()


def _log(session):
    return [(r.doc_key, r.op) for r in session.scalars(select(ChangeLog).order_by(ChangeLog.id))]


@pytest.fixture
def draft(session, world):
    guide = create_guide(
        session,
        world.mentor,
        title="Prompting 101",
        body_md=BODY,
        language="en",
        tags="AI, prompts",
    )
    session.commit()
    return guide


def test_draft_is_private_to_its_author_and_not_indexed(session, world, draft):
    assert draft.status == "draft" and draft.slug == "prompting-101" and draft.tags == "ai;prompts"
    assert [r.number for r in draft.revisions] == [1]
    assert get_guide(session, draft.slug, world.mentor) is draft
    for user in (world.mentee, world.hr, None):
        with pytest.raises(NotFound):
            get_guide(session, draft.slug, user)
    assert _chunks(session, f"guide:{draft.id}") == [] and _log(session) == []
    assert list_guides(session, world.mentee) == []


def test_publish_indexes_plain_text(session, world, draft, embedders):
    publish(session, draft, world.mentor, embedders, published_on=dt.date(2025, 4, 2))
    session.commit()
    [chunk] = _chunks(session, f"guide:{draft.id}")
    assert chunk.doc_type == "guide" and chunk.pair_id is None
    assert chunk.doc_date == dt.date(2025, 4, 2) and chunk.author_id == world.mentor.id
    assert "Prompting for managers" in chunk.text  # heading kept as text
    assert "the official guide" in chunk.text and "the video" in chunk.text  # link texts
    for markup in ("#", "**", "](", "https://", "- ask"):
        assert markup not in chunk.text
    assert get_guide(session, draft.slug, world.mentee) is draft
    assert _log(session) == [(f"guide:{draft.id}", "upsert")]


def test_only_the_author_edits_and_publishes(session, world, draft, embedders):
    publish(session, draft, world.mentor, embedders)
    with pytest.raises(PermissionDenied, match="author"):
        save_revision(session, draft, world.mentee, title="x", body_md="y", embedders=embedders)
    with pytest.raises(PermissionDenied, match="author"):
        save_revision(session, draft, world.hr, title="x", body_md="y", embedders=embedders)
    other = create_guide(session, world.mentor, title="Secret draft", body_md="x", language="en")
    with pytest.raises(NotFound):  # someone else's draft does not exist for them
        publish(session, other, world.mentor2, embedders)


def test_revisions_and_reindexing(session, world, draft, embedders):
    publish(session, draft, world.mentor, embedders)
    session.commit()
    rev = save_revision(
        session,
        draft,
        world.mentor,
        title="Prompting 102",
        body_md=BODY + "\nNew paragraph about context windows.\n",
        embedders=embedders,
    )
    session.commit()
    assert rev.number == 2 and draft.title == "Prompting 102"
    assert [r.number for r in list_revisions(session, draft, world.mentee)] == [1, 2]
    [chunk] = _chunks(session, f"guide:{draft.id}")
    assert "context windows" in chunk.text and chunk.title == "Prompting 102"
    # Saving the same text again adds no revision and writes no chunks.
    log = _log(session)
    save_revision(
        session,
        draft,
        world.mentor,
        title="Prompting 102",
        body_md=BODY + "\nNew paragraph about context windows.\n",
        embedders=embedders,
    )
    session.commit()
    assert len(draft.revisions) == 2 and _log(session) == log


def test_unpublish_and_archive_remove_chunks(session, world, draft, embedders):
    publish(session, draft, world.mentor, embedders)
    unpublish(session, draft, world.mentor)
    assert _chunks(session, f"guide:{draft.id}") == []
    publish(session, draft, world.mentor, embedders)
    with pytest.raises(PermissionDenied):
        archive(session, draft, world.mentee)
    archive(session, draft, world.hr)
    session.commit()
    assert draft.status == "archived" and _chunks(session, f"guide:{draft.id}") == []
    assert [op for _, op in _log(session)] == ["upsert", "delete", "upsert", "delete"]
    assert get_guide(session, draft.slug, world.hr) is draft
    with pytest.raises(NotFound):
        get_guide(session, draft.slug, world.mentee)


def test_validation(session, world, embedders):
    with pytest.raises(ValidationError, match="title"):
        create_guide(session, world.mentor, title="  ", body_md="x", language="en")
    with pytest.raises(ValidationError, match="unknown language 'de'"):
        create_guide(session, world.mentor, title="T", body_md="x", language="de")
    empty = create_guide(session, world.mentor, title="Empty", body_md="", language="en")
    with pytest.raises(ValidationError, match="empty guide"):
        publish(session, empty, world.mentor, embedders)
    twin = create_guide(session, world.mentor, title="Empty", body_md="", language="en")
    assert twin.slug == "empty-2"
    with pytest.raises(ValidationError, match="already taken"):
        create_guide(session, world.mentor, title="T", body_md="", language="en", slug="empty")
