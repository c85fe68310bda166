"""What every blueprint needs: the runtime, a request-scoped session, the logged-in person."""

from __future__ import annotations

import datetime as dt

from flask import Request, current_app, g, request, url_for
from flask_login import UserMixin, current_user
from sqlalchemy.orm import Session

from kb.models import Person
from kb.runtime import Tandem
from kb.services import tokens


def tandem() -> Tandem:
    return current_app.extensions["tandem"]


def db() -> Session:
    """One database session per request, closed when the request ends."""
    if "db" not in g:
        g.db = tandem().sessions()
    return g.db


def teardown_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


class Account(UserMixin):
    """Flask-Login's view of a person: "id:session_version" goes into the session and
    remember-me cookies, nothing else. Raising the person's version ends those cookies."""

    def __init__(self, person: Person) -> None:
        self.person = person
        self.id = person.id

    def get_id(self) -> str:
        return f"{self.person.id}:{self.person.session_version or 0}"

    @property
    def name(self) -> str:
        return self.person.name

    def has_role(self, role: str) -> bool:
        return self.person.has_role(role)


def load_account(user_id: str) -> Account | None:
    """The account a cookie names, if it is active and the cookie's session version is current
    (logout, a password change and deactivation raise the version)."""
    if bearer_token(request) is not None:
        return None  # an API request with a token is that token's, whatever cookies it has
    person_id, _, version = user_id.partition(":")
    if not (person_id.isdigit() and version.isdigit()) or len(person_id) > 18:
        return None
    person = db().get(Person, int(person_id))
    if person is None or not person.active or int(version) != (person.session_version or 0):
        return None
    return Account(person)


def bearer_token(req: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header on an /api/ path, else None."""
    if not req.path.startswith("/api/"):
        return None
    scheme, _, token = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def load_token_account(req: Request) -> Account | None:
    """Flask-Login's request loader: the account of a valid API token, checked on every
    request (a revoked token or a deactivated account stops working at once)."""
    token = bearer_token(req)
    if not token:
        return None
    session = db()
    person = tokens.person_for_token(session, token)
    if person is None:
        return None
    if session.dirty:
        session.commit()  # the token's last use
    g.api_token_auth = True
    return Account(person)


def current_person() -> Person | None:
    """The logged-in person, or None for anonymous visitors."""
    if current_user.is_authenticated:
        return current_user.person
    return None


def me() -> Person:
    """The logged-in person, in a view that requires a login."""
    person = current_person()
    assert person is not None  # behind login_required or a role check
    return person


def parse_date(value: str | None) -> dt.date | None:
    """An ISO date from a query parameter; anything else counts as not given."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        return None


def parse_page(value: str | None, last: int = 1000) -> int:
    """A 1-based page number, clamped to something sensible."""
    try:
        page = int(value or 1)
    except ValueError:
        return 1
    return min(max(page, 1), last)


def doc_url(doc_type: str, doc_id: int) -> str:
    """Where a search hit links to."""
    if doc_type == "guide":
        return url_for("guides.by_id", guide_id=doc_id)
    if doc_type == "insight":
        return url_for("guides.insight", insight_id=doc_id)
    return url_for("notes.view", note_id=doc_id)
