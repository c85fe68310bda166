"""Accounts: invitations and resets (one-time, expiring set-password links), password changes,
and HR's account actions (deactivate, roles). Every HR action writes an audit entry.

A link's token is 256 random bits shown once (to HR, on the command line, in the e-mail);
only its SHA-256 digest is stored. A link works once, until it expires, and only while it is
the person's newest: issuing a new one, using one, or deactivating the account ends the
others. A reset also removes the old password and ends the person's sessions, so whoever
knew it is out at once. Setting or changing a password raises the session version
(:func:`kb.services.people.set_password`): every other session and remember-me cookie ends.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Sequence

from babel.support import NullTranslations, Translations
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.i18n import DEFAULT_LOCALE, N_, area_directories, supported_locale
from kb.models import ROLES, AccountLink, Person, split_list, utcnow
from kb.services import audit, people

# How long a link works.
LINK_HOURS = {"invite": 72, "reset": 24}
Gettext = Callable[..., str]


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _end_links(session: Session, person: Person, now: dt.datetime) -> None:
    session.execute(
        update(AccountLink)
        .where(AccountLink.person_id == person.id, AccountLink.used_at.is_(None))
        .values(used_at=now)
    )


def issue_link(
    session: Session,
    person: Person,
    purpose: str,
    actor: Person | None,
    now: dt.datetime | None = None,
) -> tuple[AccountLink, str]:
    """A new set-password link for ``person`` ("invite" or "reset"): the row and its token
    (show it once). ``actor`` None: the command line. The caller commits."""
    if purpose not in LINK_HOURS:
        raise ValidationError(N_("Unknown kind of link."), field="purpose")
    if not person.active:
        raise ValidationError(N_("%(name)s's account is deactivated."), name=person.name)
    at = now or utcnow()
    _end_links(session, person, at)
    token = secrets.token_urlsafe(32)
    row = AccountLink(
        person_id=person.id,
        purpose=purpose,
        digest=digest(token),
        created_by_id=actor.id if actor is not None else None,
        created_at=at,
        expires_at=at + dt.timedelta(hours=LINK_HOURS[purpose]),
    )
    session.add(row)
    if purpose == "reset":
        person.password_hash = None  # the old password stops working now
        people.end_sessions(person)
    audit.record(
        session, actor, f"account.{purpose}", "person", person.id,
        detail={"expires_at": row.expires_at.isoformat(timespec="minutes")},
    )  # fmt: skip
    session.flush()
    return row, token


def _usable_link(session: Session, token: str, now: dt.datetime) -> AccountLink:
    row = None
    if token and len(token) <= 100:
        row = session.scalar(select(AccountLink).where(AccountLink.digest == digest(token)))
    if row is None or row.used_at is not None or row.expires_at <= now or not row.person.active:
        raise NotFound(
            N_("This link is not valid any more (used, replaced or expired). Ask HR for a new one.")
        )
    return row


def person_for_link(session: Session, token: str, now: dt.datetime | None = None) -> Person:
    """The person a usable link belongs to, else NotFound (one message for every reason)."""
    return _usable_link(session, token, now or utcnow()).person


def set_password_with_link(
    session: Session, token: str, password: str, confirm: str, now: dt.datetime | None = None
) -> Person:
    """Set the password through a link; the link (and any other of the person's) is used up."""
    at = now or utcnow()
    row = _usable_link(session, token, at)
    check_new_password(password, confirm)
    people.set_password(row.person, password)
    _end_links(session, row.person, at)
    return row.person


def check_new_password(password: str, confirm: str) -> None:
    if len(password) < people.MIN_PASSWORD:
        raise ValidationError(
            N_("A password needs at least %(count)s characters."),
            field="password", count=people.MIN_PASSWORD,
        )  # fmt: skip
    if len(password) > 200:
        raise ValidationError(N_("A password of at most 200 characters."), field="password")
    if password != confirm:
        raise ValidationError(N_("The two passwords differ."), field="confirm")


def change_password(person: Person, current: str, password: str, confirm: str) -> None:
    """The person changes their own password; their other sessions end (the caller logs the
    current one in again with the new session version)."""
    if not people.check_password(person, current):
        raise ValidationError(N_("The current password is not right."), field="current")
    check_new_password(password, confirm)
    people.set_password(person, password)


def deactivate(session: Session, person: Person, actor: Person) -> None:
    """HR ends an account: no logins, no API tokens, no links; its sessions end."""
    if person.id == actor.id:
        raise PermissionDenied(N_("You cannot deactivate your own account."))
    if not person.active:
        return
    people.deactivate(person)
    _end_links(session, person, utcnow())
    audit.record(session, actor, "account.deactivate", "person", person.id)


def reactivate(session: Session, person: Person, actor: Person) -> None:
    """HR opens a deactivated account again (the person still needs a password link if they
    have no password)."""
    if person.active:
        return
    person.active = True
    people.end_sessions(person)
    audit.record(session, actor, "account.reactivate", "person", person.id)


def set_roles(session: Session, person: Person, roles: Sequence[str], actor: Person) -> None:
    """An HR administrator sets a person's roles (HR and admin rights only by an admin)."""
    if not actor.has_role("admin"):
        raise PermissionDenied(N_("Only HR administrators change roles."))
    wanted = [role for role in ROLES if role in set(roles)]
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValidationError(N_("Unknown role: %(role)s."), field="roles", role=unknown[0])
    if person.id == actor.id and "admin" not in wanted:
        raise PermissionDenied(N_("You cannot take away your own administrator role."))
    before = split_list(person.roles)
    if before == wanted:
        return
    person.roles = ";".join(wanted)
    people.end_sessions(person)  # pages and tokens check roles per request; cookies restart
    audit.record(
        session, actor, "account.roles", "person", person.id,
        detail={"roles": wanted, "before": before},
    )  # fmt: skip


def find_people(session: Session, query: str = "", limit: int = 50) -> list[Person]:
    """People whose name or e-mail contains ``query`` (HR's account list), by name."""
    stmt = select(Person).order_by(Person.name, Person.id).limit(limit)
    text = " ".join(query.split())[:100]
    if text:
        escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        stmt = stmt.where(
            or_(
                func.lower(Person.name).like(pattern, escape="\\"),
                func.lower(Person.email).like(pattern, escape="\\"),
            )
        )
    return list(session.scalars(stmt))


def get_person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(N_("No such person."))
    return person


def latest_link(session: Session, person: Person) -> AccountLink | None:
    return session.scalar(
        select(AccountLink)
        .where(AccountLink.person_id == person.id)
        .order_by(AccountLink.id.desc())
        .limit(1)
    )


# E-mails and the command line (no Flask): texts in the person's language.
INVITE_SUBJECT = N_("Your Tandem account")
INVITE_BODY = N_(
    "Hello %(name)s,\n\nYou are invited to Tandem, the knowledge base of the mentoring "
    "programme. Choose your password here (the link works once, until %(expires)s UTC):\n\n"
    "%(url)s\n\nIf you did not expect this e-mail, ignore it."
)
RESET_SUBJECT = N_("Choose a new Tandem password")
RESET_BODY = N_(
    "Hello %(name)s,\n\nHR has reset your Tandem password. Choose a new one here (the link "
    "works once, until %(expires)s UTC):\n\n%(url)s\n\nIf you did not expect this, tell HR."
)


def translator(locale: str | None) -> Gettext:
    """gettext for ``locale`` over every area's catalog (English when none)."""
    code = supported_locale(locale) or DEFAULT_LOCALE
    merged: NullTranslations = NullTranslations()
    if code != DEFAULT_LOCALE:
        for directory in area_directories():
            found = Translations.load(str(directory), [code])
            if isinstance(found, Translations):
                if isinstance(merged, Translations):
                    merged.merge(found)
                else:
                    merged = found
    return merged.gettext


def link_mail(person: Person, purpose: str, url: str, expires: dt.datetime) -> tuple[str, str]:
    """(subject, body) of the e-mail carrying a link, in the person's language."""
    gettext = translator(person.ui_language)
    subject, body = (
        (INVITE_SUBJECT, INVITE_BODY) if purpose == "invite" else (RESET_SUBJECT, RESET_BODY)
    )
    values = {"name": person.name, "url": url, "expires": expires.strftime("%Y-%m-%d %H:%M")}
    return gettext(subject), gettext(body) % values
