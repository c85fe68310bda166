"""Pairs: creation rules, HR-only status and lock changes with their audit trail, lookups."""

from __future__ import annotations

import datetime as dt

import pytest

from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.services.pairs import (
    add_pair,
    get_pair,
    pair_of,
    pairs_for_person,
    set_pair_locked,
    set_pair_status,
)
from kb.services.programmes import PairRecord, ProgrammeRecord, upsert_programme_record


def test_add_pair_rules(session, world):
    with pytest.raises(ValidationError, match="themselves"):
        add_pair(session, world.programme, world.outsider, world.outsider)
    with pytest.raises(ValidationError, match="mentor role"):
        add_pair(session, world.programme, world.mentee, world.mentee2)
    with pytest.raises(ValidationError, match="mentee role"):
        add_pair(session, world.programme, world.mentor, world.mentor2)
    with pytest.raises(ValidationError, match="already a pair"):
        add_pair(session, world.programme, world.mentor, world.mentee)
    with pytest.raises(ValidationError, match="unknown pair status"):
        add_pair(session, world.programme, world.mentor, world.mentee2, status="married")


def test_set_pair_status_is_for_hr_only(session, world):
    with pytest.raises(PermissionDenied, match="only HR"):
        set_pair_status(session, world.pair, "paused", world.mentor)
    set_pair_status(session, world.pair, "ended", world.hr)
    assert world.pair.status == "ended" and world.pair.ended is not None


def test_every_change_to_a_pair_is_in_its_trail_with_who_made_it(session, world):
    pair = add_pair(session, world.programme, world.mentor, world.mentee2)  # Mia takes two
    set_pair_locked(session, pair, True, world.hr)
    set_pair_locked(session, pair, True, world.hr)  # no change, no line
    set_pair_status(session, pair, "active", world.hr)
    with pytest.raises(ValidationError):  # refused: not in the trail
        set_pair_status(session, pair, "married", world.hr)
    with pytest.raises(PermissionDenied):
        set_pair_locked(session, pair, False, world.mentor)
    session.flush()
    session.expire_all()
    assert [(c.what, c.actor) for c in pair.changes] == [
        ("created as proposed", None),
        ("locked", world.hr),
        ("status proposed → active", world.hr),
    ]
    assert all(c.at is not None for c in pair.changes)
    # An import says what it changed; an unchanged line adds nothing.
    record = ProgrammeRecord(
        slug="spring", name="Spring round", status="running",
        pairs=(PairRecord("mia@example.com", "ola@example.com", status="ended",
                          started=pair.started, ended=pair.started + dt.timedelta(days=90)),),
    )  # fmt: skip
    upsert_programme_record(session, record)
    upsert_programme_record(session, record)
    session.expire_all()
    assert pair.changes[-1].actor is None
    ended = pair.started + dt.timedelta(days=90)
    assert pair.changes[-1].what == f"import: status active → ended, ended — → {ended}"
    assert len(pair.changes) == 4


def test_pairs_for_person_and_lookup(session, world):
    assert pairs_for_person(session, world.mentor) == [world.pair]
    assert pairs_for_person(session, world.outsider) == []
    assert pair_of(session, "mia@example.com", "sam@example.com") is world.pair
    assert pair_of(session, "sam@example.com", "mia@example.com") is world.pair  # swapped
    with pytest.raises(NotFound, match="not a pair"):
        pair_of(session, "mia@example.com", "ola@example.com")


def test_get_pair_hides_pairs_from_outsiders(session, world):
    assert get_pair(session, world.pair.id, world.mentee) is world.pair
    assert get_pair(session, world.pair.id, world.hr) is world.pair
    with pytest.raises(NotFound):
        get_pair(session, world.pair.id, world.outsider)


def test_a_pair_runs_only_where_its_mentor_has_a_place(session, world):
    # Max left his capacity empty (one place) and already runs a pair.
    with pytest.raises(ValidationError, match=r"max@example.com takes 1 mentee.*already has 1"):
        add_pair(session, world.programme, world.mentor2, world.mentee, status="active")
    waiting = add_pair(session, world.programme, world.mentor2, world.mentee)  # proposed: fine
    with pytest.raises(ValidationError, match="raise their capacity"):
        set_pair_status(session, waiting, "active", world.hr)
    assert waiting.status == "proposed"
    set_pair_status(session, world.pair2, "ended", world.hr)  # frees his place
    set_pair_status(session, waiting, "active", world.hr)
    set_pair_status(session, waiting, "paused", world.hr)  # keeps its own place
    assert waiting.status == "paused"
    # Mia takes two: a second running pair is fine, a third is not, from an import either.
    add_pair(session, world.programme, world.mentor, world.mentee2, status="paused")
    record = ProgrammeRecord(
        slug="spring", name="Spring round", status="running",
        pairs=(PairRecord("mia@example.com", "otto@example.com", status="active"),),
    )  # fmt: skip
    with pytest.raises(ValidationError, match=r"pair 1: mia@example.com takes 2 mentee"):
        upsert_programme_record(session, record)
    assert pairs_for_person(session, world.outsider) == []
