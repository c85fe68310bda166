"""A pair's planned sessions: plan (date, time, length, topic tags), mark held or cancelled.

Either member can; nobody else (HR included) touches them here: HR sees counts and dates on
the health page. Times are stored in UTC; a planner gives a local time and its zone.
Writes flush, never commit.
"""

from __future__ import annotations

import datetime as dt
import secrets
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kb.errors import NotFound, ValidationError
from kb.i18n import N_
from kb.models import MEETING_STATUSES, Meeting, Pair, Person, join_list, split_list
from kb.services import inbox

DEFAULT_ZONE = "Europe/Warsaw"
ZONES = ("Europe/Warsaw", "Europe/London", "Europe/Berlin", "Europe/Vilnius", "Europe/Kyiv",
         "Europe/Moscow", "UTC")  # fmt: skip
PLANNABLE = ("active", "paused")  # pairs that meet (or will again)
MIN_MINUTES, MAX_MINUTES = 15, 480
MAX_TAGS = 10


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValidationError(
            N_("Unknown time zone %(zone)s."), field="zone", zone=str(name)
        ) from error


def to_utc(day: dt.date, at: dt.time, zone_name: str | None = None) -> dt.datetime:
    """A local date and time in ``zone_name`` as naive UTC (how the database keeps times)."""
    local = dt.datetime.combine(day, at, tzinfo=zone(zone_name))
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def to_local(at: dt.datetime, zone_name: str | None = None) -> dt.datetime:
    return at.replace(tzinfo=dt.UTC).astimezone(zone(zone_name))


def member_pair(session: Session, pair_id: int, person: Person) -> Pair:
    """The pair, for its two members only; anyone else learns nothing (404)."""
    pair = session.get(Pair, pair_id)
    if pair is None or not pair.has_member(person.id):
        raise NotFound(N_("No such pair."))
    return pair


def get_meeting(session: Session, meeting_id: int, person: Person) -> Meeting:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None or not meeting.pair.has_member(person.id):
        raise NotFound(N_("No such session."))
    return meeting


def clean_tags(tags: list[str] | str) -> str:
    values = split_list(tags.replace(",", ";")) if isinstance(tags, str) else tags
    cleaned = []
    for tag in values:
        tag = " ".join(tag.split()).lower()
        if len(tag) > 40:
            raise ValidationError(N_("A topic tag is at most 40 characters."), field="tags")
        if tag and tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise ValidationError(N_("At most %(count)s topic tags."), field="tags", count=MAX_TAGS)
    return join_list(cleaned)


def partner(pair: Pair, person: Person) -> Person:
    return pair.mentee if pair.mentor_id == person.id else pair.mentor


def when_text(meeting: Meeting, zone_name: str | None = None) -> str:
    """How notices name a session's time: local date and time with the zone's name."""
    local = to_local(meeting.starts_at, zone_name)
    return f"{local:%Y-%m-%d %H:%M} ({zone(zone_name).key})"


def plan_meeting(
    session: Session,
    pair: Pair,
    person: Person,
    *,
    day: dt.date,
    start: dt.time,
    minutes: int,
    tags: list[str] | str = "",
    zone_name: str | None = None,
) -> Meeting:
    """A member plans a session of their pair; the other member gets a notice."""
    if not pair.has_member(person.id):
        raise NotFound(N_("No such pair."))
    if pair.status not in PLANNABLE:
        raise ValidationError(N_("Only an active or paused pair plans sessions."), field="status")
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise ValidationError(
            N_("A session lasts %(low)s to %(high)s minutes."), field="minutes",
            low=MIN_MINUTES, high=MAX_MINUTES,
        )  # fmt: skip
    meeting = Meeting(
        pair_id=pair.id, starts_at=to_utc(day, start, zone_name), minutes=minutes,
        tags=clean_tags(tags), status="planned", uid=f"{secrets.token_hex(16)}@tandem",
        created_by_id=person.id,
    )  # fmt: skip
    session.add(meeting)
    session.flush()
    inbox.notify(
        session, partner(pair, person), "session_planned",
        {"who": person.name, "when": when_text(meeting, zone_name)}, link="/pair",
    )  # fmt: skip
    return meeting


def mark_meeting(
    session: Session, meeting: Meeting, person: Person, status: str, zone_name: str | None = None
) -> Meeting:
    """A member marks a session held, cancelled (missed) or planned again."""
    if not meeting.pair.has_member(person.id):
        raise NotFound(N_("No such session."))
    if status not in MEETING_STATUSES:
        raise ValidationError(N_("Unknown session status."), field="status")
    if status == meeting.status:
        return meeting
    meeting.status = status
    meeting.sequence = (meeting.sequence or 0) + 1  # calendars replace the older event
    session.flush()
    inbox.notify(
        session, partner(meeting.pair, person), "session_changed",
        {"who": person.name, "when": when_text(meeting, zone_name), "status": status},
        link="/pair",
    )  # fmt: skip
    return meeting


def meetings_for_pair(session: Session, pair: Pair) -> list[Meeting]:
    return list(
        session.scalars(
            select(Meeting).where(Meeting.pair_id == pair.id).order_by(Meeting.starts_at)
        )
    )


def meetings_for_person(session: Session, person: Person) -> list[Meeting]:
    """Every session of every pair the person belongs to, oldest first."""
    return list(
        session.scalars(
            select(Meeting)
            .join(Pair, Pair.id == Meeting.pair_id)
            .where(or_(Pair.mentor_id == person.id, Pair.mentee_id == person.id))
            .order_by(Meeting.starts_at)
        )
    )
