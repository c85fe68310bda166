"""iCalendar (RFC 5545) files for planned sessions: one event per file, or a person's feed.

Pure text building: CRLF line ends, lines folded at 75 octets (never inside a UTF-8
character), TEXT values escaped, times in UTC. An event names the pair and the topic tags,
never anything a pair wrote. Feed tokens (the secret address) live here too.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.errors import NotFound
from kb.i18n import N_
from kb.models import CalendarFeed, Meeting, Person, split_list

PRODID = "-//Tandem//Mentoring sessions//EN"
STATUS = {"planned": "CONFIRMED", "held": "CONFIRMED", "cancelled": "CANCELLED"}


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and newlines escaped."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value.replace("\n", "\\n")


def fold(line: str, limit: int = 75) -> str:
    """Split a content line into lines of at most ``limit`` octets, continuation lines
    starting with one space (RFC 5545 3.1); UTF-8 characters are never cut."""
    out: list[str] = []
    current, size = "", 0
    room = limit
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > room:
            out.append(current)
            current, size = "", 0
            room = limit - 1  # the leading space counts
        current += char
        size += width
    out.append(current)
    return "\r\n ".join(out)


def utc_stamp(at: dt.datetime) -> str:
    """A naive-UTC (or aware) datetime as an RFC 5545 UTC DATE-TIME (``...Z``)."""
    if at.tzinfo is not None:
        at = at.astimezone(dt.UTC).replace(tzinfo=None)
    return at.strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class Event:
    uid: str
    starts: dt.datetime  # naive UTC
    ends: dt.datetime
    summary: str
    description: str
    status: str
    sequence: int
    categories: tuple[str, ...]
    modified: dt.datetime


def event_for(meeting: Meeting, summary: str, description: str) -> Event:
    return Event(
        uid=meeting.uid, starts=meeting.starts_at, ends=meeting.ends_at, summary=summary,
        description=description, status=STATUS.get(meeting.status, "CONFIRMED"),
        sequence=meeting.sequence or 0, categories=tuple(split_list(meeting.tags)),
        modified=meeting.updated_at or meeting.created_at,
    )  # fmt: skip


def event_lines(event: Event, now: dt.datetime) -> list[str]:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{escape_text(event.uid)}",
        f"DTSTAMP:{utc_stamp(now)}",
        f"DTSTART:{utc_stamp(event.starts)}",
        f"DTEND:{utc_stamp(event.ends)}",
        f"SEQUENCE:{event.sequence}",
        f"LAST-MODIFIED:{utc_stamp(event.modified)}",
        f"SUMMARY:{escape_text(event.summary)}",
        f"STATUS:{event.status}",
        "TRANSP:OPAQUE",
    ]
    if event.description:
        lines.append(f"DESCRIPTION:{escape_text(event.description)}")
    if event.categories:
        lines.append("CATEGORIES:" + ",".join(escape_text(c) for c in event.categories))
    lines.append("END:VEVENT")
    return lines


def calendar_text(events: Iterable[Event], now: dt.datetime, name: str = "Tandem") -> str:
    """A whole VCALENDAR object, CRLF-terminated and folded."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
    ]
    for event in events:
        lines.extend(event_lines(event, now))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


# --- the secret feed address -------------------------------------------------------------------


def feed_of(session: Session, person: Person) -> CalendarFeed | None:
    return session.scalar(select(CalendarFeed).where(CalendarFeed.person_id == person.id))


def new_feed(session: Session, person: Person) -> CalendarFeed:
    """A fresh secret address for ``person``; the previous one stops working."""
    feed = feed_of(session, person)
    token = secrets.token_urlsafe(32)
    if feed is None:
        feed = CalendarFeed(person_id=person.id, token=token)
        session.add(feed)
    else:
        feed.token = token
        feed.created_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    session.flush()
    return feed


def revoke_feed(session: Session, person: Person) -> bool:
    feed = feed_of(session, person)
    if feed is None:
        return False
    session.delete(feed)
    session.flush()
    return True


def person_for_token(session: Session, token: str) -> Person:
    """Whose feed ``token`` opens; an unknown or revoked token, or a deactivated account,
    is not found."""
    if not token or len(token) > 64:
        raise NotFound(N_("No such calendar."))
    feed = session.scalar(select(CalendarFeed).where(CalendarFeed.token == token))
    if feed is None:
        raise NotFound(N_("No such calendar."))
    person = session.get(Person, feed.person_id)
    if person is None or not person.active:
        raise NotFound(N_("No such calendar."))
    return person
