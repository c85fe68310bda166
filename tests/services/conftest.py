"""A small world for service tests: HR, two pairs, an outsider."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from kb.models import Pair, Person, Programme
from kb.services.pairs import add_pair
from kb.services.people import person_record, upsert_people
from kb.services.programmes import upsert_programme


@dataclass
class World:
    hr: Person
    mentor: Person
    mentee: Person
    mentor2: Person
    mentee2: Person
    outsider: Person
    programme: Programme
    pair: Pair
    pair2: Pair


@pytest.fixture
def world(session: Session) -> World:
    rows = [
        {"name": "Hanna HR", "email": "hr@example.com", "roles": "hr", "languages": "pl;en"},
        {"name": "Mia Mentor", "email": "mia@example.com", "roles": "mentor",
         "languages": "en", "capacity": "2", "manager_email": "hr@example.com"},
        {"name": "Sam Senior", "email": "sam@example.com", "roles": "mentee", "languages": "en"},
        {"name": "Max Mentor", "email": "max@example.com", "roles": "mentor", "languages": "pl"},
        {"name": "Ola Senior", "email": "ola@example.com", "roles": "mentee", "languages": "pl"},
        {"name": "Otto Outsider", "email": "otto@example.com", "roles": "mentor;mentee"},
    ]  # fmt: skip
    people = [p for p, _ in upsert_people(session, [person_record(r) for r in rows])]
    programme, _ = upsert_programme(
        session, slug="spring", name="Spring round", starts=dt.date(2025, 3, 1),
        ends=dt.date(2025, 8, 31), status="running",
    )  # fmt: skip
    pair = add_pair(session, programme, people[1], people[2], status="active")
    pair2 = add_pair(session, programme, people[3], people[4], status="active")
    session.commit()
    return World(*people, programme=programme, pair=pair, pair2=pair2)
