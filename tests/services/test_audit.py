"""The audit log: entries go with the change (same transaction), filters, no content."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.errors import ValidationError
from kb.models import AuditEntry
from kb.services import audit, pairs
from tests.services.conftest import World


def test_pair_status_change_records_an_entry(session: Session, world: World) -> None:
    pairs.set_pair_status(session, world.pair, "paused", world.hr)
    session.commit()
    entry = session.scalars(select(AuditEntry)).one()
    assert (entry.actor_id, entry.action, entry.target_type, entry.target_id) == (
        world.hr.id,
        "pair.status",
        "pair",
        world.pair.id,
    )
    assert entry.programme_id == world.programme.id
    assert audit.detail_of(entry) == {"from": "active", "to": "paused"}


def test_a_rolled_back_change_leaves_no_entry(session: Session, world: World) -> None:
    pairs.set_pair_status(session, world.pair, "paused", world.hr)
    session.rollback()
    assert session.scalars(select(AuditEntry)).all() == []


def test_an_unchanged_status_records_nothing(session: Session, world: World) -> None:
    pairs.set_pair_status(session, world.pair, "active", world.hr)
    session.commit()
    assert session.scalars(select(AuditEntry)).all() == []


def test_lock_reject_and_proposal_save_are_recorded(session: Session, world: World) -> None:
    pairs.set_pair_locked(session, world.pair, True, world.hr)
    pairs.reject_pair(session, "spring", "mia@example.com", "ola@example.com", world.hr)
    pairs.store_proposed(session, "spring", [("max@example.com", "sam@example.com")], world.hr)
    session.commit()
    got = [
        (e.action, e.actor_id) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
    ]
    assert got == [
        ("pair.lock", world.hr.id),
        ("proposal.reject", world.hr.id),
        ("proposal.save", world.hr.id),
    ]


@pytest.mark.parametrize(
    "key",
    ["note", "body_md", "password", "api_token", "motivation", "comment", "note_text", "mail"],
)
def test_detail_refuses_keys_that_could_carry_content(
    session: Session, world: World, key: str
) -> None:
    with pytest.raises(ValidationError):
        audit.record(session, world.hr, "x", "pair", world.pair.id, detail={key: "secret"})


def test_detail_refuses_long_text_but_keeps_ids_and_dates(session: Session, world: World) -> None:
    with pytest.raises(ValidationError):
        audit.record(session, world.hr, "x", "pair", 1, detail={"title": "x" * 500})
    entry = audit.record(
        session,
        world.hr,
        "x",
        "pair",
        1,
        detail={"note_id": 7, "note_count": 3, "on": dt.date(2025, 1, 2)},
    )
    assert audit.detail_of(entry) == {"note_id": 7, "note_count": 3, "on": "2025-01-02"}


def test_filters(session: Session, world: World) -> None:
    audit.record(session, world.hr, "pair.status", "pair", world.pair.id, world.programme.id)
    audit.record(session, world.mentor, "account.deactivate", "person", world.outsider.id)
    old = audit.record(session, None, "pair.status", "pair", world.pair2.id, world.programme.id)
    old.at = dt.datetime(2020, 1, 5, 23, 59)
    session.commit()

    def actions(**kw: object) -> list[str]:
        found, total = audit.entries(session, audit.AuditFilter(**kw))  # type: ignore[arg-type]
        assert total == len(found)
        return sorted(e.action + ":" + str(e.target_id) for e in found)

    assert len(actions()) == 3
    assert actions(actor_id=world.hr.id) == [f"pair.status:{world.pair.id}"]
    assert actions(action="account.deactivate") == [f"account.deactivate:{world.outsider.id}"]
    assert len(actions(programme_id=world.programme.id)) == 2
    assert actions(since=dt.date(2020, 1, 5), until=dt.date(2020, 1, 5)) == [
        f"pair.status:{world.pair2.id}"
    ]
    assert actions(until=dt.date(2020, 1, 4)) == []
    assert len(actions(since=dt.date(2020, 1, 6))) == 2
    assert [p.id for p in audit.actors(session)] == sorted(
        [world.hr.id, world.mentor.id], key=lambda i: session.get(type(world.hr), i).name
    )
