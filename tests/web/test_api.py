"""The JSON API foundation: API tokens (made on a page, shown once, stored as a digest,
revoked at once), Bearer authentication, CSRF for cookie sessions only, JSON errors, the
OpenAPI document checked against the routes, and /api/me."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from kb.embedding import text_hash
from kb.models import AVAILABILITY, STYLES, ApiToken, MatchingVector
from kb.openapi import load_document, operations
from kb.runtime import Tandem
from kb.services import people, tokens

from .conftest import make_app

Login = Callable[..., Any]
TOKEN = re.compile(r'id="new-token">(tdm_[A-Za-z0-9_-]+)<')


def make_token(client: FlaskClient, login: Login, email: str, name: str = "script") -> str:
    login(client, email)
    page = client.post("/account/tokens", data={"name": name})
    assert page.status_code == 200
    found = TOKEN.search(page.get_data(as_text=True))
    assert found is not None
    return found.group(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def references(node: Any) -> Iterator[str]:
    """Every ``$ref`` in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule)


def test_every_api_route_is_documented_and_nothing_else(app: Flask) -> None:
    routes = {
        (openapi_path(rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    documented = operations(load_document())
    assert ("/api/me", "PATCH") in routes
    assert sorted(routes - documented) == [], "routes missing from kb/openapi/*.yaml"
    assert sorted(documented - routes) == [], "documented operations without a route"


def test_openapi_document_is_served_and_well_formed(client: FlaskClient) -> None:
    answer = client.get("/api/openapi.json")
    assert answer.status_code == 200
    document = answer.get_json()
    assert document["openapi"].startswith("3.")
    assert "bearer" in document["components"]["securitySchemes"]
    # Every $ref points at a component that exists.
    refs = list(references(document))
    assert refs
    for ref in refs:
        _, _, section, name = ref.split("/")
        assert name in document["components"][section], ref
    # The profile's closed code sets are documented as they are.
    change = document["components"]["schemas"]["ProfileChange"]["properties"]
    assert change["style"]["enum"] == ["", *STYLES]
    assert change["availability"]["items"]["enum"] == list(AVAILABILITY)


def test_a_token_is_shown_once_and_stored_as_a_digest(
    client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    token = make_token(client, login, "anna@example.com")
    listing = client.get("/account/tokens").get_data(as_text=True)
    assert token not in listing  # only its first characters
    assert token[:10] in listing
    with web_tandem.sessions() as s:
        row = s.scalars(select(ApiToken)).one()
        assert row.digest == tokens.digest(token) and token not in row.digest


def test_token_requests_act_as_the_owner_without_cookies(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    token = make_token(client, login, "anna@example.com")
    script = app.test_client(use_cookies=False)
    answer = script.get("/api/me", headers=bearer(token))
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["email"] == "anna@example.com"
    assert "csrf_token" not in body
    assert "Set-Cookie" not in answer.headers  # a script's request opens no session


def test_bad_tokens_get_a_json_401(app: Flask) -> None:
    script = app.test_client()
    for header in ("Bearer tdm_nonsense", "Bearer ", "Bearer " + "x" * 500):
        answer = script.get("/api/me", headers={"Authorization": header})
        assert answer.status_code == 401
        assert answer.get_json()["error"]["status"] == 401
    assert script.get("/api/me").status_code == 401  # no redirect to the login page


def test_a_token_never_falls_back_to_the_cookie_session(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    token = make_token(app.test_client(), login, "bogdan@example.com")
    login(client, "anna@example.com")
    assert client.get("/api/me").get_json()["email"] == "anna@example.com"
    assert client.get("/api/me", headers=bearer(token)).get_json()["email"] == (
        "bogdan@example.com"
    )
    answer = client.get("/api/me", headers=bearer("tdm_revoked-or-made-up"))
    assert answer.status_code == 401


def test_revoking_stops_the_token_at_once(
    app: Flask, client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    token = make_token(client, login, "anna@example.com")
    script = app.test_client(use_cookies=False)
    assert script.get("/api/me", headers=bearer(token)).status_code == 200
    with web_tandem.sessions() as s:
        token_id = s.scalars(select(ApiToken.id)).one()
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 302
    assert script.get("/api/me", headers=bearer(token)).status_code == 401
    assert "revoked" in client.get("/account/tokens").get_data(as_text=True)


def test_nobody_revokes_another_persons_token(
    client: FlaskClient, login: Login, web_tandem: Tandem, app: Flask
) -> None:
    token = make_token(app.test_client(), login, "anna@example.com")
    with web_tandem.sessions() as s:
        token_id = s.scalars(select(ApiToken.id)).one()
    login(client, "celina@example.com")
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 404
    assert app.test_client().get("/api/me", headers=bearer(token)).status_code == 200


def test_deactivation_stops_the_token_at_once(
    app: Flask, client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    token = make_token(client, login, "anna@example.com")
    script = app.test_client(use_cookies=False)
    assert script.get("/api/me", headers=bearer(token)).status_code == 200
    with web_tandem.sessions() as s:
        anna = people.find_person(s, "anna@example.com")
        assert anna is not None
        people.deactivate(anna)
        s.commit()
    assert script.get("/api/me", headers=bearer(token)).status_code == 401


def test_csrf_is_needed_for_cookie_sessions_not_for_tokens(
    web_tandem: Tandem, library: object, login: Login
) -> None:
    app = make_app(web_tandem, WTF_CSRF_ENABLED=True)
    browser = app.test_client()
    page = browser.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert csrf is not None
    browser.post(
        "/login",
        data={"email": "anna@example.com", "password": "correct horse battery",
              "csrf_token": csrf.group(1)},
    )  # fmt: skip
    me = browser.get("/api/me")
    assert me.status_code == 200
    change = {"goals": ["Learn Power BI dashboards"]}
    refused = browser.patch("/api/me", json=change)
    assert refused.status_code == 400
    assert refused.get_json()["error"]["status"] == 400
    accepted = browser.patch(
        "/api/me", json=change, headers={"X-CSRFToken": me.get_json()["csrf_token"]}
    )
    assert accepted.status_code == 200
    # A token request needs no CSRF token.
    created = browser.post("/account/tokens", data={"name": "x", "csrf_token": csrf.group(1)})
    found = TOKEN.search(created.get_data(as_text=True))
    assert found is not None
    script = app.test_client(use_cookies=False)
    answer = script.patch("/api/me", json={"style": "hands-on"}, headers=bearer(found.group(1)))
    assert answer.status_code == 200
    assert answer.get_json()["style"] == "hands-on"


def test_patch_me_changes_the_profile_and_its_matching_vectors(
    client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    login(client, "bogdan@example.com")
    goal = "Automate my weekly Excel report with Python"
    answer = client.patch(
        "/api/me", json={"goals": [goal], "languages": "pl;ru", "show_goals": True}
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["goals"] == [goal] and body["languages"] == ["pl", "ru"] and body["show_goals"]
    with web_tandem.sessions() as s:
        stored = s.scalar(
            select(func.count()).select_from(MatchingVector)
            .where(MatchingVector.text_hash == text_hash(goal))
        )  # fmt: skip
        assert stored == len(web_tandem.matching_embedders)


def test_patch_me_refuses_bad_and_foreign_fields(client: FlaskClient, login: Login) -> None:
    login(client, "bogdan@example.com")
    for change in ({"roles": ["admin"]}, {"email": "x@y.z"}, {"languages": ["de"]},
                   {"capacity": 3}, {"style": "\x00"}, [1, 2]):  # fmt: skip
        answer = client.patch("/api/me", json=change)
        assert answer.status_code == 400, change
        assert "error" in answer.get_json()
    for change, words in (
        ({"style": "casual"}, "'casual'; use structured, informal, hands-on, reflective"),
        ({"availability": ["mon-am", "sat-pm"]}, "'sat-pm'; use mon-am, mon-pm,"),
    ):
        answer = client.patch("/api/me", json=change)
        assert answer.status_code == 400, change
        assert words in answer.get_json()["error"]["message"]
    body = client.get("/api/me").get_json()
    assert body["roles"] == ["mentee"] and body["capacity"] is None
    assert body["style"] == "" and body["availability"] == []
