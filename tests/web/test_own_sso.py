"""A person sees their own single sign-on link on their profile and removes it themselves,
only while a password still lets them in (else the page says why); audited; nobody else sees
it. The link is made by the SSO service as a real sign-in makes it (tests/web/test_sso.py
runs the whole OpenID Connect flow against a provider)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kb.models import AuditEntry, SsoIdentity
from kb.runtime import Tandem
from kb.services import people, sso

ISSUER = "https://id.example.org/realms/staff"
OWNER = "bogdan@example.com"


def link(web_tandem: Tandem, email: str = OWNER, password: bool = True) -> int:
    with web_tandem.sessions() as s:
        claims = {"sub": "subject-42", "email": email, "email_verified": True}
        person = sso.sign_in(s, ISSUER, claims)
        if not password:
            person.password_hash = None
        s.commit()
        return person.id


def links(web_tandem: Tandem) -> int:
    with web_tandem.sessions() as s:
        return len(s.scalars(select(SsoIdentity)).all())


def unlinks(web_tandem: Tandem) -> list[tuple[int | None, Any]]:
    with web_tandem.sessions() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "account.sso_unlink"))
        return [(e.actor_id, json.loads(e.detail or "null")) for e in rows]


def test_only_the_owner_sees_the_link(
    client: FlaskClient, login: Callable[..., Any], web_tandem: Tandem
) -> None:
    owner_id = link(web_tandem)
    login(client, OWNER)
    page = client.get("/account/profile").get_data(as_text=True)
    assert "Single sign-on" in page and ISSUER in page
    assert "Remove my single sign-on link" in page and 'action="/account/sso/unlink"' in page
    client.post("/logout")
    login(client, "celina@example.com")
    assert ISSUER not in client.get(f"/people/{owner_id}").get_data(as_text=True)
    own = client.get("/account/profile").get_data(as_text=True)
    assert ISSUER not in own and "Remove my single sign-on link" not in own
    client.post("/logout")
    assert ISSUER not in client.get(f"/people/{owner_id}").get_data(as_text=True)


def test_the_owner_removes_the_link_and_other_sessions_end(
    app: Flask, client: FlaskClient, login: Callable[..., Any], web_tandem: Tandem
) -> None:
    owner_id = link(web_tandem)
    elsewhere = app.test_client()
    login(elsewhere, OWNER)
    login(client, OWNER)
    answer = client.post("/account/sso/unlink")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/account/profile#sso")
    assert links(web_tandem) == 0
    page = client.get("/account/profile")
    assert page.status_code == 200  # this session goes on
    text = page.get_data(as_text=True)
    assert "single sign-on link is removed" in text and ISSUER not in text
    assert "/login" in elsewhere.get("/account/profile").headers.get("Location", "")
    assert unlinks(web_tandem) == [(owner_id, {"own": True, "links": 1})]


def test_without_a_password_the_link_stays_and_the_page_says_why(
    client: FlaskClient, login: Callable[..., Any], web_tandem: Tandem
) -> None:
    link(web_tandem, password=False)
    # Log in first (with the password), then lose it: as an SSO-only account would be.
    with web_tandem.sessions() as s:
        found = people.find_person(s, OWNER)
        assert found is not None
        people.set_password(found, "a-passw0rd-for-now")
        s.commit()
    login(client, OWNER, "a-passw0rd-for-now")
    with web_tandem.sessions() as s:
        found = people.find_person(s, OWNER)
        assert found is not None
        found.password_hash = None
        s.commit()
    page = client.get("/account/profile").get_data(as_text=True)
    assert ISSUER in page and "You cannot remove this link yet" in page
    assert 'action="/account/sso/unlink"' not in page
    refused = client.post("/account/sso/unlink", follow_redirects=True)
    assert refused.status_code == 200
    assert "The link stays" in refused.get_data(as_text=True)
    assert "no password" in refused.get_data(as_text=True)
    assert links(web_tandem) == 1 and unlinks(web_tandem) == []


def test_unlinking_needs_the_csrf_token(
    app_factory: Callable[..., Flask], web_tandem: Tandem, password: str
) -> None:
    link(web_tandem)
    client = app_factory(WTF_CSRF_ENABLED=True).test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert csrf is not None
    client.post("/login", data={"email": OWNER, "password": password,
                                "csrf_token": csrf.group(1)})  # fmt: skip
    profile = client.get("/account/profile").get_data(as_text=True)
    assert ISSUER in profile  # logged in
    assert client.post("/account/sso/unlink").status_code == 400
    assert links(web_tandem) == 1
    form = re.search(r'action="/account/sso/unlink"[^>]*>\s*<input type="hidden" '
                     r'name="csrf_token" value="([^"]+)"', profile)  # fmt: skip
    assert form is not None
    done = client.post("/account/sso/unlink", data={"csrf_token": form.group(1)})
    assert done.status_code == 302 and links(web_tandem) == 0
