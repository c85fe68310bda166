"""Every path that makes or starts a pair keeps the management-chain rule; proposals keep the
history of pairs they drop; HR pairs by hand and swaps mentors."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.errors import ValidationError
from kb.models import AuditEntry, Pair, PairChange, Person
from kb.services import pairs
from kb.services.people import person_record, upsert_people
from kb.services.programmes import PairRecord, ProgrammeRecord, upsert_programme_record
from tests.services.conftest import World

CHAIN = "management chain"


@pytest.fixture
def boss(session: Session, world: World) -> Person:
    """Bea manages Kai (a mentor), who manages Lea: Bea is a mentee, Lea a mentee too."""
    rows = [
        {"name": "Bea Boss", "email": "bea@example.com", "roles": "mentee", "languages": "en"},
        {"name": "Kai Kid", "email": "kai@example.com", "roles": "mentor", "languages": "en",
         "manager_email": "bea@example.com", "capacity": "3"},
        {"name": "Lea Low", "email": "lea@example.com", "roles": "mentee", "languages": "en",
         "manager_email": "kai@example.com"},
        {"name": "Zed Zero", "email": "zed@example.com", "roles": "mentee", "languages": "en",
         "manager_email": "lea@example.com"},
    ]  # fmt: skip
    upsert_people(session, [person_record(r) for r in rows])
    session.commit()
    return pairs.get_person_by_email(session, "bea@example.com")


def person(session: Session, email: str) -> Person:
    return pairs.get_person_by_email(session, email)


def test_manual_pair_refuses_the_management_chain_both_ways(session, world, boss) -> None:
    kai = person(session, "kai@example.com")
    with pytest.raises(ValidationError, match=CHAIN):  # the mentee manages the mentor
        pairs.create_pair(session, world.programme, kai, boss, world.hr)
    with pytest.raises(ValidationError, match=CHAIN):  # the mentor manages the mentee's boss
        pairs.create_pair(
            session, world.programme, kai, person(session, "zed@example.com"), world.hr
        )
    with pytest.raises(ValidationError, match=CHAIN):
        pairs.add_pair(session, world.programme, kai, person(session, "lea@example.com"))
    assert session.scalar(select(Pair).where(Pair.mentor_id == kai.id)) is None
    pair = pairs.create_pair(session, world.programme, world.mentor2, boss, world.hr)
    assert (pair.status, pair.locked) == ("proposed", True)


def test_import_refuses_the_management_chain(session, world, boss) -> None:
    record = ProgrammeRecord(
        slug="autumn",
        name="Autumn",
        pairs=(PairRecord("kai@example.com", "bea@example.com", status="active"),),
    )
    with pytest.raises(ValidationError, match=CHAIN):
        upsert_programme_record(session, record)


def test_proposal_save_and_lock_refuse_the_management_chain(session, world, boss) -> None:
    with pytest.raises(ValidationError, match=CHAIN):
        pairs.store_proposed(session, "spring", [("kai@example.com", "bea@example.com")], world.hr)
    with pytest.raises(ValidationError, match=CHAIN):
        pairs.lock_pair(session, "spring", "kai@example.com", "lea@example.com", world.hr)


def test_starting_a_pair_refuses_the_management_chain(session, world, boss) -> None:
    """A pair made before the manager field said so cannot start once it does."""
    kai = person(session, "kai@example.com")
    walt = upsert_people(
        session, [person_record({"name": "Walt", "email": "walt@example.com", "roles": "mentee"})]
    )[0][0]
    pair = pairs.add_pair(session, world.programme, kai, walt)
    kai.manager_id = walt.id  # the HR system's next export: Walt is now Kai's manager
    session.flush()
    with pytest.raises(ValidationError, match=CHAIN):
        pairs.set_pair_status(session, pair, "active", world.hr)
    assert pair.status == "proposed"


def test_a_new_proposal_keeps_dropped_pairs_with_their_history(session, world) -> None:
    pairs.store_proposed(session, "spring", [("mia@example.com", "ola@example.com")], world.hr)
    session.commit()
    first = pairs.find_pair(session, world.programme, world.mentor, world.mentee2)
    assert first is not None and first.status == "proposed"
    pairs.store_proposed(session, "spring", [("max@example.com", "sam@example.com")], world.hr)
    session.commit()
    session.refresh(first)
    assert first.status == "dropped"
    trail = [
        c.what
        for c in session.scalars(
            select(PairChange).where(PairChange.pair_id == first.id).order_by(PairChange.id)
        )
    ]
    assert trail[0] == "proposed by matching" and "dropped" in trail[-1]
    again = pairs.store_proposed(
        session, "spring", [("mia@example.com", "ola@example.com")], world.hr
    )
    assert [p.id for p in again] == [first.id] and first.status == "proposed"
    saves = session.scalars(select(AuditEntry).where(AuditEntry.action == "proposal.save"))
    assert len(list(saves)) == 3


def test_swap_mentor_ends_the_old_pair_and_starts_the_new(session, world) -> None:
    old = world.pair  # Mia / Sam, active
    new = pairs.swap_mentor(session, old, world.outsider, world.hr)
    assert (old.status, new.status, new.mentee_id) == ("ended", "active", world.mentee.id)
    assert new.started is not None and old.ended is not None
    assert any("swapped" in c.what for c in old.changes)
    with pytest.raises(ValidationError, match="only a proposed or running pair"):
        pairs.swap_mentor(session, old, world.mentor2, world.hr)


def test_swap_mentor_refuses_a_full_mentor_and_the_chain(session, world, boss) -> None:
    with pytest.raises(ValidationError, match="already has 1 active"):
        pairs.swap_mentor(session, world.pair, world.mentor2, world.hr)  # Max is full
    assert world.pair.status == "active"
    proposed = pairs.create_pair(session, world.programme, world.mentor2, boss, world.hr)
    with pytest.raises(ValidationError, match=CHAIN):
        pairs.swap_mentor(session, proposed, person(session, "kai@example.com"), world.hr)


def test_only_hr_makes_pairs_by_hand(session, world) -> None:
    with pytest.raises(Exception, match="only HR"):
        pairs.create_pair(session, world.programme, world.mentor, world.mentee2, world.mentor)
    with pytest.raises(Exception, match="only HR"):
        pairs.swap_mentor(session, world.pair, world.outsider, world.mentee)
