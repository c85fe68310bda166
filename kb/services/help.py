"""Confidential requests for help (stage 6, "react to difficulties").

A member asks HR; HR sees the request (reason, optional text, who asked), never the pair's
notes, and can re-pair the mentee with another mentor, pause or end the pair, or close the
request. The other member learns who asked only if the asker agreed (``reveal``).
Writes flush, never commit.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kb.errors import NotFound, ValidationError
from kb.i18n import N_
from kb.models import HELP_REASONS, HelpRequest, Pair, Person, utcnow
from kb.services import audit, inbox
from kb.services.pairs import check_hr, set_pair_status, swap_mentor

MAX_TEXT = 2000
ACTIONS = ("repair", "pause", "end", "close")


def hr_people(session: Session) -> list[Person]:
    """Active HR people and HR administrators: who is told about requests and flags."""
    candidates = session.scalars(
        select(Person).where(
            Person.active.is_(True),
            or_(Person.roles.like("%hr%"), Person.roles.like("%admin%")),
        )
    )
    return [p for p in candidates if p.has_role("hr")]


def pair_name(pair: Pair) -> str:
    return f"{pair.mentor.name} / {pair.mentee.name}"


def ask_for_help(
    session: Session, pair: Pair, person: Person, reason: str, text: str = "",
    reveal: bool = False,
) -> HelpRequest:  # fmt: skip
    """A member asks HR for help. HR is told (without the text); the partner is not."""
    if not pair.has_member(person.id):
        raise NotFound(N_("No such pair."))
    if reason not in HELP_REASONS:
        raise ValidationError(N_("Choose what the difficulty is."), field="reason")
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        raise ValidationError(N_("At most %(count)s characters."), field="text", count=MAX_TEXT)
    if any(ord(c) < 32 and c not in "\n\r\t" for c in text):
        raise ValidationError(N_("Control characters are not allowed."), field="text")
    request = HelpRequest(
        pair_id=pair.id, asker_id=person.id, reason=reason, text=text, reveal=reveal,
        status="open",
    )  # fmt: skip
    session.add(request)
    session.flush()
    for hr in hr_people(session):
        inbox.notify(
            session, hr, "help_requested", {"pair": pair_name(pair), "reason": reason},
            link="/hr/help", key=f"help-requested:{request.id}:{hr.id}",
        )  # fmt: skip
    return request


def requests_of(session: Session, person: Person) -> list[HelpRequest]:
    """The requests a person made themselves (never their partner's)."""
    return list(
        session.scalars(
            select(HelpRequest)
            .where(HelpRequest.asker_id == person.id)
            .order_by(HelpRequest.created_at.desc(), HelpRequest.id.desc())
        )
    )


def all_requests(session: Session, user: Person) -> list[HelpRequest]:
    check_hr(user, N_("see requests for help"))
    return list(
        session.scalars(
            select(HelpRequest).order_by(HelpRequest.status.desc(), HelpRequest.id.desc())
        )
    )


def get_request(session: Session, request_id: int, user: Person) -> HelpRequest:
    check_hr(user, N_("handle requests for help"))
    request = session.get(HelpRequest, request_id)
    if request is None:
        raise NotFound(N_("No such request."))
    return request


def handle_request(
    session: Session, request: HelpRequest, user: Person, action: str,
    new_mentor: Person | None = None,
) -> HelpRequest:  # fmt: skip
    """HR re-pairs the mentee with ``new_mentor`` (the old pair ends and keeps its history),
    pauses or ends the pair, or closes the request without a change. The members get a notice
    of the pair change; the partner hears who asked only if the asker agreed."""
    check_hr(user, N_("handle requests for help"))
    if action not in ACTIONS:
        raise ValidationError(N_("Choose what to do with the request."), field="action")
    if request.status != "open":
        raise ValidationError(N_("This request was already handled."))
    pair = request.pair
    outcome = {"repair": "repaired", "pause": "paused", "end": "ended", "close": "closed"}[action]
    detail: dict[str, object] = {"pair_id": pair.id, "reason": request.reason}
    new_pair = None
    if action == "repair":
        if new_mentor is None:
            raise ValidationError(N_("Choose the new mentor."), field="mentor")
        new_pair = swap_mentor(session, pair, new_mentor, user)
        detail["new_pair_id"] = new_pair.id
    elif action in ("pause", "end") and pair.status != outcome:
        set_pair_status(session, pair, outcome, user)
    request.status = "closed"
    request.outcome = outcome
    request.handled_by_id = user.id
    request.handled_at = utcnow()
    audit.record(
        session, user, f"help_request.{action}", "help_request", request.id,
        programme_id=pair.programme_id, detail=detail,
    )  # fmt: skip
    asker = request.asker
    if asker is not None:
        inbox.notify(
            session, asker, "help_handled", {"outcome": outcome}, link="/pair",
            key=f"help-handled:{request.id}",
        )  # fmt: skip
    programme = pair.programme.name
    for member in (pair.mentor, pair.mentee):
        if action != "close":
            kind = "pair_ended" if action == "repair" and member is pair.mentor else None
            inbox.notify(
                session, member, kind or f"pair_{outcome}", {"programme": programme},
                link="/pair", key=f"help-pair:{request.id}:{member.id}",
            )  # fmt: skip
        if request.reveal and asker is not None and member.id != asker.id:
            inbox.notify(
                session, member, "partner_asked", {"who": asker.name}, link="/pair",
                key=f"help-revealed:{request.id}",
            )  # fmt: skip
    if new_pair is not None:
        inbox.notify(
            session, new_pair.mentor, "pair_new_mentor",
            {"programme": programme, "pair": pair_name(new_pair)}, link="/pair",
            key=f"help-new-pair:{request.id}",
        )  # fmt: skip
    session.flush()
    return request
