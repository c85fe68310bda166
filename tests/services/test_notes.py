from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from kb.errors import NotFound
from kb.models import ChangeLog, Chunk, SharedInsight
from kb.services.notes import (
    consent_insight,
    create_note,
    delete_note,
    get_insight,
    get_note,
    notes_for_pair,
    pending_insights,
    propose_insight,
    update_note,
    withdraw_insight,
)

SECRET = "We talked about the Zyxelgate reorganisation and how Sam feels about it."
EXCERPT = "Start a prompt with the role, the goal and an example of the answer you want."


def _chunks(session, key):
    return session.scalars(select(Chunk).where(Chunk.doc_key == key)).all()


@pytest.fixture
def note(session, world, embedders):
    note = create_note(
        session, world.pair, world.mentor, title="Session 3: prompts and worries",
        body_md=f"## Notes\n\n{SECRET}\n\n{EXCERPT}", language="en", tags=["ai", "private-tag"],
        session_date=dt.date(2025, 4, 10), embedders=embedders,
    )  # fmt: skip
    session.commit()
    return note


def test_note_chunks_are_private_to_the_pair(session, world, note):
    [chunk] = _chunks(session, f"note:{note.id}")
    assert chunk.pair_id == world.pair.id and chunk.doc_type == "note"
    assert "Zyxelgate" in chunk.text and chunk.doc_date == dt.date(2025, 4, 10)


def test_only_members_see_notes_and_outsiders_learn_nothing(session, world, note):
    assert get_note(session, note.id, world.mentee) is note
    for user in (world.hr, world.outsider, world.mentor2, None):
        with pytest.raises(NotFound) as error:
            get_note(session, note.id, user)
        assert str(error.value) == f"note {note.id} not found"
        assert "Zyxelgate" not in str(error.value) and "Session 3" not in str(error.value)
    with pytest.raises(NotFound) as missing:
        get_note(session, 999_999, world.hr)
    assert str(missing.value) == "note 999999 not found"
    with pytest.raises(NotFound):
        notes_for_pair(session, world.pair, world.hr)
    assert notes_for_pair(session, world.pair, world.mentee) == [note]


def test_author_must_be_a_member(session, world, embedders):
    with pytest.raises(NotFound):
        create_note(
            session,
            world.pair,
            world.outsider,
            title="t",
            body_md="b",
            language="en",
            embedders=embedders,
        )


def test_update_note_reindexes_and_outsider_cannot(session, world, note, embedders):
    assert update_note(session, note, world.mentee, body_md="Only this now.", embedders=embedders)
    [chunk] = _chunks(session, f"note:{note.id}")
    assert chunk.text == "Only this now."
    with pytest.raises(NotFound):
        update_note(session, note, world.hr, body_md="x", embedders=embedders)


def test_consent_flow(session, world, note, embedders):
    insight = propose_insight(session, note, world.mentor, EXCERPT, embedders=embedders)
    session.commit()
    key = f"insight:{insight.id}"
    assert not insight.published and _chunks(session, key) == []
    assert pending_insights(session, world.mentee) == [insight]
    assert pending_insights(session, world.mentor) == []
    # Unpublished insights are the pair's business only.
    with pytest.raises(NotFound):
        get_insight(session, insight.id, world.outsider)
    with pytest.raises(NotFound):
        consent_insight(session, insight, world.outsider, embedders=embedders)

    consent_insight(session, insight, world.mentee, embedders=embedders)
    session.commit()
    assert insight.published
    [chunk] = _chunks(session, key)
    assert chunk.doc_type == "insight" and chunk.pair_id is None
    assert chunk.text == EXCERPT  # the excerpt only: never the note's body, title or tags
    for private in ("Zyxelgate", "Session 3", "worries", "private-tag"):
        assert private not in chunk.text and private not in chunk.title
        assert private not in chunk.tags
    assert get_insight(session, insight.id, world.outsider) is insight

    withdraw_insight(session, insight, world.mentee)
    session.commit()
    assert _chunks(session, key) == [] and session.scalars(select(SharedInsight)).all() == []
    ops = [(r.doc_key, r.op) for r in session.scalars(select(ChangeLog).order_by(ChangeLog.id))]
    assert ops[-2:] == [(key, "upsert"), (key, "delete")]


def test_new_text_needs_consent_again(session, world, note, embedders):
    insight = propose_insight(session, note, world.mentor, EXCERPT, embedders=embedders)
    consent_insight(session, insight, world.mentee, embedders=embedders)
    assert _chunks(session, f"insight:{insight.id}")
    # Proposing the same text again changes nothing.
    propose_insight(session, note, world.mentor, EXCERPT, embedders=embedders)
    assert insight.published
    propose_insight(session, note, world.mentee, "A different excerpt.", embedders=embedders)
    assert not insight.published and insight.mentee_consent_at is not None
    assert _chunks(session, f"insight:{insight.id}") == []


def test_outsider_cannot_propose_or_withdraw(session, world, note, embedders):
    with pytest.raises(NotFound):
        propose_insight(session, note, world.hr, "x", embedders=embedders)
    insight = propose_insight(session, note, world.mentor, EXCERPT, embedders=embedders)
    with pytest.raises(NotFound):
        withdraw_insight(session, insight, world.hr)


def test_delete_note_takes_its_insight_along(session, world, note, embedders):
    insight = propose_insight(session, note, world.mentor, EXCERPT, embedders=embedders)
    consent_insight(session, insight, world.mentee, embedders=embedders)
    delete_note(session, note, world.mentee)
    session.commit()
    assert session.scalars(select(Chunk)).all() == []
