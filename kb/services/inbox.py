"""The in-app inbox: notices for one person, stored as a kind plus parameters and rendered in
the reader's language when shown (or e-mailed), so a message follows a language change.

``notify`` is idempotent by ``key``: a notice with a key is stored (and e-mailed) once, ever,
however often the reminder command runs. Writes flush, never commit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kb.errors import NotFound, ValidationError
from kb.i18n import N_
from kb.models import InboxMessage, Person, utcnow

# What each kind of notice says, in English; the reader's catalog translates it. Parameters
# are names, titles and dates, never anything a pair wrote.
TEXTS: dict[str, str] = {
    "welcome": N_("Welcome to Tandem. Notices about your sessions and your programme appear here."),
    "session_planned": N_("%(who)s planned a session for %(when)s."),
    "session_changed": N_("%(who)s marked the session of %(when)s as %(status)s."),
    "session_tomorrow": N_("Reminder: your mentoring session is tomorrow, %(when)s."),
    "feedback_due": N_("Your feedback on the programme %(programme)s is due."),
    "pair_flagged": N_("The pair %(pair)s in %(programme)s needs attention: %(flags)s."),
    "help_requested": N_("A member of the pair %(pair)s asked HR for help: %(reason)s."),
    "help_handled": N_("HR has handled your request for help: %(outcome)s."),
    "pair_paused": N_("HR paused your pair in %(programme)s for now."),
    "pair_ended": N_("HR ended your pair in %(programme)s; a new pairing may follow."),
    "pair_repaired": N_("HR gave you a new mentor in %(programme)s."),
    "pair_new_mentor": N_("HR formed a new pair in %(programme)s: %(pair)s."),
    "partner_asked": N_("%(who)s asked HR for help with your pair."),
    "guide_review": N_("Your guide %(title)s is past its review date (%(date)s)."),
}

# Parameter values that are themselves words to translate (a status, a reason, flags).
WORDS: dict[str, str] = {
    "planned": N_("planned"),
    "held": N_("held"),
    "cancelled": N_("cancelled"),
    "sessions": N_("sessions are not happening"),
    "mismatch": N_("a mismatch"),
    "discomfort": N_("discomfort"),
    "other": N_("something else"),
    "paused": N_("the pair is paused"),
    "ended": N_("the pair was ended"),
    "closed": N_("closed without a change"),
    "repaired": N_("a new mentor was found"),
    "no_session": N_("no session for a while"),
    "paused_long": N_("paused for long"),
    "over_capacity": N_("mentor over capacity"),
    "no_note": N_("no note after the first month"),
    "low_feedback": N_("low feedback scores"),
}
TRANSLATED_PARAMS = ("status", "reason", "outcome", "flags")


class Mailer(Protocol):
    """Sends one plain-text e-mail; kb.services.mail's sender fits (does nothing without SMTP)."""

    def __call__(self, to: str, subject: str, body: str) -> bool: ...


Translate = Callable[[str], str]


def identity(text: str) -> str:
    return text


@dataclass(frozen=True)
class Shown:
    """A message as a reader sees it."""

    id: int
    text: str
    link: str
    created_at: Any
    unread: bool


def render(kind: str, params: Mapping[str, Any], translate: Translate = identity) -> str:
    """The notice's text in the language ``translate`` stands for."""
    values: dict[str, Any] = {}
    for name, value in params.items():
        if name in TRANSLATED_PARAMS:
            items = value if isinstance(value, list) else [value]
            value = ", ".join(translate(WORDS.get(str(v), str(v))) for v in items)
        values[name] = value
    template = translate(TEXTS.get(kind, kind))
    try:
        return template % values
    except (KeyError, TypeError, ValueError):  # a catalog slip must not hide the notice
        return TEXTS.get(kind, kind) % values if kind in TEXTS else kind


def safe_link(link: str) -> str:
    """Only a path on this site (a notice never sends anyone elsewhere)."""
    if link and (not link.startswith("/") or link.startswith("//") or "\\" in link):
        raise ValidationError(f"a notice links to a path on this site, not {link!r}")
    return link


def notify(
    session: Session,
    person: Person,
    kind: str,
    params: Mapping[str, Any] | None = None,
    *,
    link: str = "",
    key: str | None = None,
    mailer: Mailer | None = None,
    translate_for: Callable[[Person], Translate] | None = None,
) -> InboxMessage | None:
    """Store a notice for ``person`` (and e-mail it when ``mailer`` is given); None when a
    notice with this ``key`` was stored before, so nothing is sent twice."""
    if kind not in TEXTS:
        raise ValidationError(f"unknown notice kind {kind!r}")
    if key is not None:
        found = session.scalar(select(InboxMessage.id).where(InboxMessage.key == key))
        if found is not None:
            return None
    message = InboxMessage(
        person_id=person.id, kind=kind, params=json.dumps(dict(params or {})),
        link=safe_link(link), key=key,
    )  # fmt: skip
    session.add(message)
    session.flush()
    if mailer is not None and person.active and person.email:
        translate = translate_for(person) if translate_for else identity
        text = render(kind, params or {}, translate)
        subject = translate(N_("Tandem notice"))
        message.emailed = bool(mailer(person.email, subject, text))
    return message


def unread_count(session: Session, person: Person) -> int:
    return int(
        session.scalar(
            select(func.count(InboxMessage.id)).where(
                InboxMessage.person_id == person.id, InboxMessage.read_at.is_(None)
            )
        )
        or 0
    )


def messages_for(
    session: Session, person: Person, translate: Translate = identity, limit: int = 100
) -> list[Shown]:
    """The person's newest notices, rendered with ``translate``."""
    rows = session.scalars(
        select(InboxMessage)
        .where(InboxMessage.person_id == person.id)
        .order_by(InboxMessage.created_at.desc(), InboxMessage.id.desc())
        .limit(limit)
    )
    return [
        Shown(
            id=m.id,
            text=render(m.kind, json.loads(m.params or "{}"), translate),
            link=m.link,
            created_at=m.created_at,
            unread=m.read_at is None,
        )  # fmt: skip
        for m in rows
    ]


def mark_read(session: Session, person: Person, message_id: int) -> InboxMessage:
    """Mark one of the person's own notices read (someone else's: not found)."""
    message = session.get(InboxMessage, message_id)
    if message is None or message.person_id != person.id:
        raise NotFound(N_("No such message."))
    if message.read_at is None:
        message.read_at = utcnow()
    session.flush()
    return message


def mark_all_read(session: Session, person: Person) -> int:
    result = session.execute(
        update(InboxMessage)
        .where(InboxMessage.person_id == person.id, InboxMessage.read_at.is_(None))
        .values(read_at=utcnow())
    )
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)
