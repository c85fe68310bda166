"""Accounts: invitation and reset links (one-time, expiring, audited, e-mailed when SMTP is
configured, printed by `tandem invite`), set-password, password change and deactivation
ending other sessions, roles by administrators only, the own profile and the public page."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kb.cli.accounts import invite
from kb.cli.base import State
from kb.embedding import text_hash
from kb.models import AuditEntry, MatchingVector, Person
from kb.runtime import Tandem
from kb.services import accounts, people

from .conftest import Library

Login = Callable[..., Any]
LINK = re.compile(r'id="account-link">[^<]*?(/account/set-password\?token=[A-Za-z0-9_-]+)<')


def add_person(tandem: Tandem, email: str, name: str = "Nowa Osoba", roles: str = "mentee") -> int:
    with tandem.sessions() as s:
        record = people.PersonRecord(name=name, email=email, roles=tuple(roles.split(";")))
        found, _ = people.upsert_person(s, record)
        s.commit()
        return found.id


def make_admin(tandem: Tandem, email: str = "hania@example.com") -> None:
    with tandem.sessions() as s:
        hr = people.find_person(s, email)
        assert hr is not None
        hr.roles = "hr;admin"
        s.commit()


def issue(client: FlaskClient, person_id: int, purpose: str = "invite") -> str:
    page = client.post(f"/account/people/{person_id}/link", data={"purpose": purpose})
    assert page.status_code == 200
    found = LINK.search(page.get_data(as_text=True))
    assert found is not None
    return found.group(1).replace("&amp;", "&")


def audit_actions(tandem: Tandem, person_id: int) -> list[str]:
    with tandem.sessions() as s:
        return list(
            s.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.target_type == "person", AuditEntry.target_id == person_id)
                .order_by(AuditEntry.id)
            )
        )


def test_an_invited_person_sets_a_password_once_and_logs_in(
    app: Flask, web_tandem: Tandem, login: Login
) -> None:
    new_id = add_person(web_tandem, "nowa@example.com")
    hr = app.test_client()
    login(hr, "hania@example.com")
    link = issue(hr, new_id)
    assert audit_actions(web_tandem, new_id) == ["account.invite"]
    with web_tandem.sessions() as s:  # only a digest is stored, never the token
        row = accounts.latest_link(s, s.get(Person, new_id))
        assert row is not None and row.digest not in link and link.split("=")[1] != row.digest

    visitor = app.test_client()
    page = visitor.get(link)
    assert page.status_code == 200 and "Nowa Osoba" in page.get_data(as_text=True)
    short = visitor.post(link, data={"password": "short", "confirm": "short"})
    assert short.status_code == 400
    differ = visitor.post(link, data={"password": "long enough 1", "confirm": "long enough 2"})
    assert differ.status_code == 400
    done = visitor.post(link, data={"password": "my new secret", "confirm": "my new secret"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    # The link works once.
    assert visitor.get(link).status_code == 404
    assert visitor.post(link, data={"password": "other secret", "confirm": "other secret"}
                        ).status_code == 404  # fmt: skip
    assert login(visitor, "nowa@example.com", "my new secret").status_code == 302
    assert visitor.get("/account/profile").status_code == 200


def test_a_link_expires_and_a_newer_link_replaces_the_older(web_tandem: Tandem) -> None:
    new_id = add_person(web_tandem, "later@example.com")
    with web_tandem.sessions() as s:
        person = s.get(Person, new_id)
        assert person is not None
        start = dt.datetime(2026, 1, 1, 9, 0)
        _, first = accounts.issue_link(s, person, "invite", None, now=start)
        _, second = accounts.issue_link(s, person, "invite", None, now=start)
        s.commit()
        with pytest.raises(Exception, match="not valid"):
            accounts.person_for_link(s, first, now=start)
        assert accounts.person_for_link(s, second, now=start).id == new_id
        late = start + dt.timedelta(hours=accounts.LINK_HOURS["invite"], seconds=1)
        with pytest.raises(Exception, match="not valid"):
            accounts.person_for_link(s, second, now=late)
        with pytest.raises(Exception, match="not valid"):
            accounts.person_for_link(s, "made-up-token")


def test_hr_reset_ends_the_old_password_and_its_sessions(
    app: Flask, web_tandem: Tandem, login: Login, password: str
) -> None:
    victim = app.test_client()
    login(victim, "bogdan@example.com")
    assert victim.get("/account/profile").status_code == 200
    hr = app.test_client()
    login(hr, "hania@example.com")
    with web_tandem.sessions() as s:
        bogdan = people.find_person(s, "bogdan@example.com")
        assert bogdan is not None
        bogdan_id = bogdan.id
    link = issue(hr, bogdan_id, "reset")
    assert victim.get("/account/profile").status_code == 302  # the open session ended
    assert login(app.test_client(), "bogdan@example.com", password).status_code == 200  # refused
    fresh = app.test_client()
    fresh.post(link, data={"password": "after the reset", "confirm": "after the reset"})
    assert login(fresh, "bogdan@example.com", "after the reset").status_code == 302
    assert audit_actions(web_tandem, bogdan_id) == ["account.reset"]


def test_password_change_ends_other_sessions_but_not_this_one(
    app: Flask, login: Login, password: str
) -> None:
    other, this = app.test_client(), app.test_client()
    login(other, "anna@example.com")
    login(this, "anna@example.com")
    new = {"password": "brand new pass", "confirm": "brand new pass"}
    wrong = this.post("/account/password", data={"current": "not it", **new})
    assert wrong.status_code == 400
    changed = this.post("/account/password", data={"current": password, **new})
    assert changed.status_code == 302
    assert this.get("/account/profile").status_code == 200
    assert other.get("/account/profile").status_code == 302
    assert login(app.test_client(), "anna@example.com", "brand new pass").status_code == 302


def test_wrong_current_passwords_are_throttled_like_logins(
    app_factory: Callable[..., Flask], web_tandem: Tandem, login: Login, password: str
) -> None:
    app = app_factory()
    client = app.test_client()
    login(client, "anna@example.com")
    limit = web_tandem.settings.login_failures_per_account
    bad = {"current": "guess", "password": "brand new pass", "confirm": "brand new pass"}
    for _ in range(limit):
        assert client.post("/account/password", data=bad).status_code == 400
    good = {**bad, "current": password}
    assert client.post("/account/password", data=good).status_code == 429


def test_deactivation_ends_sessions_tokens_and_links_and_needs_an_admin(
    app: Flask, web_tandem: Tandem, login: Login
) -> None:
    target = app.test_client()
    login(target, "dawid@example.com")
    token_page = target.post("/account/tokens", data={"name": "script"}).get_data(as_text=True)
    token = re.search(r'id="new-token">(tdm_[A-Za-z0-9_-]+)<', token_page)
    assert token is not None
    bearer = {"Authorization": f"Bearer {token.group(1)}"}
    assert target.get("/api/me", headers=bearer).status_code == 200
    with web_tandem.sessions() as s:
        dawid = people.find_person(s, "dawid@example.com")
        assert dawid is not None
        dawid_id = dawid.id
    hr = app.test_client()
    login(hr, "hania@example.com")
    link = issue(hr, dawid_id, "reset")
    login(target, "dawid@example.com")  # (the reset ended the session; the test goes on)
    assert hr.post(f"/account/people/{dawid_id}/deactivate").status_code == 403  # HR, not admin
    make_admin(web_tandem)
    assert hr.post(f"/account/people/{dawid_id}/deactivate").status_code == 302
    assert app.test_client().get("/api/me", headers=bearer).status_code == 401
    assert app.test_client().get(link).status_code == 404
    assert "account.deactivate" in audit_actions(web_tandem, dawid_id)
    assert hr.post(f"/account/people/{dawid_id}/link").status_code == 400  # not while inactive


def test_roles_are_changed_by_administrators_only_and_audited(
    app: Flask, web_tandem: Tandem, login: Login
) -> None:
    with web_tandem.sessions() as s:
        celina = people.find_person(s, "celina@example.com")
        assert celina is not None
        celina_id = celina.id
    hr = app.test_client()
    login(hr, "hania@example.com")
    assert hr.post(f"/account/people/{celina_id}/roles", data={"roles": ["hr"]}).status_code == 403
    make_admin(web_tandem)
    assert hr.post(f"/account/people/{celina_id}/roles",
                   data={"roles": ["mentor", "hr"]}).status_code == 302  # fmt: skip
    with web_tandem.sessions() as s:
        found = s.get(Person, celina_id)
        assert found is not None and found.roles == "mentor;hr"
        hania = people.find_person(s, "hania@example.com")
        assert hania is not None
        hania_id = hania.id
    assert audit_actions(web_tandem, celina_id) == ["account.roles"]
    # An administrator cannot take away their own admin role.
    assert hr.post(f"/account/people/{hania_id}/roles", data={"roles": ["hr"]}).status_code == 403
    # A non-HR person does not see the account pages at all.
    mentee = app.test_client()
    login(mentee, "bogdan@example.com")
    assert mentee.get("/account/people/").status_code == 403


def test_profile_edit_is_used_by_matching_at_once(
    app: Flask, web_tandem: Tandem, login: Login
) -> None:
    client = app.test_client()
    login(client, "anna@example.com")
    page = client.post("/account/profile", data={
        "expertise": "Power BI dashboards; prompt writing", "goals": "public speaking",
        "languages": ["pl", "ru"], "capacity": "3", "style": "hands-on",
        "availability": ["tue-am", "thu-pm"], "opt_in": "y", "ui_language": "ru",
    })  # fmt: skip
    assert page.status_code == 302
    with web_tandem.sessions() as s:
        anna = people.find_person(s, "anna@example.com")
        assert anna is not None
        assert anna.expertise == "Power BI dashboards;prompt writing"
        assert (anna.languages, anna.capacity, anna.ui_language) == ("pl;ru", 3, "ru")
        hashes = set(s.scalars(select(MatchingVector.text_hash)))
        assert text_hash("Power BI dashboards") in hashes
    # The page now speaks Russian.
    assert "Ваш профиль" in client.get("/account/profile").get_data(as_text=True)
    bad = client.post("/account/profile", data={"capacity": "99", "languages": ["pl"]})
    assert bad.status_code == 400


def test_public_page_shows_guides_and_insights_never_notes_and_goals_only_by_choice(
    app: Flask, web_tandem: Tandem, library: Library, login: Login
) -> None:
    with web_tandem.sessions() as s:
        anna = people.find_person(s, "anna@example.com")
        assert anna is not None
        anna.goals = "Learn Zyxelgoal"
        s.commit()
        anna_id = anna.id
    visitor = app.test_client()
    page = visitor.get(f"/people/{anna_id}").get_data(as_text=True)
    assert "Copilot w Excelu" in page  # her published guide
    assert "Channels beat long e-mail threads" in page  # the shared insight
    assert "Unfinished draft" not in page
    for secret in ("Zyxelgate", "Quokkaword", "Budget session", "Zyxelgoal", "anna@example.com"):
        assert secret not in page
    with web_tandem.sessions() as s:
        anna = s.get(Person, anna_id)
        assert anna is not None
        anna.show_goals = True
        s.commit()
    assert "Zyxelgoal" in visitor.get(f"/people/{anna_id}").get_data(as_text=True)
    assert app.test_client().get("/people/999999").status_code == 404


def test_a_persons_languages_are_named_in_the_readers_language(
    app: Flask, web_tandem: Tandem
) -> None:
    with web_tandem.sessions() as s:
        anna = people.find_person(s, "anna@example.com")
        assert anna is not None
        anna.languages = "pl;en"
        s.commit()
        anna_id = anna.id
    visitor = app.test_client()
    for accept, names in (("en", "Polish, English"), ("pl", "polski, angielski"),
                          ("ru", "польский, английский")):  # fmt: skip
        page = visitor.get(f"/people/{anna_id}", headers={"Accept-Language": accept})
        assert f"<dd>{names}</dd>" in page.get_data(as_text=True), accept


def test_profile_fields_are_escaped(app: Flask, web_tandem: Tandem, login: Login) -> None:
    client = app.test_client()
    login(client, "bogdan@example.com")
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    assert client.post("/account/profile", data={
        "expertise": payload, "goals": payload, "languages": ["pl"], "show_goals": "y",
        "opt_in": "y",
    }).status_code == 302  # fmt: skip
    with web_tandem.sessions() as s:
        bogdan = people.find_person(s, "bogdan@example.com")
        assert bogdan is not None
        bogdan_id = bogdan.id
    for page in (client.get("/account/profile"), app.test_client().get(f"/people/{bogdan_id}")):
        text = page.get_data(as_text=True)
        assert "<script>alert(1)" not in text and "<img src=x" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_tandem_invite_prints_a_working_link(
    app: Flask, web_tandem: Tandem, library: Library
) -> None:
    new_id = add_person(web_tandem, "cli@example.com", "Cli Person")
    state = State(web_tandem.settings)
    state.replace(web_tandem)  # the command runs over the test's instance
    result = CliRunner().invoke(
        invite, ["cli@example.com", "--as", "hania@example.com",
                 "--base-url", "https://tandem.example.com"],
        obj=state, catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    url = result.stdout.strip().splitlines()[-1]
    assert url.startswith("https://tandem.example.com/account/set-password?token=")
    path = url.removeprefix("https://tandem.example.com")
    assert app.test_client().get(path).status_code == 200
    assert audit_actions(web_tandem, new_id) == ["account.invite"]


def test_invitation_is_mailed_in_the_persons_language_when_smtp_is_configured(
    web_tandem: Tandem, library: Library, login: Login, tmp_path: Any
) -> None:
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    from tests.services.test_mail import Inbox, free_port

    inbox, port = Inbox(), free_port()
    controller = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = web_tandem.settings
        object.__setattr__(settings, "smtp_host", "127.0.0.1")
        object.__setattr__(settings, "smtp_port", port)
        object.__setattr__(settings, "smtp_tls", "none")
        new_id = add_person(web_tandem, "polka@example.com", "Ola Polka")
        with web_tandem.sessions() as s:
            ola = s.get(Person, new_id)
            assert ola is not None
            ola.ui_language = "pl"
            s.commit()
        from .conftest import make_app

        hr = make_app(web_tandem).test_client()
        login(hr, "hania@example.com")
        link = issue(hr, new_id)
    finally:
        object.__setattr__(web_tandem.settings, "smtp_host", None)
        controller.stop()
    assert len(inbox.messages) == 1
    _, recipients, message = inbox.messages[0]
    assert recipients == ["polka@example.com"]
    body = message.get_payload(decode=True).decode("utf-8")
    assert link.split("token=")[1] in body
    assert "Ola Polka" in body and "Tandem" in str(message["Subject"])
    assert accounts.INVITE_BODY.split(",")[0] not in body  # Polish, not the English source
