"""Programmes as HR states them, and enrolment: invite, apply, answer, prepare, accept, leave;
proposals pair enrolled people only."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.errors import PermissionDenied, ValidationError
from kb.models import AuditEntry
from kb.services import enrolment, programmes
from kb.services.programmes import ProgrammeForm
from tests.services.conftest import World


def form(**kw: object) -> ProgrammeForm:
    base: dict[str, object] = {
        "slug": "autumn", "name": "Autumn round", "description": "Seniors learn AI tools.",
        "competences": ("generative-ai", "Hybrid work"), "starts": dt.date(2025, 9, 1),
        "ends": dt.date(2026, 1, 31), "languages": ("pl", "en"), "rhythm_weeks": 2,
        "note_template": "## What we did\n\n## Next time", "open_for_applications": True,
    }  # fmt: skip
    return ProgrammeForm(**{**base, **kw})  # type: ignore[arg-type]


def test_create_and_edit_a_programme_is_audited(session: Session, world: World) -> None:
    created = programmes.save_programme(session, form(), world.hr, create=True)
    assert created.competence_list == ["generative-ai", "hybrid work"]
    assert (created.languages, created.rhythm_weeks) == ("pl;en", 2)
    with pytest.raises(ValidationError, match="exists already"):
        programmes.save_programme(session, form(), world.hr, create=True)
    programmes.save_programme(session, form(rhythm_weeks=3), world.hr, create=False)
    session.commit()
    got = [
        (e.action, programmes.audit.detail_of(e)["fields"])
        for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
    ]
    assert got == [("programme.create", []), ("programme.edit", ["rhythm_weeks"])]
    with pytest.raises(ValidationError, match="1 to 12 weeks"):
        programmes.save_programme(session, form(rhythm_weeks=40), world.hr, create=False)
    with pytest.raises(ValidationError, match="unknown language"):
        programmes.save_programme(session, form(languages=("xx",)), world.hr, create=False)


def test_length_warning_outside_three_to_six_months() -> None:
    start = dt.date(2025, 1, 1)
    assert programmes.length_warning(start, dt.date(2025, 5, 1)) is None
    assert "less than 3" in (programmes.length_warning(start, dt.date(2025, 2, 1)) or "")
    assert "more than 6" in (programmes.length_warning(start, dt.date(2025, 12, 1)) or "")


def test_weights_are_parsed_stored_and_audited(session: Session, world: World) -> None:
    assert programmes.parse_weights({"teach_back": "0,5", "style": ""}) == {"teach_back": 0.5}
    with pytest.raises(ValidationError, match="between 0 and 10"):
        programmes.parse_weights({"expertise": "-1"})
    programmes.set_weights(session, world.programme, {"teach_back": 0.5}, world.hr)
    assert programmes.weights_of(world.programme) == {"teach_back": 0.5}
    entry = session.scalars(select(AuditEntry)).one()
    assert entry.action == "programme.weights"


def test_invitation_accept_preparation_and_hr_acceptance(session: Session, world: World) -> None:
    autumn = programmes.save_programme(session, form(), world.hr, create=True)
    invited = enrolment.invite(session, autumn, world.mentor, "mentor", world.hr)
    with pytest.raises(PermissionDenied):
        enrolment.invite(session, autumn, world.mentee, "mentee", world.mentor)
    with pytest.raises(ValidationError, match="already invited"):
        enrolment.invite(session, autumn, world.mentor, "mentor", world.hr)
    with pytest.raises(ValidationError, match="ready to mentor"):
        enrolment.answer(session, invited, world.mentor, True, expertise="Excel, Copilot")
    enrolment.answer(session, invited, world.mentor, True, expertise="Excel", ready=True)
    assert invited.status == "agreed"
    with pytest.raises(ValidationError, match="preparatory conversation first"):
        enrolment.accept(session, invited, world.hr)
    enrolment.record_preparation(session, invited, dt.date(2025, 8, 20), world.hr)
    enrolment.accept(session, invited, world.hr)
    assert invited.status == "enrolled"
    assert enrolment.enrolled_ids(session, autumn) == ({world.mentor.id}, set())
    actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-3:] == ["enrolment.invite", "enrolment.prepared", "enrolment.accept"]


def test_apply_decline_and_leave_are_voluntary(session: Session, world: World) -> None:
    autumn = programmes.save_programme(session, form(), world.hr, create=True)
    with pytest.raises(ValidationError, match="motivation"):
        enrolment.apply(session, autumn, world.mentee, "mentee", "  ")
    applied = enrolment.apply(session, autumn, world.mentee, "mentee", "I want to learn AI.")
    assert (applied.status, applied.source) == ("agreed", "applied")
    declined = enrolment.invite(session, autumn, world.mentee2, "mentee", world.hr)
    enrolment.answer(session, declined, world.mentee2, False)
    assert declined.status == "declined"
    with pytest.raises(ValidationError, match="already answered"):
        enrolment.answer(session, declined, world.mentee2, True)
    enrolment.leave(session, applied, world.mentee)
    assert applied.status == "left"
    closed = programmes.save_programme(
        session, form(slug="closed", open_for_applications=False), world.hr, create=True
    )
    with pytest.raises(ValidationError, match="does not take applications"):
        enrolment.apply(session, closed, world.mentee, "mentee", "Please.")


def test_leaving_ends_running_pairs_and_drops_proposed(session: Session, world: World) -> None:
    applied = enrolment.apply(
        session,
        programmes.save_programme(
            session,
            form(
                slug="spring",
                name="Spring round",
                starts=dt.date(2025, 3, 1),
                ends=dt.date(2025, 8, 31),
                status="running",
            ),
            world.hr,
            create=False,
        ),
        world.mentee,
        "mentee",
        "Stay curious.",
    )
    enrolment.leave(session, applied, world.mentee)
    assert world.pair.status == "ended" and "left the programme" in world.pair.changes[-1].what
    assert world.pair2.status == "active"
