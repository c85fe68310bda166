"""Pairs: every write to a ``Pair`` row goes through here (created, status, lock, reject,
a proposal's pairs), each with a line in the pair's audit trail (``PairChange``). Lookups too.

Writes flush, never commit: the caller commits its unit of work, so an error leaves nothing
half-stored.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping, Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.i18n import N_, Text, Texts, decode_texts, encode_texts
from kb.models import PAIR_STATUSES, Pair, PairChange, Person, Programme, utcnow
from kb.services import audit
from kb.services.people import get_person_by_email

RUNNING = ("active", "paused")  # pairs that hold one of their mentor's places
RAN = ("active", "paused", "ended")  # statuses of a pair that has (or had) sessions
DEFAULT_CAPACITY = 1  # a mentor who left capacity empty takes one mentee


def check_dates(starts: dt.date | None, ends: dt.date | None, what: str) -> None:
    if starts and ends and ends < starts:
        raise ValidationError(
            N_("%(what)s ends (%(ends)s) before it starts (%(starts)s)"),
            what=what,
            ends=ends,
            starts=starts,
        )


def _check_pair(mentor: Person, mentee: Person, status: str) -> None:
    if mentor.id == mentee.id:
        raise ValidationError(N_("%(mentor)s cannot mentor themselves"), mentor=mentor.email)
    if not mentor.has_role("mentor"):
        raise ValidationError(
            N_("%(mentor)s does not have the mentor role"), field="mentor", mentor=mentor.email
        )
    if not mentee.has_role("mentee"):
        raise ValidationError(
            N_("%(mentee)s does not have the mentee role"), field="mentee", mentee=mentee.email
        )
    if status not in PAIR_STATUSES:
        raise ValidationError(
            N_("unknown pair status %(status)r; use %(choices)s"),
            field="status",
            status=status,
            choices=", ".join(PAIR_STATUSES),
        )


def managers_above(session: Session, person: Person) -> list[Person]:
    """Everyone above ``person`` in the management chain, nearest first (a cycle stops it)."""
    found: list[Person] = []
    seen = {person.id}
    current = person.manager_id
    while current is not None and current not in seen:
        seen.add(current)
        boss = session.get(Person, current)
        if boss is None:
            break
        found.append(boss)
        current = boss.manager_id
    return found


CHAIN_REASON = N_(
    "%(above)s is in the management chain above %(below)s: "
    "mentoring must stay separate from line management"
)


def management_chain_reason(session: Session, mentor: Person, mentee: Person) -> Text | None:
    """Why the two may not be a pair because of line management (None: they may)."""
    if any(p.id == mentee.id for p in managers_above(session, mentor)):
        return Text(CHAIN_REASON, above=mentee.email, below=mentor.email)
    if any(p.id == mentor.id for p in managers_above(session, mentee)):
        return Text(CHAIN_REASON, above=mentor.email, below=mentee.email)
    return None


def check_management_chain(session: Session, mentor: Person, mentee: Person) -> None:
    """Nobody mentors someone in their own management chain, in either direction: every path
    that makes or starts a pair calls this (proposals, manual pairs, imports, starting)."""
    reason = management_chain_reason(session, mentor, mentee)
    if reason is not None:
        raise ValidationError(
            CHAIN_REASON, field="mentor", above=reason.params["above"], below=reason.params["below"]
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
            N_(
                "%(mentor)s takes %(capacity)s mentee(s) and already has %(used)s active or "
                "paused pair(s); end one of them or raise their capacity first"
            ),
            field="status",
            mentor=mentor.email,
            capacity=capacity,
            used=used,
        )


# Values of a history line that are pair status codes: pages show them as status words.
STATUS_PARAMS = frozenset({"old", "new"})


def record_change(pair: Pair, what: str, actor: Person | None, /, **params: object) -> None:
    """One line of the pair's audit trail (``actor`` None: an import or the command line):
    ``what`` is an ``N_`` template filled with ``params`` (status codes as ``old``/``new``).
    The English line is kept in ``what``, the template and values in ``message``."""
    text = Text(what, **params)
    pair.changes.append(
        PairChange(actor_id=actor.id if actor else None, what=str(text), message=change_data(text))
    )


def change_data(text: Text) -> str:
    """A history line's message as stored (JSON of its template and values)."""
    return json.dumps(encode_texts(text), ensure_ascii=False, separators=(",", ":"))


# An imported pair's changed fields, each a part of its history line.
IMPORTED_CHANGES = {
    "status": N_("status %(old)s → %(new)s"),
    "started": N_("started %(old)s → %(new)s"),
    "ended": N_("ended %(old)s → %(new)s"),
}


def change_text(change: PairChange) -> str:
    """A history line as a :class:`kb.i18n.Text` (for pages to translate). A line stored before
    lines kept their message is read back from its English text when it has the wording of one
    of :data:`HISTORY_TEMPLATES`; otherwise (or if its message cannot be read) it is its
    English text as stored."""
    if change.message:
        try:
            found = decode_texts(json.loads(change.message))
        except ValueError:
            found = None
        if isinstance(found, Text):
            return found
    return old_line_text(change.what)


# Every history line's template, for reading back lines stored without their message (the
# English wording has not changed). The import line's parts are IMPORTED_CHANGES.
HISTORY_TEMPLATES: tuple[str, ...] = (
    N_("created as %(new)s"),
    N_("status %(old)s → %(new)s"),
    N_("locked"),
    N_("unlocked"),
    N_("status %(old)s → %(new)s, unlocked"),
    N_("status %(old)s → %(new)s (left out of a new proposal)"),
    N_("status %(old)s → %(new)s (proposed again)"),
    N_("proposed by matching"),
    N_("created by HR as proposed, locked"),
    N_("status %(old)s → %(new)s, locked by HR"),
    N_("status %(old)s → %(new)s (mentor swapped for %(mentor)s)"),
    N_("created as %(new)s (mentor swapped from %(mentor)s)"),
    N_("status %(old)s → %(new)s (mentor swapped from %(mentor)s)"),
    N_("status %(old)s → %(new)s (a member left the programme)"),
    N_("a member's personal data was erased"),
)
_STATUS = "|".join(PAIR_STATUSES)
_VALUE = {"old": _STATUS, "new": _STATUS, "mentor": r"[^\s()]+"}


def _pattern(template: str, values: Mapping[str, str]) -> re.Pattern[str]:
    parts = re.split(r"%\((\w+)\)s", template)
    return re.compile("".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>{values[part]})"
        for i, part in enumerate(parts)
    ))  # fmt: skip


_OLD_LINES = [(t, _pattern(t, _VALUE)) for t in HISTORY_TEMPLATES]
_OLD_PARTS = [
    (t, _pattern(t, {**_VALUE, "old": r"[^,]+?", "new": r"[^,]+?"}))
    for t in IMPORTED_CHANGES.values()
]


def old_line_text(what: str) -> str:
    """``what`` (a history line stored as English text only) as a Text, if it has the wording
    of a known line; else ``what`` as it is."""
    for template, pattern in _OLD_LINES:
        found = pattern.fullmatch(what)
        if found:
            return Text(template, **found.groupdict())
    if what.startswith("import: "):
        parts: list[str] = []
        for piece in what.removeprefix("import: ").split(", "):
            for template, pattern in _OLD_PARTS:
                found = pattern.fullmatch(piece)
                if found:
                    parts.append(Text(template, **found.groupdict()))
                    break
            else:
                return what
        return Text(N_("import: %(changes)s"), changes=Texts(parts))
    return what


# Where a history line without an actor comes from, by its wording: an import (the pairs
# file creates and updates pairs), a member leaving the programme (their enrolment), or an
# erasure from the command line. HR's own changes always carry their actor.
ACTORLESS_SOURCES: dict[str, str] = {
    N_("created as %(new)s"): "import",
    N_("import: %(changes)s"): "import",
    N_("status %(old)s → %(new)s (a member left the programme)"): "enrolment",
    N_("a member's personal data was erased"): "erasure",
}


def change_source(change: PairChange) -> str:
    """Who made a history line that has no actor: ``import``, ``enrolment`` or ``erasure``
    (see :data:`ACTORLESS_SOURCES`); ``""`` for a line whose wording is not known (one stored
    as free text, from the command line or an import)."""
    found = change_text(change)
    return ACTORLESS_SOURCES.get(found.template, "") if isinstance(found, Text) else ""


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
    if status != "rejected":
        check_management_chain(session, mentor, mentee)
    if find_pair(session, programme, mentor, mentee) is not None:
        raise ValidationError(
            N_("%(mentor)s and %(mentee)s are already a pair in %(programme)r"),
            mentor=mentor.email,
            mentee=mentee.email,
            programme=programme.slug,
        )
    if status in RUNNING:
        check_capacity(session, mentor)
    pair = Pair(
        programme_id=programme.id, mentor_id=mentor.id, mentee_id=mentee.id, status=status,
        started=started, ended=ended,
    )  # fmt: skip
    session.add(pair)
    record_change(pair, N_("created as %(new)s"), None, new=status)
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
    if status != "rejected":
        check_management_chain(session, mentor, mentee)
    values = {"status": status, "started": started, "ended": ended}
    if all(getattr(pair, k) == v for k, v in values.items()):
        return pair, "unchanged"
    if status in RUNNING and pair.status not in RUNNING:
        check_capacity(session, mentor, pair)
    changed = Texts(
        Text(IMPORTED_CHANGES[k], old=_shown(getattr(pair, k)), new=_shown(v))
        for k, v in values.items()
        if getattr(pair, k) != v
    )
    for key, value in values.items():
        setattr(pair, key, value)
    record_change(pair, N_("import: %(changes)s"), None, changes=changed)
    session.flush()
    return pair, "updated"


def _shown(value: object) -> str:
    return "—" if value is None else str(value)


def set_pair_status(session: Session, pair: Pair, status: str, user: Person) -> Pair:
    """HR changes a pair's status; starting and ending fill in the dates when missing."""
    if not user.has_role("hr"):
        raise PermissionDenied(N_("only HR can change the status of a pair"))
    if status not in PAIR_STATUSES:
        raise ValidationError(
            N_("unknown pair status %(status)r; use %(choices)s"),
            field="status",
            status=status,
            choices=", ".join(PAIR_STATUSES),
        )
    if status in RUNNING and pair.status not in RUNNING:
        check_management_chain(session, pair.mentor, pair.mentee)
        check_capacity(session, pair.mentor, pair)
    today = dt.date.today()
    if status == "active" and pair.started is None:
        pair.started = today
    if status == "ended" and pair.ended is None:
        pair.ended = today
    if status != pair.status:
        record_change(pair, N_("status %(old)s → %(new)s"), user, old=pair.status, new=status)
        audit.record(
            session,
            user,
            "pair.status",
            "pair",
            pair.id,
            pair.programme_id,
            {"from": pair.status, "to": status},
        )
    pair.status = status
    session.flush()
    return pair


def set_pair_locked(session: Session, pair: Pair, locked: bool, user: Person) -> Pair:
    """HR keeps (locks) a pair in proposals so a re-run of matching does not undo it."""
    if not user.has_role("hr"):
        raise PermissionDenied(N_("only HR can lock a pair"))
    if locked != pair.locked:
        record_change(pair, N_("locked") if locked else N_("unlocked"), user)
        audit.record(
            session,
            user,
            "pair.lock" if locked else "pair.unlock",
            "pair",
            pair.id,
            pair.programme_id,
        )
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
        raise NotFound(N_("pair %(id)s not found"), id=pair_id)
    return pair


def pair_of(
    session: Session, mentor_email: str, mentee_email: str, programme_slug: str | None = None
) -> Pair:
    """The pair of two people (by e-mail), the newest one unless a programme is named."""
    mentor = session.scalar(select(Person).where(Person.email == mentor_email))
    mentee = session.scalar(select(Person).where(Person.email == mentee_email))
    if mentor is None or mentee is None:
        missing = mentor_email if mentor is None else mentee_email
        raise NotFound(N_("no person with e-mail %(email)r"), email=missing)
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
        if programme_slug:
            raise NotFound(
                N_("%(mentor)s and %(mentee)s are not a pair in programme %(slug)r"),
                mentor=mentor_email,
                mentee=mentee_email,
                slug=programme_slug,
            )
        raise NotFound(
            N_("%(mentor)s and %(mentee)s are not a pair"), mentor=mentor_email, mentee=mentee_email
        )
    return pair


# --- HR decisions on proposals -----------------------------------------------------------------


def check_hr(user: Person | None, action: str) -> Person:
    """``user`` if they hold the HR role, else PermissionDenied naming ``action`` (an
    ``N_``-marked infinitive phrase, "lock a pair")."""
    if user is None or not user.has_role("hr"):
        raise PermissionDenied(N_("only HR can %(action)s"), action=Text(action))
    return user


def programme_by_slug(session: Session, slug: str) -> Programme:
    programme = session.scalar(select(Programme).where(Programme.slug == slug))
    if programme is None:
        raise NotFound(N_("no programme %(slug)r"), slug=slug)
    return programme


def decided_pairs(session: Session, programme: Programme) -> list[Pair]:
    """Pairs of ``programme`` a new proposal keeps: locked ones still open, and running ones."""
    return list(
        session.scalars(
            select(Pair).where(
                Pair.programme_id == programme.id,
                (Pair.locked.is_(True) & Pair.status.not_in(["rejected", "ended"]))
                | Pair.status.in_(RUNNING),
            )
        )
    )


def pair_for(
    session: Session, programme_slug: str, mentor_email: str, mentee_email: str
) -> tuple[Programme, Person, Person, Pair | None]:
    """The programme, both people (checked for their roles) and their pair if it exists."""
    programme = programme_by_slug(session, programme_slug)
    mentor = get_person_by_email(session, mentor_email)
    mentee = get_person_by_email(session, mentee_email)
    if mentor.id == mentee.id:
        raise ValidationError(N_("%(mentor)s cannot mentor themselves"), mentor=mentor.email)
    if not mentor.has_role("mentor"):
        raise ValidationError(
            N_("%(mentor)s does not have the mentor role"), field="mentor", mentor=mentor.email
        )
    if not mentee.has_role("mentee"):
        raise ValidationError(
            N_("%(mentee)s does not have the mentee role"), field="mentee", mentee=mentee.email
        )
    return programme, mentor, mentee, find_pair(session, programme, mentor, mentee)


def lock_pair(
    session: Session,
    programme_slug: str,
    mentor_email: str,
    mentee_email: str,
    hr_user: Person | None,
    vet: Callable[[Programme, Person, Person], None] | None = None,
) -> Pair:
    """HR decides a pair: it stays in every later proposal (created as proposed if new).

    ``vet`` raises ValidationError if the two may not be paired (matching's hard
    constraints); it runs after the checks here and before anything is written.
    """
    check_hr(hr_user, N_("lock a pair"))
    programme, mentor, mentee, pair = pair_for(session, programme_slug, mentor_email, mentee_email)
    if pair is not None and pair.status in ("rejected", "ended"):
        raise ValidationError(
            N_("%(mentor)s / %(mentee)s is %(status)s; it cannot be locked"),
            mentor=mentor.email,
            mentee=mentee.email,
            status=pair.status,
        )
    check_management_chain(session, mentor, mentee)
    if vet is not None:
        vet(programme, mentor, mentee)
    if any(
        p.mentee_id == mentee.id and p.mentor_id != mentor.id
        for p in decided_pairs(session, programme)
    ):
        raise ValidationError(
            N_("%(mentee)s already has a decided mentor in this programme"), mentee=mentee.email
        )
    with session.begin_nested():
        if pair is None:
            pair = Pair(
                programme_id=programme.id,
                mentor_id=mentor.id,
                mentee_id=mentee.id,
                status="proposed",
            )
            session.add(pair)
            record_change(pair, N_("created as %(new)s"), hr_user, new="proposed")
        if pair.status == "dropped":
            record_change(
                pair, N_("status %(old)s → %(new)s"), hr_user, old="dropped", new="proposed"
            )
            pair.status = "proposed"
        if not pair.locked:
            record_change(pair, N_("locked"), hr_user)
        pair.locked = True
        session.flush()
        audit.record(
            session,
            hr_user,
            "proposal.accept",
            "pair",
            pair.id,
            programme.id,
            {"mentor_id": mentor.id, "mentee_id": mentee.id},
        )
    return pair


def reject_pair(
    session: Session,
    programme_slug: str,
    mentor_email: str,
    mentee_email: str,
    hr_user: Person | None,
) -> Pair:
    """HR rejects a pair: it is never proposed again (in any programme)."""
    check_hr(hr_user, N_("reject a pair"))
    programme, mentor, mentee, pair = pair_for(session, programme_slug, mentor_email, mentee_email)
    if pair is not None and pair.status in RAN:
        raise ValidationError(
            N_("%(mentor)s / %(mentee)s is %(status)s; end it instead"),
            mentor=mentor.email,
            mentee=mentee.email,
            status=pair.status,
        )
    with session.begin_nested():
        if pair is None:
            pair = Pair(programme_id=programme.id, mentor_id=mentor.id, mentee_id=mentee.id)
            session.add(pair)
            record_change(pair, N_("created as %(new)s"), hr_user, new="rejected")
        elif pair.status != "rejected":
            record_change(
                pair,
                N_("status %(old)s → %(new)s, unlocked")
                if pair.locked
                else N_("status %(old)s → %(new)s"),
                hr_user,
                old=pair.status,
                new="rejected",
            )
        pair.status = "rejected"
        pair.locked = False
        session.flush()
        audit.record(
            session,
            hr_user,
            "proposal.reject",
            "pair",
            pair.id,
            programme.id,
            {"mentor_id": mentor.id, "mentee_id": mentee.id},
        )
    return pair


def store_proposed(
    session: Session,
    programme_slug: str,
    wanted: Sequence[tuple[str, str]],
    hr_user: Person | None,
) -> list[Pair]:
    """Store a proposal's (mentor e-mail, mentee e-mail) pairs as "proposed" (HR only), all or
    nothing.

    Earlier proposed, unlocked pairs of the programme the new proposal drops become
    "dropped" (kept, with their history); a dropped pair proposed again is proposed again.
    Locked, running, ended and rejected pairs are never touched.
    """
    check_hr(hr_user, N_("apply a proposal"))
    programme = programme_by_slug(session, programme_slug)
    emails = [e for pair in wanted for e in pair]
    by_email = {p.email: p for p in session.scalars(select(Person).where(Person.email.in_(emails)))}
    people: list[tuple[Person, Person]] = []
    for mentor_email, mentee_email in wanted:
        mentor, mentee = by_email.get(mentor_email), by_email.get(mentee_email)
        if mentor is None or mentee is None:
            missing = mentor_email if mentor is None else mentee_email
            raise ValidationError(
                N_("the proposal names an unknown person %(email)r; run the proposal again"),
                email=missing,
            )
        people.append((mentor, mentee))
    existing = {
        (p.mentor_id, p.mentee_id): p
        for p in session.scalars(select(Pair).where(Pair.programme_id == programme.id))
    }
    for mentor, mentee in people:
        check_management_chain(session, mentor, mentee)
        current = existing.get((mentor.id, mentee.id))
        if current is not None and current.status == "rejected":
            raise ValidationError(
                N_("%(mentor)s / %(mentee)s was rejected by HR; run the proposal again"),
                mentor=mentor.email,
                mentee=mentee.email,
            )
    keep = {(m.id, e.id) for m, e in people}
    created: list[Pair] = []
    with session.begin_nested():
        dropped = [
            pair
            for key, pair in existing.items()
            if pair.status == "proposed" and not pair.locked and key not in keep
        ]
        for pair in dropped:
            record_change(
                pair,
                N_("status %(old)s → %(new)s (left out of a new proposal)"),
                hr_user,
                old="proposed",
                new="dropped",
            )
            pair.status = "dropped"
        for mentor, mentee in people:
            again = existing.get((mentor.id, mentee.id))
            if again is not None:
                if again.status == "dropped":
                    record_change(
                        again,
                        N_("status %(old)s → %(new)s (proposed again)"),
                        hr_user,
                        old="dropped",
                        new="proposed",
                    )
                    again.status = "proposed"
                    created.append(again)
                continue
            pair = Pair(
                programme_id=programme.id,
                mentor_id=mentor.id,
                mentee_id=mentee.id,
                status="proposed",
            )
            session.add(pair)
            record_change(pair, N_("proposed by matching"), hr_user)
            created.append(pair)
        session.flush()
        audit.record(
            session,
            hr_user,
            "proposal.save",
            "programme",
            programme.id,
            programme.id,
            {"pairs": len(people), "created": len(created), "dropped": len(dropped)},
        )
    return created


# --- HR makes pairs by hand --------------------------------------------------------------------


def create_pair(
    session: Session, programme: Programme, mentor: Person, mentee: Person, hr_user: Person | None
) -> Pair:
    """HR pairs two people by hand (or picks a mentor from a mentee's recommendations): a
    proposed pair, locked so later proposals keep it. A dropped pair of the two comes back."""
    check_hr(hr_user, N_("create a pair"))
    _check_pair(mentor, mentee, "proposed")
    check_management_chain(session, mentor, mentee)
    if any(
        p.mentee_id == mentee.id and p.mentor_id != mentor.id
        for p in decided_pairs(session, programme)
    ):
        raise ValidationError(
            N_("%(mentee)s already has a mentor in this programme; swap the mentor instead"),
            field="mentee",
            mentee=mentee.email,
        )
    pair = find_pair(session, programme, mentor, mentee)
    with session.begin_nested():
        if pair is None:
            pair = Pair(
                programme_id=programme.id,
                mentor_id=mentor.id,
                mentee_id=mentee.id,
                status="proposed",
                locked=True,
            )
            session.add(pair)
            record_change(pair, N_("created by HR as proposed, locked"), hr_user)
        elif pair.status in ("dropped", "proposed"):
            if pair.status == "dropped" or not pair.locked:
                record_change(
                    pair,
                    N_("status %(old)s → %(new)s, locked by HR"),
                    hr_user,
                    old=pair.status,
                    new="proposed",
                )
            pair.status, pair.locked = "proposed", True
        else:
            raise ValidationError(
                N_("%(mentor)s / %(mentee)s is already %(status)s in this programme"),
                mentor=mentor.email,
                mentee=mentee.email,
                status=pair.status,
            )
        session.flush()
        audit.record(
            session,
            hr_user,
            "pair.create",
            "pair",
            pair.id,
            programme.id,
            {"mentor_id": mentor.id, "mentee_id": mentee.id},
        )
    return pair


def swap_mentor(session: Session, pair: Pair, new_mentor: Person, hr_user: Person | None) -> Pair:
    """HR gives a pair's mentee another mentor: the old pair ends (or is dropped if it never
    ran) and keeps its history; the new pair takes over its status (a running pair starts
    today, if the new mentor has a place)."""
    check_hr(hr_user, N_("swap a mentor"))
    if pair.status not in ("proposed", *RUNNING):
        raise ValidationError(
            N_("the pair is %(status)s; only a proposed or running pair can get another mentor"),
            field="status",
            status=pair.status,
        )
    if new_mentor.id == pair.mentor_id:
        raise ValidationError(
            N_("%(mentor)s is already the mentor"), field="mentor", mentor=new_mentor.email
        )
    mentee, programme = pair.mentee, pair.programme
    _check_pair(new_mentor, mentee, pair.status)
    check_management_chain(session, new_mentor, mentee)
    existing = find_pair(session, programme, new_mentor, mentee)
    if existing is not None and existing.status not in ("dropped", "proposed"):
        raise ValidationError(
            N_("%(mentor)s / %(mentee)s is already %(status)s in this programme"),
            field="mentor",
            mentor=new_mentor.email,
            mentee=mentee.email,
            status=existing.status,
        )
    status = "active" if pair.status in RUNNING else "proposed"
    with session.begin_nested():
        old_status = pair.status
        pair.status = "ended" if old_status in RUNNING else "dropped"
        if pair.status == "ended" and pair.ended is None:
            pair.ended = dt.date.today()
        pair.locked = False
        record_change(
            pair,
            N_("status %(old)s → %(new)s (mentor swapped for %(mentor)s)"),
            hr_user,
            old=old_status,
            new=pair.status,
            mentor=new_mentor.email,
        )
        session.flush()
        if status in RUNNING:
            check_capacity(session, new_mentor)
        if existing is None:
            new = Pair(
                programme_id=programme.id,
                mentor_id=new_mentor.id,
                mentee_id=mentee.id,
                status=status,
                locked=True,
                started=dt.date.today() if status == "active" else None,
            )
            session.add(new)
            record_change(
                new,
                N_("created as %(new)s (mentor swapped from %(mentor)s)"),
                hr_user,
                new=status,
                mentor=pair.mentor.email,
            )
        else:
            new = existing
            record_change(
                new,
                N_("status %(old)s → %(new)s (mentor swapped from %(mentor)s)"),
                hr_user,
                old=new.status,
                new=status,
                mentor=pair.mentor.email,
            )
            new.status, new.locked = status, True
            if status == "active" and new.started is None:
                new.started = dt.date.today()
        session.flush()
        audit.record(
            session,
            hr_user,
            "pair.swap",
            "pair",
            new.id,
            programme.id,
            {
                "old_pair_id": pair.id,
                "old_mentor_id": pair.mentor_id,
                "mentor_id": new_mentor.id,
                "mentee_id": mentee.id,
            },
        )
    return new


# --- onboarding (stage 3) ----------------------------------------------------------------------


def accept_agreement(session: Session, pair: Pair, person: Person) -> Pair:
    """A member accepts the pair agreement (confidentiality and boundaries) after reading the
    introduction for their role and the rules. HR sees only that it was accepted."""
    if pair.mentor_id == person.id:
        pair.mentor_agreed_at = pair.mentor_agreed_at or utcnow()
    elif pair.mentee_id == person.id:
        pair.mentee_agreed_at = pair.mentee_agreed_at or utcnow()
    else:
        raise NotFound(N_("pair %(id)s not found"), id=pair.id)
    session.flush()
    return pair
