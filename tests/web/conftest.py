"""A web app over a temporary SQLite instance with the fake embedder and a small library.

Content goes in through the services, exactly as imports and forms write it:
two pairs, HR, a published guide, a draft, a private note (with the word "Zyxelgate"), an
insight waiting for consent and a published one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from kb.app import create_app
from kb.config import load_settings
from kb.models import Person
from kb.runtime import Tandem, open_tandem
from kb.services import guides, match_vectors, notes, pairs, people, programmes

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Library:
    """Ids and words the tests look for."""

    private_note_id: int
    pending_note_id: int
    published_insight_id: int
    guide_slug: str
    draft_slug: str


def person(session, email: str, name: str, roles: tuple[str, ...]) -> Person:
    record = people.PersonRecord(name=name, email=email, roles=roles, languages=("pl", "en"))
    found, _ = people.upsert_person(session, record)
    people.set_password(found, PASSWORD)
    return found


def load_library(tandem: Tandem) -> Library:
    embedders = tandem.embedders
    with tandem.sessions() as s:
        anna = person(s, "anna@example.com", "Anna Mentor", ("mentor",))
        bogdan = person(s, "bogdan@example.com", "Bogdan Mentee", ("mentee",))
        celina = person(s, "celina@example.com", "Celina Mentor", ("mentor",))
        dawid = person(s, "dawid@example.com", "Dawid Mentee", ("mentee",))
        person(s, "hania@example.com", "Hania HR", ("hr",))
        programme, _ = programmes.upsert_programme(
            s, slug="spring", name="Spring round", starts=dt.date(2024, 3, 1),
            ends=dt.date(2024, 8, 31), status="running",
        )  # fmt: skip
        pair = pairs.add_pair(s, programme, anna, bogdan, status="active")
        pairs.add_pair(s, programme, celina, dawid, status="active")

        guide = guides.create_guide(
            s, anna, title="Copilot w Excelu", language="pl", tags=["ai", "excel"],
            body_md="# Copilot w Excelu\n\nCopilot pomaga pisać formuły w Excelu."
                    "\n\n<script>alert('x')</script>\n\n**Ważne**: sprawdzaj wyniki.",
        )  # fmt: skip
        guides.publish(s, guide, anna, embedders, published_on=dt.date(2024, 4, 2))
        draft = guides.create_guide(
            s, celina, title="Unfinished draft about Draftword", language="en",
            body_md="Draftword is only in a draft.",
        )  # fmt: skip

        private = notes.create_note(
            s, pair, anna, title="Budget session", language="en", embedders=embedders,
            body_md="We discussed the Zyxelgate budget forecast and Excel pivot tables.",
            session_date=dt.date(2024, 4, 10),
        )  # fmt: skip
        pending = notes.create_note(
            s, pair, bogdan, title="Prompting session", language="en", embedders=embedders,
            body_md="Prompts for meeting summaries. Quokkaword is our private joke.",
            session_date=dt.date(2024, 4, 17),
        )  # fmt: skip
        notes.propose_insight(
            s,
            pending,
            bogdan,
            "Ask for a summary with three bullet points.",
            embedders=embedders,
        )
        shared = notes.create_note(
            s, pair, anna, title="Teams session", language="en", embedders=embedders,
            body_md="Teams channels instead of e-mail threads.",
            session_date=dt.date(2024, 4, 24),
        )  # fmt: skip
        insight = notes.set_insight(
            s, shared, "Channels beat long e-mail threads for team decisions.",
            consented_by=[anna, bogdan], embedders=embedders,
        )  # fmt: skip
        s.commit()
        library = Library(
            private_note_id=private.id,
            pending_note_id=pending.id,
            published_insight_id=insight.id,
            guide_slug=guide.slug,
            draft_slug=draft.slug,
        )
    match_vectors.catch_up(tandem.sessions, tandem.matching_embedders)
    tandem.search.catch_up()
    return library


@pytest.fixture
def web_tandem(tmp_path: Path) -> Iterator[Tandem]:
    settings = load_settings(
        {},
        {
            "instance_dir": tmp_path / "instance",
            "database_url": f"sqlite:///{tmp_path / 'instance' / 'tandem.sqlite3'}",
            "search_models": ("fake",),
            "import_models": ("fake",),
        },
    )
    tandem = open_tandem(settings)
    yield tandem
    tandem.close()


@pytest.fixture
def library(web_tandem: Tandem) -> Library:
    return load_library(web_tandem)


def make_app(tandem: Tandem, **config: object) -> Flask:
    base = {
        "TESTING": True,
        "SECRET_KEY": "test",
        "WTF_CSRF_ENABLED": False,
        "TANDEM_MATCHING_JOBS_INLINE": True,
    }
    return create_app(test_config={**base, **config}, tandem=tandem)


@pytest.fixture
def app(web_tandem: Tandem, library: Library) -> Flask:
    return make_app(web_tandem)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def do_login(client: FlaskClient, email: str, password: str = PASSWORD) -> TestResponse:
    return client.post("/login", data={"email": email, "password": password})


@pytest.fixture
def login() -> Callable[..., TestResponse]:
    """``login(client, email, password=PASSWORD)``: posts the login form."""
    return do_login


@pytest.fixture
def app_factory(web_tandem: Tandem, library: Library) -> Callable[..., Flask]:
    """``app_factory(**config)``: another app over the same instance and library."""
    return lambda **config: make_app(web_tandem, **config)


@pytest.fixture
def password() -> str:
    return PASSWORD
