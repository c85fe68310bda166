"""Personal API tokens: made for a person, shown once, stored as a SHA-256 digest.

A token works while it is not revoked and its owner's account is active; both are checked on
every request, so revoking a token or deactivating the account stops it at once. A token is
random (256 bits), so a plain digest (no salt, no slow hash) is enough to look it up and
reveals nothing.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.errors import NotFound, ValidationError
from kb.i18n import N_
from kb.models import ApiToken, Person, utcnow
from kb.services.text import reject_control_characters

PREFIX = "tdm_"  # recognisable in a leaked config file or a secret scanner
MAX_TOKENS = 20  # unrevoked tokens per person


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, person: Person, name: str) -> tuple[ApiToken, str]:
    """A new token for ``person``: the row and the token itself (show it once, never store it)."""
    label = " ".join((name or "").split())
    reject_control_characters(label, "name")
    if not label:
        raise ValidationError(N_("Give the token a name."), field="name")
    if len(label) > 100:
        raise ValidationError(N_("The name is longer than 100 characters."), field="name")
    if len(list_tokens(session, person, revoked=False)) >= MAX_TOKENS:
        raise ValidationError(
            N_("You have %(count)s tokens; revoke one first."), field="name", count=MAX_TOKENS
        )
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(person_id=person.id, name=label, digest=digest(token), prefix=token[:10])
    session.add(row)
    session.flush()
    return row, token


def list_tokens(session: Session, person: Person, revoked: bool = True) -> list[ApiToken]:
    """The person's tokens, newest first (without revoked ones unless ``revoked``)."""
    query = select(ApiToken).where(ApiToken.person_id == person.id)
    if not revoked:
        query = query.where(ApiToken.revoked_at.is_(None))
    return list(session.scalars(query.order_by(ApiToken.id.desc())))


def revoke_token(session: Session, person: Person, token_id: int) -> ApiToken:
    """Revoke one of the person's own tokens (someone else's is "not found")."""
    row = session.get(ApiToken, token_id)
    if row is None or row.person_id != person.id:
        raise NotFound(N_("No such token."))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def person_for_token(session: Session, token: str) -> Person | None:
    """The active owner of an unrevoked token, or None. Notes when the token was last used
    (the caller commits)."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.digest == digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    person = row.person
    if not person.active:
        return None
    now = utcnow()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now  # at most once a minute: no write per request
    return person
