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


# -- the programme's template and personal data in excerpts -------------------------------


def test_compose_body_uses_the_given_headings_in_template_order():
    from kb.services.notes import compose_body

    headings = {"learned": "Czego się nauczyliśmy", "next": "Następne kroki"}
    sections = {"next": " Try Copilot. ", "learned": "Pivot tables.", "tried": ""}
    body = compose_body(sections, headings)
    assert body == "## Czego się nauczyliśmy\n\nPivot tables.\n\n## Następne kroki\n\nTry Copilot."
    assert compose_body({}, headings) == ""
    # A section without a translated heading keeps the template's English name.
    assert compose_body({"worked": "Short prompts."}, {}) == "## What worked\n\nShort prompts."


def test_find_personal_data_finds_emails_phones_and_directory_names():
    from kb.services.notes import PersonalData, find_personal_data

    text = (
        "Write to anna.k+ai@example.co.uk or call +48 601 234 567 (or (22) 555-01-99). "
        "ANNA   mentor helped; the session of 2024-04-10 went well; 3 tips."
    )
    found = find_personal_data(text, ["Anna Mentor", "Bogdan Mentee", ""])
    assert found == [
        PersonalData("email", "anna.k+ai@example.co.uk"),
        PersonalData("phone", "+48 601 234 567"),
        PersonalData("phone", "(22) 555-01-99"),
        PersonalData("name", "ANNA   mentor"),
    ]


def test_find_personal_data_stays_quiet_on_ordinary_text():
    from kb.services.notes import find_personal_data

    text = "Start a prompt with the role. Version 2024.04.10, 12 345 rows, Annabelle Mentorship."
    assert find_personal_data(text, ["Anna Mentor", "Bel"]) == []


def test_personal_data_in_reads_names_from_the_directory(session, world):
    from kb.services.notes import personal_data_in

    name = world.mentee.name
    found = personal_data_in(session, f"Thanks to {name} for the idea.")
    assert [(f.kind, f.text) for f in found] == [("name", name)]


def test_deleting_a_note_logs_its_removal_and_its_insight_leaves(session, world, note, embedders):
    insight = propose_insight(session, note, world.mentor, EXCERPT, embedders=embedders)
    consent_insight(session, insight, world.mentee, embedders=embedders)
    insight_id = insight.id
    session.commit()
    assert _chunks(session, f"insight:{insight_id}")
    delete_note(session, note, world.mentee)
    session.commit()
    assert _chunks(session, f"note:{note.id}") == []
    assert _chunks(session, f"insight:{insight_id}") == []
    deleted = select(ChangeLog.doc_key, ChangeLog.op).where(ChangeLog.op == "delete")
    ops = session.execute(deleted).all()
    assert (f"note:{note.id}", "delete") in ops and (f"insight:{insight_id}", "delete") in ops
