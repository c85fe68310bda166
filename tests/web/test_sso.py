"""Single sign-on against a real OpenID Connect provider on loopback.

The provider is ``oidc-provider-mock`` (an OpenID provider server built on Authlib) served by
werkzeug on 127.0.0.1 at a random port: discovery, its sign-in form, authorization codes, the
token endpoint and RS256 ID tokens signed with keys published at its JWKS endpoint. Tandem's
side talks to it over HTTP exactly as in production; the test plays the browser: it follows
Tandem's redirect to the provider, submits the provider's form for a subject, and brings the
provider's redirect back to Tandem's callback.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from kb.config import load_settings
from kb.models import AuditEntry, Person, SsoIdentity
from kb.runtime import Tandem, open_tandem
from kb.services import export, logins, people

from .conftest import Library, do_login, load_library, make_app
from .oidc_provider import CLIENT_ID, Provider, serve_provider


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with serve_provider() as found:
        yield found


def tandem_for(tmp_path: Path, issuer: str, secret: str = "s3cret") -> Tandem:
    settings = load_settings(
        {
            "TANDEM_OIDC_ISSUER": issuer,
            "TANDEM_OIDC_CLIENT_ID": CLIENT_ID,
            "TANDEM_OIDC_CLIENT_SECRET": secret,
            "TANDEM_OIDC_LABEL": "Example ID",
        },
        {
            "instance_dir": tmp_path / "instance",
            "database_url": f"sqlite:///{tmp_path / 'instance' / 'tandem.sqlite3'}",
            "search_models": ("fake",),
            "import_models": ("fake",),
        },
    )
    return open_tandem(settings)


@pytest.fixture
def sso_tandem(tmp_path: Path, provider: Provider) -> Iterator[Tandem]:
    tandem = tandem_for(tmp_path, provider.issuer)
    yield tandem
    tandem.close()


@pytest.fixture
def sso_library(sso_tandem: Tandem) -> Library:
    return load_library(sso_tandem)


@pytest.fixture
def sso_app(sso_tandem: Tandem, sso_library: Library) -> Flask:
    return make_app(sso_tandem)


CALLBACKS: list[str] = []  # the provider's answers, as sign_in brought them back


def sign_in(
    client: FlaskClient, provider: Provider, sub: str, start: str = "/login/sso"
) -> TestResponse:
    """The whole round trip for the provider's user ``sub``: Tandem's answer at the callback."""
    to_provider = client.get(start)
    assert to_provider.status_code == 302, to_provider.get_data(as_text=True)
    authorize = to_provider.headers["Location"]
    assert authorize.startswith(f"{provider.issuer}/oauth2/authorize?")
    form = requests.get(authorize, timeout=10)  # the provider's own sign-in page
    assert form.status_code == 200 and 'name="sub"' in form.text
    back = requests.post(authorize, data={"sub": sub}, allow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text
    callback = urlsplit(back.headers["Location"])
    assert callback.path == "/login/sso/callback"
    CALLBACKS.append(f"{callback.path}?{callback.query}")
    return client.get(CALLBACKS[-1])


def whoami(client: FlaskClient) -> str:
    return client.get("/").get_data(as_text=True)


def test_an_existing_active_account_signs_in(
    sso_app: Flask, sso_tandem: Tandem, provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    provider.set_user("anna-at-idp", email="Anna@Example.com", email_verified=True)
    client = sso_app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    assert "Sign in with Example ID" in login_page and 'href="/login/sso"' in login_page
    with caplog.at_level(logging.INFO):
        done = sign_in(client, provider, "anna-at-idp")
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert "Anna Mentor" in whoami(client)
    assert "Log out" in whoami(client)
    # The same answer from the provider cannot be used again (its state is spent).
    replay = client.get(CALLBACKS[-1])
    assert replay.status_code == 400 and "not started here" in replay.get_data(as_text=True)
    with sso_tandem.sessions() as s:
        identity = s.scalars(select(SsoIdentity)).one()
        assert (identity.issuer, identity.subject) == (provider.issuer, "anna-at-idp")
        assert identity.person.email == "anna@example.com"
        assert identity.last_login_at is not None
        linked = s.scalars(select(AuditEntry).where(AuditEntry.action == "account.sso_link"))
        assert [e.target_id for e in linked] == [identity.person_id]
        # The person's data export lists the link (the provider's identifiers are about them).
        exported = export.person_data(s, identity.person)["sso_identities"]
        assert [(e["issuer"], e["subject"]) for e in exported] == [(provider.issuer, "anna-at-idp")]
    # Tandem logs the person's id, never an e-mail address (issue 18's rule).
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("kb")]
    assert f"single sign-on for person {identity.person_id}" in ours
    assert not any("@" in line for line in ours)


def test_the_flow_uses_pkce_nonce_and_the_token_endpoint(
    sso_app: Flask, provider: Provider
) -> None:
    provider.set_user("anna-pkce", email="anna@example.com", email_verified=True)
    provider.requests.clear()
    assert sign_in(sso_app.test_client(), provider, "anna-pkce").status_code == 302
    authorize = next(q for path, q, _ in provider.requests if path == "/oauth2/authorize")
    token = next(f for path, _, f in provider.requests if path == "/oauth2/token")
    assert authorize["code_challenge_method"] == "S256"
    assert authorize["nonce"] and authorize["state"]
    assert "openid" in authorize["scope"].split() and "email" in authorize["scope"].split()
    digest = hashlib.sha256(token["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == authorize["code_challenge"]
    assert token["grant_type"] == "authorization_code"
    assert ("/oauth2/token", "Basic") in provider.authorizations  # the client's secret


def test_a_next_page_is_kept_across_the_round_trip(sso_app: Flask, provider: Provider) -> None:
    provider.set_user("bogdan-at-idp", email="bogdan@example.com", email_verified=True)
    client = sso_app.test_client()
    done = sign_in(client, provider, "bogdan-at-idp", start="/login/sso?next=/me")
    assert done.headers["Location"] == "/me"
    elsewhere = sign_in(
        sso_app.test_client(), provider, "bogdan-at-idp", start="/login/sso?next=//evil.example"
    )
    assert elsewhere.headers["Location"] == "/"


def test_sso_is_off_without_settings(app: Flask) -> None:
    client = app.test_client()
    assert "/login/sso" not in client.get("/login").get_data(as_text=True)
    assert client.get("/login/sso").status_code == 404
    assert client.get("/login/sso/callback?code=x&state=y").status_code == 404


def test_settings_refuse_half_a_configuration() -> None:
    from kb.errors import ConfigError

    with pytest.raises(ConfigError, match="TANDEM_OIDC_CLIENT_ID"):
        load_settings({"TANDEM_OIDC_ISSUER": "https://id.example.com"})
    good = {
        "TANDEM_OIDC_ISSUER": "https://id.example.com/",
        "TANDEM_OIDC_CLIENT_ID": "x",
        "TANDEM_OIDC_CLIENT_SECRET": "y",
    }
    with pytest.raises(ConfigError, match="https"):
        load_settings({**good, "TANDEM_OIDC_ISSUER": "http://id.example.com"})
    with pytest.raises(ConfigError, match="TANDEM_OIDC_CLIENT_SECRET"):
        load_settings({**good, "TANDEM_OIDC_CLIENT_SECRET": ""})
    with pytest.raises(ConfigError, match="email"):
        load_settings({**good, "TANDEM_OIDC_SCOPES": "openid profile"})
    settings = load_settings(good)
    assert settings.oidc_enabled and settings.oidc_issuer == "https://id.example.com"
    assert not load_settings({}).oidc_enabled


def refused(response: TestResponse, client: FlaskClient, status: int, words: str) -> None:
    """Tandem answered the callback with the login page, ``status`` and ``words``, and the
    browser is not logged in."""
    page = response.get_data(as_text=True)
    assert response.status_code == status, page
    assert words in page and "Sign in with Example ID" in page
    assert "Log out" not in whoami(client)


def no_account_made(tandem: Tandem, people_before: int) -> None:
    with tandem.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == people_before
        assert s.scalars(select(SsoIdentity)).all() == []


def count_people(tandem: Tandem) -> int:
    with tandem.sessions() as s:
        return s.scalar(select(func.count()).select_from(Person)) or 0


def test_an_unknown_address_is_refused(
    sso_app: Flask, sso_tandem: Tandem, provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    before = count_people(sso_tandem)
    provider.set_user("stranger", email="stranger@example.com", email_verified=True)
    client = sso_app.test_client()
    with caplog.at_level(logging.INFO):
        response = sign_in(client, provider, "stranger")
    refused(response, client, 403, "There is no Tandem account for the e-mail address")
    no_account_made(sso_tandem, before)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("kb")]
    assert "single sign-on refused: unknown" in ours
    assert not any("stranger" in line for line in ours)


def test_an_unverified_address_is_refused(
    sso_app: Flask, sso_tandem: Tandem, provider: Provider
) -> None:
    before = count_people(sso_tandem)
    client = sso_app.test_client()
    provider.set_user("anna-unverified", email="anna@example.com", email_verified=False)
    refused(sign_in(client, provider, "anna-unverified"), client, 403, "did not confirm")
    provider.set_user("anna-unsaid", email="anna@example.com")  # no email_verified at all
    refused(sign_in(client, provider, "anna-unsaid"), client, 403, "did not confirm")
    no_account_made(sso_tandem, before)


def test_a_deactivated_account_is_refused(
    sso_app: Flask, sso_tandem: Tandem, provider: Provider
) -> None:
    with sso_tandem.sessions() as s:
        people.deactivate(people.get_person_by_email(s, "celina@example.com"))
        s.commit()
    before = count_people(sso_tandem)
    provider.set_user("celina-at-idp", email="celina@example.com", email_verified=True)
    client = sso_app.test_client()
    refused(sign_in(client, provider, "celina-at-idp"), client, 403, "This account is deactivated")
    no_account_made(sso_tandem, before)


def test_a_state_that_this_browser_did_not_start_is_refused(
    sso_app: Flask, sso_tandem: Tandem, provider: Provider
) -> None:
    """Login CSRF: a callback carrying someone else's code and state, or a forged state."""
    provider.set_user("anna-at-idp", email="anna@example.com", email_verified=True)
    attacker, victim = sso_app.test_client(), sso_app.test_client()
    authorize = attacker.get("/login/sso").headers["Location"]
    back = requests.post(authorize, data={"sub": "anna-at-idp"}, allow_redirects=False, timeout=10)
    callback = urlsplit(back.headers["Location"])
    refused(victim.get(f"{callback.path}?{callback.query}"), victim, 400, "not started here")
    # The right browser with the state changed: refused too, and the flow cannot be resumed.
    query = parse_qs(callback.query)
    forged = f"{callback.path}?code={query['code'][0]}&state=forged"
    refused(attacker.get(forged), attacker, 400, "not started here")
    with sso_tandem.sessions() as s:
        assert s.scalars(select(SsoIdentity)).all() == []


def test_a_callback_without_a_code_from_the_provider_is_refused(
    sso_app: Flask, provider: Provider
) -> None:
    """The person pressed "deny" at the provider: it comes back with error=access_denied."""
    client = sso_app.test_client()
    authorize = client.get("/login/sso").headers["Location"]
    back = requests.post(authorize, data={"action": "deny"}, allow_redirects=False, timeout=10)
    callback = urlsplit(back.headers["Location"])
    assert "error=access_denied" in callback.query
    refused(client.get(f"{callback.path}?{callback.query}"), client, 400, "did not work")


def test_later_sign_ins_use_the_linked_subject(
    sso_app: Flask, sso_tandem: Tandem, provider: Provider
) -> None:
    provider.set_user("anna-linked", email="anna@example.com", email_verified=True)
    assert sign_in(sso_app.test_client(), provider, "anna-linked").status_code == 302
    # The provider now gives her another address, not even verified: the link still holds.
    provider.set_user("anna-linked", email="anna.new@elsewhere.example", email_verified=False)
    client = sso_app.test_client()
    assert sign_in(client, provider, "anna-linked").status_code == 302
    assert "Anna Mentor" in whoami(client)
    # Another subject at the provider with Anna's verified address does not get her account.
    provider.set_user("anna-impostor", email="anna@example.com", email_verified=True)
    other = sso_app.test_client()
    refused(sign_in(other, provider, "anna-impostor"), other, 403, "already linked")
    with sso_tandem.sessions() as s:
        rows = s.scalars(select(SsoIdentity)).all()
        assert [(r.subject, r.person.email) for r in rows] == [("anna-linked", "anna@example.com")]


def test_a_linked_account_deactivated_later_is_refused_and_its_session_ends(
    sso_app: Flask, sso_tandem: Tandem, provider: Provider
) -> None:
    provider.set_user("dawid-at-idp", email="dawid@example.com", email_verified=True)
    client = sso_app.test_client()
    assert sign_in(client, provider, "dawid-at-idp").status_code == 302
    assert "Dawid Mentee" in whoami(client)
    with sso_tandem.sessions() as s:
        people.deactivate(people.get_person_by_email(s, "dawid@example.com"))
        s.commit()
    assert "Dawid Mentee" not in whoami(client)  # the open session ended
    refused(sign_in(client, provider, "dawid-at-idp"), client, 403, "This account is deactivated")


def test_logout_ends_a_single_sign_on_session(sso_app: Flask, provider: Provider) -> None:
    provider.set_user("bogdan-at-idp", email="bogdan@example.com", email_verified=True)
    client = sso_app.test_client()
    assert sign_in(client, provider, "bogdan-at-idp").status_code == 302
    saved = client.get_cookie("session")
    assert saved is not None
    client.post("/logout")
    assert "Log out" not in whoami(client)
    client.set_cookie("session", saved.value)  # a copy of the old cookie is useless too
    assert "Log out" not in whoami(client)


def test_refusals_count_towards_the_address_limit(
    sso_tandem: Tandem, sso_library: Library, provider: Provider
) -> None:
    app = make_app(sso_tandem)
    provider.set_user("stranger", email="stranger@example.com", email_verified=True)
    client = app.test_client()
    limit = sso_tandem.settings.login_failures_per_address
    with sso_tandem.sessions() as s:  # the address has failed all but once already
        for _ in range(limit - 1):
            logins.record_address_failure(s, "127.0.0.1", logins.LoginLimits())
        s.commit()
    refused(sign_in(client, provider, "stranger"), client, 403, "no Tandem account")
    provider.set_user("anna-at-idp", email="anna@example.com", email_verified=True)
    assert client.get("/login/sso").status_code == 429


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "kb.web.auth"]


def test_an_id_token_changed_in_transit_is_refused(
    sso_app: Flask, sso_tandem: Tandem, provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    """The provider signs for Bogdan; on the way back the token is rewritten to name HR's
    Hania (same signature), or its signature is damaged: neither signs anybody in."""
    provider.set_user("bogdan-at-idp", email="bogdan@example.com", email_verified=True)

    def become_hania(token: dict[str, Any]) -> dict[str, Any]:
        header, payload, signature = token["id_token"].split(".")
        claims = json.loads(unb64(payload))
        claims.update(sub="hania-at-idp", email="hania@example.com")
        return {**token, "id_token": f"{header}.{b64(json.dumps(claims).encode())}.{signature}"}

    def damage_signature(token: dict[str, Any]) -> dict[str, Any]:
        header, payload, signature = token["id_token"].split(".")
        raw = bytearray(unb64(signature))
        raw[len(raw) // 2] ^= 0x01
        return {**token, "id_token": f"{header}.{payload}.{b64(bytes(raw))}"}

    try:
        for tamper in (become_hania, damage_signature):
            provider.tamper = tamper
            client = sso_app.test_client()
            refused(sign_in(client, provider, "bogdan-at-idp"), client, 400, "did not work")
    finally:
        provider.tamper = None
    assert failures(caplog) == ["single sign-on failed: BadSignatureError"] * 2
    with sso_tandem.sessions() as s:
        assert s.scalars(select(SsoIdentity)).all() == []
    client = sso_app.test_client()  # untouched, the same flow works
    assert sign_in(client, provider, "bogdan-at-idp").status_code == 302


def test_an_expired_id_token_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A provider whose tokens expired ten minutes ago (beyond Authlib's two minutes of
    clock leeway): its correctly signed ID token is refused."""
    with serve_provider(access_token_max_age=timedelta(minutes=-10)) as stale:
        tandem = tandem_for(tmp_path, stale.issuer)
        try:
            load_library(tandem)
            app = make_app(tandem)
            stale.set_user("anna-at-idp", email="anna@example.com", email_verified=True)
            client = app.test_client()
            refused(sign_in(client, stale, "anna-at-idp"), client, 400, "did not work")
            assert failures(caplog) == ["single sign-on failed: ExpiredTokenError"]
        finally:
            tandem.close()


def test_hr_sees_and_removes_a_link(sso_app: Flask, sso_tandem: Tandem, provider: Provider) -> None:
    """The refusal "already linked" says to ask HR: HR sees the link and can remove it."""
    provider.set_user("anna-old", email="anna@example.com", email_verified=True)
    anna = sso_app.test_client()
    assert sign_in(anna, provider, "anna-old").status_code == 302
    with sso_tandem.sessions() as s:
        anna_id = people.get_person_by_email(s, "anna@example.com").id
    hr = sso_app.test_client()
    assert do_login(hr, "hania@example.com").status_code == 302
    page = hr.get(f"/account/people/{anna_id}").get_data(as_text=True)
    assert f"Linked to {provider.issuer}" in page and "Remove the single sign-on link" in page
    mentee = sso_app.test_client()  # not HR: no right to remove it
    assert do_login(mentee, "bogdan@example.com").status_code == 302
    assert mentee.post(f"/account/people/{anna_id}/sso/unlink").status_code == 403
    done = hr.post(f"/account/people/{anna_id}/sso/unlink", follow_redirects=True)
    assert "single sign-on link removed" in done.get_data(as_text=True)
    assert "Log out" not in whoami(anna)  # her sessions ended
    with sso_tandem.sessions() as s:
        assert s.scalars(select(SsoIdentity)).all() == []
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "account.sso_unlink")).one()
        assert entry.target_id == anna_id
    provider.set_user("anna-new", email="anna@example.com", email_verified=True)
    assert sign_in(anna, provider, "anna-new").status_code == 302  # a new link is made
    assert "Anna Mentor" in whoami(anna)


def test_a_provider_that_cannot_be_reached(tmp_path: Path) -> None:
    """Nothing listens at the issuer: the login page says so (502); passwords still work."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tandem = tandem_for(tmp_path, f"http://127.0.0.1:{port}")
    try:
        load_library(tandem)
        client = make_app(tandem).test_client()
        answer = client.get("/login/sso")
        assert answer.status_code == 502
        assert "cannot be reached right now" in answer.get_data(as_text=True)
        assert do_login(client, "anna@example.com").status_code == 302
        assert "Anna Mentor" in whoami(client)
    finally:
        tandem.close()
