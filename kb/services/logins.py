"""Login throttling: failed logins counted per account and per client address in the database.

The database is the store every web worker shares, so a limit holds however many workers
gunicorn runs. Keys are SHA-256 digests of "account:<email>" and "address:<ip>": the table
says how often something failed, never who or from where.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from kb.models import LoginFailure, utcnow


@dataclass(frozen=True)
class LoginLimits:
    """At most ``per_account`` failures for one account and ``per_address`` from one client
    address within ``window_seconds``; further attempts are refused until failures age out."""

    per_account: int = 5
    per_address: int = 20
    window_seconds: int = 900


def account_key(email: str) -> str:
    return "a:" + hashlib.sha256(f"account:{email.strip().lower()}".encode()).hexdigest()


def address_key(address: str) -> str:
    return "c:" + hashlib.sha256(f"address:{address}".encode()).hexdigest()


def _since(limits: LoginLimits, now: dt.datetime | None) -> dt.datetime:
    return (now or utcnow()) - dt.timedelta(seconds=limits.window_seconds)


def failures(session: Session, key: str, since: dt.datetime) -> int:
    return session.scalar(
        select(func.count()).select_from(LoginFailure)
        .where(LoginFailure.key == key, LoginFailure.at > since)
    ) or 0  # fmt: skip


def throttled(
    session: Session, email: str, address: str, limits: LoginLimits,
    now: dt.datetime | None = None,
) -> bool:  # fmt: skip
    """Whether a login for ``email`` from ``address`` must wait (checked before the password)."""
    since = _since(limits, now)
    return (
        failures(session, account_key(email), since) >= limits.per_account
        or failures(session, address_key(address), since) >= limits.per_address
    )


def record_failure(
    session: Session, email: str, address: str, limits: LoginLimits,
    now: dt.datetime | None = None,
) -> None:  # fmt: skip
    """Count one failed login against the account and the address; old failures go."""
    at = now or utcnow()
    keys = (account_key(email), address_key(address))
    old = LoginFailure.at <= _since(limits, at)
    session.execute(delete(LoginFailure).where(LoginFailure.key.in_(keys), old))
    session.add_all(LoginFailure(key=key, at=at) for key in keys)


def clear_account(session: Session, email: str) -> None:
    """A successful login forgets the account's failures (not the address's)."""
    session.execute(delete(LoginFailure).where(LoginFailure.key == account_key(email)))


def address_throttled(
    session: Session, address: str, limits: LoginLimits, now: dt.datetime | None = None
) -> bool:
    """Whether logins from ``address`` must wait (single sign-on, where no account is named
    before the provider answers)."""
    return failures(session, address_key(address), _since(limits, now)) >= limits.per_address


def record_address_failure(
    session: Session, address: str, limits: LoginLimits, now: dt.datetime | None = None
) -> None:
    """Count one failed or refused single sign-on against the client address."""
    at = now or utcnow()
    key = address_key(address)
    session.execute(
        delete(LoginFailure).where(LoginFailure.key == key, LoginFailure.at <= _since(limits, at))
    )
    session.add(LoginFailure(key=key, at=at))
