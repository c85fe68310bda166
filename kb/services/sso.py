"""Single sign-on through OpenID Connect: which account a verified ID token signs in to.

The web layer (``kb.views.auth``) runs the authorization code flow with Authlib and hands
over the ID token's claims once their signature, issuer, audience, expiry and nonce are
checked. The policy is the one HR expects: a person signs in only to an account that exists
already (imported from the HR CSV or invited) and is active; nothing is ever created here.

The first sign-in finds the account by the e-mail address the provider says it verified and
links the provider's subject (``iss`` + ``sub``, which do not change) to it; later sign-ins
use that link, so a changed address at the provider still reaches the same account, and an
address moved to someone else at the provider does not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kb.errors import PermissionDenied, ValidationError
from kb.i18n import N_
from kb.models import Person, SsoIdentity, utcnow
from kb.services import audit
from kb.services.people import EMAIL, end_sessions, find_person

# Why a sign-in was refused; the web layer shows each in the page's language.
UNVERIFIED = "unverified"  # no e-mail address the provider vouches for
UNKNOWN = "unknown"  # no account with that address
INACTIVE = "inactive"  # the account is deactivated
LINKED_ELSEWHERE = "linked_elsewhere"  # the account is linked to another subject already
REASONS = (UNVERIFIED, UNKNOWN, INACTIVE, LINKED_ELSEWHERE)


class SsoRefused(PermissionDenied):
    """The provider vouched for someone who may not sign in; ``reason`` is one of REASONS."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"single sign-on refused: {reason}")
        self.reason = reason


def verified_email(claims: Mapping[str, object]) -> str | None:
    """The lower-cased e-mail address of the claims if the provider verified it, else None."""
    verified = claims.get("email_verified")
    if not (verified is True or (isinstance(verified, str) and verified.lower() == "true")):
        return None
    email = claims.get("email")
    if not isinstance(email, str):
        return None
    email = email.strip().lower()
    return email if len(email) <= 254 and EMAIL.match(email) else None


def find_identity(session: Session, issuer: str, subject: str) -> SsoIdentity | None:
    return session.scalar(
        select(SsoIdentity).where(SsoIdentity.issuer == issuer, SsoIdentity.subject == subject)
    )


def sign_in(
    session: Session, issuer: str, claims: Mapping[str, object], now: dt.datetime | None = None
) -> Person:
    """The person the verified ID token ``claims`` of ``issuer`` sign in, linking the
    provider's subject to the account on the first sign-in; SsoRefused otherwise.

    Adds to ``session`` (the link, its audit entry, the sign-in time); the caller commits.
    """
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise SsoRefused(UNVERIFIED)
    identity = find_identity(session, issuer, subject)
    if identity is not None:
        person = identity.person
    else:
        email = verified_email(claims)
        if email is None:
            raise SsoRefused(UNVERIFIED)
        found = find_person(session, email)
        if found is None:
            raise SsoRefused(UNKNOWN)
        person = found
        if not person.active:
            raise SsoRefused(INACTIVE)
        linked = session.scalar(
            select(SsoIdentity).where(
                SsoIdentity.person_id == person.id, SsoIdentity.issuer == issuer
            )
        )
        if linked is not None:
            # Another subject at this provider signed in to the account before: the address
            # has moved at the provider, or two of its accounts share it. HR decides.
            raise SsoRefused(LINKED_ELSEWHERE)
        identity = SsoIdentity(person_id=person.id, issuer=issuer, subject=subject)
        session.add(identity)
        audit.record(session, person, "account.sso_link", "person", person.id)
    if not person.active:
        raise SsoRefused(INACTIVE)
    identity.last_login_at = now or utcnow()
    return person


def identities(session: Session, person: Person) -> list[SsoIdentity]:
    """The provider identities linked to ``person`` (their data export lists them)."""
    return list(
        session.scalars(
            select(SsoIdentity).where(SsoIdentity.person_id == person.id).order_by(SsoIdentity.id)
        )
    )


def unlink(session: Session, person: Person, actor: Person) -> int:
    """HR removes the person's provider links (e.g. a link made to the wrong account at the
    provider, or a new account there): the next single sign-on finds the account by its
    verified address again. Their sessions end, as at a password reset. Returns how many."""
    removed = session.execute(delete(SsoIdentity).where(SsoIdentity.person_id == person.id))
    count = int(getattr(removed, "rowcount", 0) or 0)
    if count:
        end_sessions(person)
        audit.record(session, actor, "account.sso_unlink", "person", person.id)
    return count


def unlink_own(session: Session, person: Person) -> int:
    """The person removes their own provider links, only while they keep another way in (a
    password); else ValidationError saying why. Their other sessions end (the caller keeps
    the current one), as at a password change; audited. Returns how many links went."""
    if not identities(session, person):
        return 0
    if not person.password_hash:
        raise ValidationError(
            N_(
                "You have no password, so single sign-on is your only way to sign in. Set a "
                "password first (HR can send you a link), then remove the link."
            )
        )
    removed = session.execute(delete(SsoIdentity).where(SsoIdentity.person_id == person.id))
    count = int(getattr(removed, "rowcount", 0) or 0)
    end_sessions(person)
    audit.record(session, person, "account.sso_unlink", "person", person.id,
                 detail={"own": True, "links": count})  # fmt: skip
    return count
