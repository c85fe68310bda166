"""Programmes: upserts with validation (a programme file's pairs go through the pairs
service), lookups."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.errors import NotFound, ValidationError
from kb.models import PROGRAMME_STATUSES, Person, Programme
from kb.services.pairs import RUNNING, check_dates, upsert_pair

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")


@dataclass(frozen=True)
class PairRecord:
    mentor_email: str
    mentee_email: str
    status: str = "proposed"
    started: dt.date | None = None
    ended: dt.date | None = None


@dataclass(frozen=True)
class ProgrammeRecord:
    slug: str
    name: str
    starts: dt.date | None = None
    ends: dt.date | None = None
    status: str = "planned"
    pairs: tuple[PairRecord, ...] = field(default_factory=tuple)


def upsert_programme(
    session: Session,
    *,
    slug: str,
    name: str,
    starts: dt.date | None = None,
    ends: dt.date | None = None,
    status: str = "planned",
) -> tuple[Programme, str]:
    """Create or update a programme by slug. Status: created, updated or unchanged."""
    if not SLUG.match(slug or ""):
        raise ValidationError(
            f"{slug!r} is not a slug (lower-case letters, digits and '-')", field="slug"
        )
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        raise ValidationError("a name of 1 to 200 characters is required", field="name")
    if status not in PROGRAMME_STATUSES:
        raise ValidationError(
            f"unknown status {status!r}; use {', '.join(PROGRAMME_STATUSES)}", field="status"
        )
    check_dates(starts, ends, f"programme {slug!r}")
    programme = session.scalar(select(Programme).where(Programme.slug == slug))
    values = {"name": name, "starts": starts, "ends": ends, "status": status}
    if programme is None:
        programme = Programme(slug=slug, **values)
        session.add(programme)
        session.flush()
        return programme, "created"
    if all(getattr(programme, k) == v for k, v in values.items()):
        return programme, "unchanged"
    for key, value in values.items():
        setattr(programme, key, value)
    session.flush()
    return programme, "updated"


def get_programme(session: Session, slug: str) -> Programme:
    programme = session.scalar(select(Programme).where(Programme.slug == slug))
    if programme is None:
        raise NotFound(f"no programme {slug!r}")
    return programme


def upsert_programme_record(
    session: Session, record: ProgrammeRecord
) -> tuple[Programme, str, dict[str, int]]:
    """A programme with its pairs (people must exist). Returns the programme, its own status
    and how many pairs were created / updated / unchanged."""
    programme, status = upsert_programme(
        session, slug=record.slug, name=record.name, starts=record.starts, ends=record.ends,
        status=record.status,
    )  # fmt: skip
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    # Pairs that stop running first, so a mentor's place freed by the same file is free for
    # the pair it starts, whatever the order in the file (numbers stay the file's).
    ordered = sorted(enumerate(record.pairs, start=1), key=lambda ip: ip[1].status in RUNNING)
    for i, pair in ordered:
        where = f"programme {record.slug!r}, pair {i}"
        people = []
        for role, email in (("mentor", pair.mentor_email), ("mentee", pair.mentee_email)):
            person = session.scalar(select(Person).where(Person.email == email))
            if person is None:
                raise ValidationError(f"{where}: unknown {role} {email!r}", field=role)
            people.append(person)
        try:
            _, pair_status = upsert_pair(
                session, programme, people[0], people[1], status=pair.status,
                started=pair.started, ended=pair.ended,
            )  # fmt: skip
        except ValidationError as error:
            raise ValidationError(f"{where}: {error.reason}", field=error.field) from error
        counts[pair_status] += 1
    return programme, status, counts
