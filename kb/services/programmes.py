"""Programmes and pairs: upserts with validation, HR-only status changes, lookups."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.models import PAIR_STATUSES, PROGRAMME_STATUSES, Pair, PairChange, Person, Programme

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
RUNNING = ("active", "paused")  # pairs that hold one of their mentor's places
DEFAULT_CAPACITY = 1  # a mentor who left capacity empty takes one mentee


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


def check_dates(starts: dt.date | None, ends: dt.date | None, what: str) -> None:
    if starts and ends and ends < starts:
        raise ValidationError(f"{what} ends ({ends}) before it starts ({starts})")


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


def _check_pair(mentor: Person, mentee: Person, status: str) -> None:
    if mentor.id == mentee.id:
        raise ValidationError(f"{mentor.email} cannot mentor themselves")
    if not mentor.has_role("mentor"):
        raise ValidationError(f"{mentor.email} does not have the mentor role", field="mentor")
    if not mentee.has_role("mentee"):
        raise ValidationError(f"{mentee.email} does not have the mentee role", field="mentee")
    if status not in PAIR_STATUSES:
        raise ValidationError(
            f"unknown pair status {status!r}; use {', '.join(PAIR_STATUSES)}", field="status"
        )


def mentor_capacity(person: Person) -> int:
    """How many running pairs a mentor takes (empty: one; never below zero)."""
    return DEFAULT_CAPACITY if person.capacity is None else max(int(person.capacity), 0)


def running_pairs(session: Session, mentor_id: int, leave_out: int | None = None) -> int:
    """The mentor's places in use: active or paused pairs in any programme."""
    query = select(Pair.id).where(Pair.mentor_id == mentor_id, Pair.status.in_(RUNNING))
    if leave_out is not None:
        query = query.where(Pair.id != leave_out)
    return len(list(session.scalars(query)))


def check_capacity(session: Session, mentor: Person, pair: Pair | None = None) -> None:
    """Refuse to start (or resume) a pair its mentor has no place left for."""
    capacity = mentor_capacity(mentor)
    used = running_pairs(session, mentor.id, pair.id if pair is not None else None)
    if used >= capacity:
        raise ValidationError(
            f"{mentor.email} takes {capacity} mentee(s) and already has {used} active or "
            "paused pair(s); end one of them or raise their capacity first",
            field="status",
        )


def record_change(pair: Pair, what: str, actor: Person | None) -> None:
    """One line of the pair's audit trail (``actor`` None: an import or the command line)."""
    pair.changes.append(PairChange(actor_id=actor.id if actor else None, what=what))


def find_pair(
    session: Session, programme: Programme, mentor: Person, mentee: Person
) -> Pair | None:
    return session.scalar(
        select(Pair).where(
            Pair.programme_id == programme.id,
            Pair.mentor_id == mentor.id,
            Pair.mentee_id == mentee.id,
        )
    )


def add_pair(
    session: Session,
    programme: Programme,
    mentor: Person,
    mentee: Person,
    *,
    status: str = "proposed",
    started: dt.date | None = None,
    ended: dt.date | None = None,
) -> Pair:
    """A new pair in ``programme``; mentor and mentee must hold those roles and differ."""
    _check_pair(mentor, mentee, status)
    check_dates(started, ended, f"pair {mentor.email} / {mentee.email}")
    if find_pair(session, programme, mentor, mentee) is not None:
        raise ValidationError(
            f"{mentor.email} and {mentee.email} are already a pair in {programme.slug!r}"
        )
    if status in RUNNING:
        check_capacity(session, mentor)
    pair = Pair(
        programme_id=programme.id, mentor_id=mentor.id, mentee_id=mentee.id, status=status,
        started=started, ended=ended,
    )  # fmt: skip
    session.add(pair)
    record_change(pair, f"created as {status}", None)
    session.flush()
    return pair


def upsert_pair(
    session: Session,
    programme: Programme,
    mentor: Person,
    mentee: Person,
    *,
    status: str = "proposed",
    started: dt.date | None = None,
    ended: dt.date | None = None,
) -> tuple[Pair, str]:
    """Create the pair or bring its status and dates up to date (imports)."""
    pair = find_pair(session, programme, mentor, mentee)
    if pair is None:
        return add_pair(
            session, programme, mentor, mentee, status=status, started=started, ended=ended
        ), "created"
    _check_pair(mentor, mentee, status)
    check_dates(started, ended, f"pair {mentor.email} / {mentee.email}")
    values = {"status": status, "started": started, "ended": ended}
    if all(getattr(pair, k) == v for k, v in values.items()):
        return pair, "unchanged"
    if status in RUNNING and pair.status not in RUNNING:
        check_capacity(session, mentor, pair)
    changed = [f"{k} {_shown(getattr(pair, k))} → {_shown(v)}" for k, v in values.items()
               if getattr(pair, k) != v]
    for key, value in values.items():
        setattr(pair, key, value)
    record_change(pair, "import: " + ", ".join(changed), None)
    session.flush()
    return pair, "updated"


def _shown(value: object) -> str:
    return "—" if value is None else str(value)


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


def set_pair_status(session: Session, pair: Pair, status: str, user: Person) -> Pair:
    """HR changes a pair's status; starting and ending fill in the dates when missing."""
    if not user.has_role("hr"):
        raise PermissionDenied("only HR can change the status of a pair")
    if status not in PAIR_STATUSES:
        raise ValidationError(
            f"unknown pair status {status!r}; use {', '.join(PAIR_STATUSES)}", field="status"
        )
    if status in RUNNING and pair.status not in RUNNING:
        check_capacity(session, pair.mentor, pair)
    today = dt.date.today()
    if status == "active" and pair.started is None:
        pair.started = today
    if status == "ended" and pair.ended is None:
        pair.ended = today
    if status != pair.status:
        record_change(pair, f"status {pair.status} → {status}", user)
    pair.status = status
    session.flush()
    return pair


def set_pair_locked(session: Session, pair: Pair, locked: bool, user: Person) -> Pair:
    """HR keeps (locks) a pair in proposals so a re-run of matching does not undo it."""
    if not user.has_role("hr"):
        raise PermissionDenied("only HR can lock a pair")
    if locked != pair.locked:
        record_change(pair, "locked" if locked else "unlocked", user)
    pair.locked = locked
    session.flush()
    return pair


def pairs_for_person(
    session: Session, person: Person, statuses: Sequence[str] | None = None
) -> list[Pair]:
    """Pairs the person belongs to (as mentor or mentee), newest first."""
    query = select(Pair).where(or_(Pair.mentor_id == person.id, Pair.mentee_id == person.id))
    if statuses:
        query = query.where(Pair.status.in_(list(statuses)))
    return list(session.scalars(query.order_by(Pair.id.desc())))


def get_pair(session: Session, pair_id: int, user: Person) -> Pair:
    """A pair, for its members and HR only (others learn nothing, not even that it exists)."""
    pair = session.get(Pair, pair_id)
    if pair is None or not (pair.has_member(user.id) or user.has_role("hr")):
        raise NotFound(f"pair {pair_id} not found")
    return pair


def pair_of(
    session: Session, mentor_email: str, mentee_email: str, programme_slug: str | None = None
) -> Pair:
    """The pair of two people (by e-mail), the newest one unless a programme is named."""
    mentor = session.scalar(select(Person).where(Person.email == mentor_email))
    mentee = session.scalar(select(Person).where(Person.email == mentee_email))
    if mentor is None or mentee is None:
        missing = mentor_email if mentor is None else mentee_email
        raise NotFound(f"no person with e-mail {missing!r}")
    pair = None
    # The stated order is tried first; a swapped [mentee, mentor] still names the same pair.
    for first, second in ((mentor, mentee), (mentee, mentor)):
        query = select(Pair).where(Pair.mentor_id == first.id, Pair.mentee_id == second.id)
        if programme_slug:
            query = query.join(Programme).where(Programme.slug == programme_slug)
        pair = session.scalars(query.order_by(Pair.id.desc())).first()
        if pair is not None:
            break
    if pair is None:
        within = f" in programme {programme_slug!r}" if programme_slug else ""
        raise NotFound(f"{mentor_email} and {mentee_email} are not a pair{within}")
    return pair
