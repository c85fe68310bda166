"""Accounts that resist attack: throttled logins, no timing hint, sessions that really end,
Secure cookies over HTTPS, a short remember-me cookie (issue 18, findings 1 to 3)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kb.models import LoginFailure, Person
from kb.runtime import Tandem
from kb.services import people

Login = Callable[..., Any]
WRONG = "not-the-password"


def person(tandem: Tandem, email: str) -> Person:
    with tandem.sessions() as s:
        found = people.find_person(s, email)
        assert found is not None
        return found


def cookie_value(client: FlaskClient, name: str) -> str | None:
    cookie = client.get_cookie(name)
    return cookie.value if cookie is not None else None


# Finding 1: throttling per account and per client address, shared by all workers.


def test_wrong_passwords_lock_the_account_for_a_while(
    app_factory: Callable[..., Flask], password: str
) -> None:
    client = app_factory().test_client()
    for _ in range(5):
        wrong = client.post("/login", data={"email": "anna@example.com", "password": WRONG})
        assert wrong.status_code == 200
    # The right password no longer works at once: the account waits out the window.
    right = client.post("/login", data={"email": "anna@example.com", "password": password})
    assert right.status_code == 429
    assert b"Too many failed logins" in right.data
    assert client.get("/pair").status_code == 302
    # Another account from another address is not affected.
    other = app_factory().test_client()
    answer = other.post(
        "/login",
        data={"email": "bogdan@example.com", "password": password},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert answer.status_code == 302


def test_throttling_is_shared_by_workers(app_factory: Callable[..., Flask], password: str) -> None:
    """Two apps over one database stand for two gunicorn workers."""
    first, second = app_factory().test_client(), app_factory().test_client()
    for i in range(5):
        client = first if i % 2 else second
        client.post("/login", data={"email": "anna@example.com", "password": WRONG})
    for client in (first, second):
        answer = client.post("/login", data={"email": "anna@example.com", "password": password})
        assert answer.status_code == 429


def test_one_address_trying_many_accounts_is_throttled(
    app_factory: Callable[..., Flask], password: str
) -> None:
    client = app_factory().test_client()
    address = {"REMOTE_ADDR": "203.0.113.7"}
    for i in range(20):
        client.post(
            "/login",
            data={"email": f"guess{i}@example.com", "password": WRONG},
            environ_base=address,
        )
    answer = client.post(
        "/login", data={"email": "celina@example.com", "password": password}, environ_base=address
    )
    assert answer.status_code == 429
    elsewhere = client.post(
        "/login",
        data={"email": "celina@example.com", "password": password},
        environ_base={"REMOTE_ADDR": "198.51.100.1"},
    )
    assert elsewhere.status_code == 302


def test_failures_age_out_and_store_no_email(
    app_factory: Callable[..., Flask], web_tandem: Tandem, password: str
) -> None:
    client = app_factory().test_client()
    for _ in range(5):
        client.post("/login", data={"email": "anna@example.com", "password": WRONG})
    with web_tandem.sessions() as s:
        rows = s.query(LoginFailure).all()
        assert len(rows) == 10  # one per account, one per address, for each failure
        assert all("anna" not in r.key and "127.0.0.1" not in r.key for r in rows)
        for row in rows:
            row.at -= dt.timedelta(seconds=901)
        s.commit()
    answer = client.post("/login", data={"email": "anna@example.com", "password": password})
    assert answer.status_code == 302


# Finding 2: an unknown account costs one password hash, like a known one.


def test_unknown_and_known_accounts_hash_once(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = people.check_password_hash

    def counting(stored: str, given: str) -> bool:
        calls.append(stored)
        return real(stored, given)

    monkeypatch.setattr(people, "check_password_hash", counting)
    client.post("/login", data={"email": "anna@example.com", "password": WRONG})
    assert len(calls) == 1
    client.post("/login", data={"email": "nobody@example.com", "password": WRONG})
    assert len(calls) == 2
    # Same hash method and cost as a real password.
    assert calls[1].split("$")[0] == calls[0].split("$")[0]


# Finding 3: logout, a password change and deactivation end every session.


def replay(app: Flask, cookies: dict[str, str]) -> FlaskClient:
    """A new client carrying saved cookies, as an attacker who copied them would."""
    client = app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def logged_in_cookies(client: FlaskClient, login: Login, email: str) -> dict[str, str]:
    answer = client.post(
        "/login", data={"email": email, "password": "correct horse battery", "remember": "y"}
    )
    assert answer.status_code == 302
    saved = {}
    for name in ("session", "remember_token"):
        value = cookie_value(client, name)
        assert value, name
        saved[name] = value
    return saved


def test_a_saved_session_ends_at_logout(app: Flask, login: Login) -> None:
    client = app.test_client()
    saved = logged_in_cookies(client, login, "anna@example.com")
    assert replay(app, saved).get("/pair").status_code == 200
    client.post("/logout")
    for name, value in saved.items():
        assert replay(app, {name: value}).get("/pair").status_code == 302, name


def test_a_password_change_ends_sessions(app: Flask, login: Login, web_tandem: Tandem) -> None:
    saved = logged_in_cookies(app.test_client(), login, "anna@example.com")
    with web_tandem.sessions() as s:
        anna = people.find_person(s, "anna@example.com")
        people.set_password(anna, "a brand new passphrase")
        s.commit()
    for name, value in saved.items():
        assert replay(app, {name: value}).get("/pair").status_code == 302, name


def test_deactivation_ends_sessions_and_logins(
    app: Flask, login: Login, web_tandem: Tandem, library: Any, password: str
) -> None:
    saved = logged_in_cookies(app.test_client(), login, "anna@example.com")
    with web_tandem.sessions() as s:
        people.deactivate(people.find_person(s, "anna@example.com"))
        s.commit()
    client = replay(app, saved)
    assert client.get("/pair").status_code == 302
    assert client.get(f"/notes/{library.private_note_id}").status_code == 404
    again = app.test_client().post(
        "/login", data={"email": "anna@example.com", "password": password}
    )
    assert again.status_code == 200 and b"Wrong email or password" in again.data


def test_hr_admin_deactivates_an_account(app: Flask, login: Login, web_tandem: Tandem) -> None:
    with web_tandem.sessions() as s:
        hania = people.find_person(s, "hania@example.com")
        hania.roles = "hr;admin"
        s.commit()
    saved = logged_in_cookies(app.test_client(), login, "celina@example.com")
    admin = app.test_client()
    login(admin, "hania@example.com")
    celina = person(web_tandem, "celina@example.com")
    answer = admin.post(f"/hr/people/{celina.id}/deactivate", follow_redirects=True)
    assert answer.status_code == 200
    assert b"Celina Mentor: account deactivated" in answer.data
    assert not person(web_tandem, "celina@example.com").active
    assert replay(app, saved).get("/pair").status_code == 302
    # The programme page's button uses the account service: an admin cannot lock themselves out.
    hania_id = person(web_tandem, "hania@example.com").id
    assert admin.post(f"/hr/people/{hania_id}/deactivate").status_code == 403
    assert person(web_tandem, "hania@example.com").active


# Secure cookies behind an HTTPS proxy; a short, configurable remember-me cookie.


def set_cookies(answer: Any) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in answer.headers.getlist("Set-Cookie")}


def test_cookies_are_secure_when_the_proxy_says_https(app: Flask, password: str) -> None:
    form = {"email": "anna@example.com", "password": password, "remember": "y"}
    proxied = app.test_client().post("/login", data=form, headers={"X-Forwarded-Proto": "https"})
    cookies = set_cookies(proxied)
    assert "Secure" in cookies["session"] and "Secure" in cookies["remember_token"]
    plain = set_cookies(app.test_client().post("/login", data=form))
    assert "Secure" not in plain["session"] and "Secure" not in plain["remember_token"]


def test_secure_cookies_always(
    app_factory: Callable[..., Flask], web_tandem: Tandem, password: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(
        web_tandem, "settings", dataclasses.replace(web_tandem.settings, secure_cookies="always")
    )
    app = app_factory()
    form = {"email": "anna@example.com", "password": password, "remember": "y"}
    cookies = set_cookies(app.test_client().post("/login", data=form))
    assert "Secure" in cookies["session"] and "Secure" in cookies["remember_token"]


def test_remember_me_lives_two_weeks(app: Flask, password: str) -> None:
    form = {"email": "anna@example.com", "password": password, "remember": "y"}
    cookie = set_cookies(app.test_client().post("/login", data=form))["remember_token"]
    expires = cookie.split("Expires=")[1].split(";")[0]
    when = dt.datetime.strptime(expires, "%a, %d %b %Y %H:%M:%S GMT")
    days = (when - dt.datetime.now(dt.UTC).replace(tzinfo=None)).days
    assert 13 <= days <= 14
