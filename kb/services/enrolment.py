"""Enrolment (stage 2): HR invites people or people apply from an open programme; each person
accepts, declines or leaves (participation is voluntary); HR accepts someone only after the
preparatory conversation (its date is recorded, nothing said in it). Mentors state their
subject expertise and their readiness to mentor. Proposals pair enrolled people only.

Every HR step writes an audit entry. Writes flush, never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.i18n import N_, Text
from kb.models import Enrolment, Pair, Person, Programme
from kb.services import audit
from kb.services.pairs import RUNNING, record_change

ROLES = ("mentor", "mentee")
MAX_MOTIVATION = 1000
MAX_EXPERTISE = 1000
# Where a person can still say yes or no.
OPEN = ("invited", "agreed", "enrolled")
# Why HR cannot invite someone again, by the status they are in.
ALREADY_IN = {
    "invited": N_("%(email)s is already invited to this programme"),
    "agreed": N_("%(email)s has already agreed to take part in this programme"),
    "enrolled": N_("%(email)s is already enrolled in this programme"),
}
# Why a person cannot apply again, by the status they are in.
YOU_ARE_IN = {
    "agreed": N_("you have already agreed to take part in this programme"),
    "enrolled": N_("you are already enrolled in this programme"),
}


def _hr(user: Person | None, action: str) -> Person:
    if user is None or not user.has_role("hr"):
        raise PermissionDenied(N_("only HR can %(action)s"), action=Text(action))
    return user


def _role(person: Person, role: str) -> str:
    if role not in ROLES:
        raise ValidationError(
            N_("role must be mentor or mentee, not %(role)r"), field="role", role=role
        )
    if not person.has_role(role):
        missing = (
            N_("%(email)s does not have the mentor role")
            if role == "mentor"
            else N_("%(email)s does not have the mentee role")
        )
        raise ValidationError(missing, field="role", email=person.email)
    return role


def enrolment_of(session: Session, programme: Programme, person: Person) -> Enrolment | None:
    return session.scalar(
        select(Enrolment).where(
            Enrolment.programme_id == programme.id, Enrolment.person_id == person.id
        )
    )


def enrolments(session: Session, programme: Programme) -> list[Enrolment]:
    """A programme's enrolments with their people, by role then name."""
    rows = session.scalars(
        select(Enrolment)
        .where(Enrolment.programme_id == programme.id)
        .options(selectinload(Enrolment.person))
    )
    return sorted(rows, key=lambda e: (e.role, e.person.name.lower()))


def enrolled_ids(session: Session, programme: Programme) -> tuple[set[int], set[int]] | None:
    """(mentor ids, mentee ids) enrolled in the programme; None when the programme has no
    enrolment at all (a programme imported from programme.json before enrolment existed:
    its proposals still use every opted-in person)."""
    rows = list(session.execute(
        select(Enrolment.person_id, Enrolment.role, Enrolment.status).where(
            Enrolment.programme_id == programme.id)
    ))  # fmt: skip
    if not rows:
        return None
    mentors = {pid for pid, role, status in rows if role == "mentor" and status == "enrolled"}
    mentees = {pid for pid, role, status in rows if role == "mentee" and status == "enrolled"}
    return mentors, mentees


def invite(
    session: Session, programme: Programme, person: Person, role: str, hr_user: Person | None
) -> Enrolment:
    """HR invites a person; the person still accepts or declines."""
    hr = _hr(hr_user, N_("invite people"))
    _role(person, role)
    if not person.active:
        raise ValidationError(
            N_("%(email)s's account is deactivated"), field="email", email=person.email
        )
    found = enrolment_of(session, programme, person)
    if found is not None and found.status in OPEN:
        raise ValidationError(ALREADY_IN[found.status], field="email", email=person.email)
    if found is None:
        found = Enrolment(programme_id=programme.id, person_id=person.id)
        session.add(found)
    found.role, found.status, found.source = role, "invited", "invited"
    session.flush()
    audit.record(session, hr, "enrolment.invite", "person", person.id, programme.id, {"role": role})
    return found


def _clean(text: str, limit: int, field: str) -> str:
    text = " ".join((text or "").split())
    if len(text) > limit:
        raise ValidationError(N_("at most %(limit)s characters"), field=field, limit=limit)
    return text


def _mentor_statement(enrolment: Enrolment, expertise: str, ready: bool) -> None:
    if enrolment.role != "mentor":
        return
    enrolment.expertise = _clean(expertise, MAX_EXPERTISE, "expertise")
    enrolment.ready = bool(ready)
    if not enrolment.expertise:
        raise ValidationError(N_("say which subjects you can teach"), field="expertise")
    if not enrolment.ready:
        raise ValidationError(N_("confirm that you are ready to mentor"), field="ready")


def apply(
    session: Session,
    programme: Programme,
    person: Person,
    role: str,
    motivation: str,
    *,
    expertise: str = "",
    ready: bool = False,
) -> Enrolment:
    """A person applies to an open programme with a short motivation (mentors also state
    their expertise and readiness). HR accepts after the preparatory conversation."""
    if not programme.open_for_applications or programme.status == "finished":
        raise ValidationError(N_("this programme does not take applications"), field="programme")
    _role(person, role)
    motivation = _clean(motivation, MAX_MOTIVATION, "motivation")
    if not motivation:
        raise ValidationError(N_("a short motivation is required"), field="motivation")
    found = enrolment_of(session, programme, person)
    if found is not None and found.status in ("agreed", "enrolled"):
        raise ValidationError(YOU_ARE_IN[found.status])
    if found is None:
        found = Enrolment(programme_id=programme.id, person_id=person.id, source="applied")
        session.add(found)
    elif found.status != "invited":
        found.source = "applied"
    found.role, found.motivation = role, motivation
    _mentor_statement(found, expertise, ready)
    found.status = "agreed"
    session.flush()
    return found


def answer(
    session: Session,
    enrolment: Enrolment,
    person: Person,
    accept: bool,
    *,
    expertise: str = "",
    ready: bool = False,
) -> Enrolment:
    """The invited person accepts (mentors state expertise and readiness) or declines."""
    if enrolment.person_id != person.id:
        raise NotFound(N_("no such invitation"))
    if enrolment.status != "invited":
        raise ValidationError(N_("the invitation is already answered"))
    if accept:
        _mentor_statement(enrolment, expertise, ready)
        enrolment.status = "agreed"
    else:
        enrolment.status = "declined"
    session.flush()
    return enrolment


def leave(session: Session, enrolment: Enrolment, person: Person) -> Enrolment:
    """The person leaves the programme: their proposed pairs are dropped and running pairs
    end (each with a line in its history); nobody is told why."""
    if enrolment.person_id != person.id:
        raise NotFound(N_("no such enrolment"))
    if enrolment.status not in ("agreed", "enrolled"):
        raise ValidationError(N_("you are not taking part in this programme"))
    enrolment.status = "left"
    mine = session.scalars(select(Pair).where(
        Pair.programme_id == enrolment.programme_id,
        (Pair.mentor_id == person.id) | (Pair.mentee_id == person.id),
    ))  # fmt: skip
    for pair in mine:
        if pair.status == "proposed":
            record_change(
                pair,
                N_("status %(old)s → %(new)s (a member left the programme)"),
                None,
                old="proposed",
                new="dropped",
            )
            pair.status, pair.locked = "dropped", False
        elif pair.status in RUNNING:
            record_change(
                pair,
                N_("status %(old)s → %(new)s (a member left the programme)"),
                None,
                old=pair.status,
                new="ended",
            )
            pair.status, pair.locked = "ended", False
            pair.ended = pair.ended or dt.date.today()
    session.flush()
    return enrolment


def record_preparation(
    session: Session, enrolment: Enrolment, on: dt.date | None, hr_user: Person | None
) -> Enrolment:
    """HR records the date of the preparatory conversation (the date only)."""
    hr = _hr(hr_user, N_("record a preparatory conversation"))
    if on is None:
        raise ValidationError(
            N_("the date of the preparatory conversation is required"), field="prepared_on"
        )
    if on > dt.date.today() + dt.timedelta(days=1):
        raise ValidationError(N_("the conversation cannot be in the future"), field="prepared_on")
    enrolment.prepared_on = on
    session.flush()
    audit.record(
        session,
        hr,
        "enrolment.prepared",
        "person",
        enrolment.person_id,
        enrolment.programme_id,
        {"on": on},
    )
    return enrolment


def accept(session: Session, enrolment: Enrolment, hr_user: Person | None) -> Enrolment:
    """HR accepts a person who agreed, once the preparatory conversation took place."""
    hr = _hr(hr_user, N_("accept participants"))
    if enrolment.status != "agreed":
        raise ValidationError(
            N_("%(email)s has not agreed to take part"), email=enrolment.person.email
        )
    if enrolment.prepared_on is None:
        raise ValidationError(N_("record the preparatory conversation first"), field="prepared_on")
    enrolment.status = "enrolled"
    session.flush()
    audit.record(
        session,
        hr,
        "enrolment.accept",
        "person",
        enrolment.person_id,
        enrolment.programme_id,
        {"role": enrolment.role},
    )
    return enrolment


def get_enrolment(session: Session, enrolment_id: int) -> Enrolment:
    found = session.get(Enrolment, enrolment_id)
    if found is None:
        raise NotFound(N_("enrolment %(id)s not found"), id=enrolment_id)
    return found


def my_enrolments(session: Session, person: Person) -> list[Enrolment]:
    return list(session.scalars(
        select(Enrolment).where(Enrolment.person_id == person.id)
        .options(selectinload(Enrolment.programme)).order_by(Enrolment.id.desc())
    ))  # fmt: skip


def open_programmes(session: Session) -> list[Programme]:
    return list(session.scalars(
        select(Programme).where(Programme.open_for_applications.is_(True),
                                Programme.status != "finished").order_by(Programme.name)
    ))  # fmt: skip


def counts(rows: Sequence[Enrolment]) -> dict[str, int]:
    out = dict.fromkeys(("invited", "agreed", "enrolled", "declined", "left"), 0)
    for row in rows:
        out[row.status] = out.get(row.status, 0) + 1
    return out
