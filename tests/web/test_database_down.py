"""A database that cannot be reached answers 503 with a message (HTML or JSON), never a
traceback or SQL; once it is back, the same app serves again without a restart."""

from __future__ import annotations

import logging
import re

import pytest
from flask import Flask
from flask_login import current_user
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError, OperationalError

from kb.runtime import Tandem
from kb.views.support import db
from tests.web.conftest import do_login, make_app

UNREACHABLE = "postgresql+psycopg://tandem:secretpw@127.0.0.1:1/tandem?connect_timeout=2"


def test_unreachable_database_gives_503_then_recovers(
    app: Flask, web_tandem: Tandem, caplog: pytest.LogCaptureFixture
) -> None:
    client = app.test_client()
    assert client.get("/guides").status_code == 200
    good = web_tandem.sessions.kw["bind"]
    down = create_engine(UNREACHABLE)
    web_tandem.sessions.configure(bind=down)
    try:
        with caplog.at_level(logging.DEBUG):
            page = client.get("/guides?q=Zyxelgate")
            api = client.get("/api/search?q=Zyxelgate")
    finally:
        web_tandem.sessions.configure(bind=good)
        down.dispose()
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    text = page.get_data(as_text=True)
    assert "Database unavailable" in text and "try again in a moment" in text
    assert api.status_code == 503
    assert api.get_json()["error"]["title"] == "Database unavailable"
    # The language switcher sends the reader back to the page they asked for (their own
    # query); nothing else on the page may carry it.
    text = re.sub(r'<input type="hidden" name="next" value="[^"]*">', "", text)
    for leaked in ("Traceback", "psycopg", "secretpw", "SELECT", "Zyxelgate"):
        assert leaked not in text
    for leaked in ("secretpw", "SELECT", "Zyxelgate", "127.0.0.1"):
        assert leaked not in caplog.text
    assert "database unavailable on GET /guides: OperationalError" in caplog.text
    assert client.get("/guides").status_code == 200  # back without a restart


def test_a_logged_in_reader_gets_503_too(app: Flask, web_tandem: Tandem) -> None:
    """The error page must not look up the logged-in person (nor their language) in the
    database that is gone: found by the load test as a 500 during a PostgreSQL restart."""
    client = app.test_client()
    assert do_login(client, "anna@example.com").status_code == 302
    good = web_tandem.sessions.kw["bind"]
    down = create_engine(UNREACHABLE)
    web_tandem.sessions.configure(bind=down)
    try:
        page = client.get("/guides", headers={"Accept-Language": "pl"})
        api = client.post("/notes/1/insight", data={})
    finally:
        web_tandem.sessions.configure(bind=good)
        down.dispose()
    assert page.status_code == 503, page.get_data(as_text=True)[:500]
    assert "Baza danych niedostępna" in page.get_data(as_text=True)
    assert api.status_code in (400, 503)  # the CSRF check may come first
    assert client.get("/guides").status_code == 200


def test_connection_lost_after_the_reader_was_loaded_gives_503(
    web_tandem: Tandem, library: object
) -> None:
    """The connection drops mid-request after the logged-in person was loaded and their
    attributes expired by a commit: the error page must not touch that detached person (the
    load test's 'offer: 500' during a PostgreSQL restart, a DetachedInstanceError)."""
    app = make_app(web_tandem, PROPAGATE_EXCEPTIONS=False)

    @app.route("/drop-after-commit")
    def drop() -> str:
        assert current_user.person.ui_language is not None or True  # loads the person
        db().commit()  # expires every loaded attribute, as a write's commit does
        raise OperationalError("UPDATE note ...", {}, Exception("server closed the connection"))

    client = app.test_client()
    assert do_login(client, "anna@example.com").status_code == 302
    page = client.get("/drop-after-commit", headers={"Accept-Language": "pl"})
    assert page.status_code == 503, page.get_data(as_text=True)[:300]
    assert "Baza danych niedostępna" in page.get_data(as_text=True)
    assert client.get("/guides").status_code == 200


def test_other_database_errors_stay_500(web_tandem: Tandem, library: object) -> None:
    app = make_app(web_tandem, PROPAGATE_EXCEPTIONS=False)

    @app.route("/integrity-boom")
    def boom() -> str:
        raise IntegrityError("INSERT ... secret", {"x": "Zyxelgate"}, Exception("UNIQUE"))

    response = app.test_client().get("/integrity-boom")
    assert response.status_code == 500
    assert "Zyxelgate" not in response.get_data(as_text=True)
