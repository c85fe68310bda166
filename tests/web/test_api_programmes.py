"""/api/programmes: HR scripts create, change, invite, pair, weigh and export a programme with
an API token; the management-chain rule and the audit trail hold as on the pages, non-HR
callers get 403 and no private note text ever comes back."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kb.models import AuditEntry, Enrolment
from kb.runtime import Tandem
from kb.services import people

from .test_api import Login, bearer, make_token

HR = "hania@example.com"
SECRET = "Zyxelgate"  # in the library's private note


def script(app: Flask, client: FlaskClient, login: Login, email: str = HR) -> Any:
    token = make_token(client, login, email)
    runner = app.test_client(use_cookies=False)

    def call(method: str, path: str, body: object = None) -> Any:
        return runner.open(path, method=method, json=body, headers=bearer(token))

    return call


def actions(web_tandem: Tandem) -> list[str]:
    with web_tandem.sessions() as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_hr_runs_stages_1_2_and_4_over_the_api(
    app: Flask, client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    call = script(app, client, login)
    created = call("POST", "/api/programmes", {
        "slug": "autumn", "name": "Autumn round", "competences": ["generative-ai", "ESG"],
        "starts": "2026-09-01", "ends": "2026-10-01", "languages": ["pl", "en"],
        "rhythm_weeks": 2, "open_for_applications": True})  # fmt: skip
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["competences"] == ["generative-ai", "esg"] and body["rhythm_weeks"] == 2
    assert "less than 3 months" in body["length_warning"]
    again = call("POST", "/api/programmes", {"slug": "autumn", "name": "Again"})
    assert again.status_code == 400 and "exists already" in again.get_json()["error"]["message"]
    changed = call("PATCH", "/api/programmes/autumn", {"ends": "2026-12-15", "name": "Autumn"})
    assert changed.status_code == 200
    assert changed.get_json()["name"] == "Autumn" and changed.get_json()["length_warning"] is None
    assert call("PATCH", "/api/programmes/autumn", {"slug": "other"}).status_code == 400
    assert call("PATCH", "/api/programmes/autumn", {"colour": "red"}).status_code == 400
    listed = call("GET", "/api/programmes").get_json()["programmes"]
    assert {"autumn", "spring"} <= {p["slug"] for p in listed}

    invited = call(
        "POST",
        "/api/programmes/autumn/invitations",
        {"emails": ["bogdan@example.com", "nobody@example.com"], "role": "mentee"},
    )
    assert invited.status_code == 200  # fmt: skip
    assert invited.get_json()["invited"] == ["bogdan@example.com"]
    assert [r["email"] for r in invited.get_json()["refused"]] == ["nobody@example.com"]
    with web_tandem.sessions() as s:
        status = s.scalar(select(Enrolment.status).join(Enrolment.person).where(
            Enrolment.person.has(email="bogdan@example.com"),
            Enrolment.programme.has(slug="autumn")))  # fmt: skip
        assert status == "invited"  # still theirs to accept or decline

    paired = call(
        "POST",
        "/api/programmes/autumn/pairs",
        {"mentor": "celina@example.com", "mentee": "bogdan@example.com"},
    )
    assert paired.status_code == 201, paired.get_json()  # fmt: skip
    assert paired.get_json()["status"] == "proposed" and paired.get_json()["locked"] is True

    weights = call("PUT", "/api/programmes/autumn/weights", {"teach_back": 0.5, "min_fit": 0})
    assert weights.status_code == 200
    assert weights.get_json()["matching_weights"] == {"teach_back": 0.5, "min_fit": 0.0}
    assert call("PUT", "/api/programmes/autumn/weights", {"teach_back": 11}).status_code == 400
    assert call("PUT", "/api/programmes/autumn/weights", {"luck": 1}).status_code == 400

    export = call("GET", "/api/programmes/autumn/export")
    assert export.status_code == 200
    data = export.get_json()
    assert data["pairs"][0]["agreement_accepted"] is False
    assert {e["email"] for e in data["enrolments"]} == {"bogdan@example.com"}
    assert actions(web_tandem) == [
        "programme.create", "programme.edit", "enrolment.invite", "pair.create",
        "programme.weights", "programme.export",
    ]  # fmt: skip
    assert call("GET", "/api/programmes/nowhere").status_code == 404


def test_the_management_chain_is_refused_over_the_api_with_its_reason(
    app: Flask, client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    with web_tandem.sessions() as s:
        people.upsert_person(
            s, people.PersonRecord(name="Ela Boss", email="ela@example.com", roles=("mentee",))
        )
        celina = people.get_person_by_email(s, "celina@example.com")
        celina.manager_id = people.get_person_by_email(s, "ela@example.com").id
        s.commit()
    call = script(app, client, login)
    refused = call(
        "POST",
        "/api/programmes/spring/pairs",
        {"mentor": "celina@example.com", "mentee": "ela@example.com"},
    )
    assert refused.status_code == 400  # fmt: skip
    assert "management chain" in refused.get_json()["error"]["message"]
    assert "pair.create" not in actions(web_tandem)


def test_only_hr_uses_the_programme_api_and_no_note_leaks(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    mentor = script(app, client, login, "anna@example.com")
    assert mentor("GET", "/api/programmes").status_code == 403
    assert mentor("POST", "/api/programmes", {"slug": "x", "name": "X"}).status_code == 403
    assert mentor("GET", "/api/programmes/spring/export").status_code == 403
    anonymous = app.test_client(use_cookies=False)
    assert anonymous.get("/api/programmes").status_code == 401
    hr = script(app, app.test_client(), login)
    for path in ("/api/programmes", "/api/programmes/spring", "/api/programmes/spring/export"):
        answer = hr("GET", path)
        assert answer.status_code == 200 and SECRET not in answer.get_data(as_text=True)


def test_hr_sets_the_health_thresholds_over_the_api(
    app: Flask, client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    call = script(app, client, login)
    before = call("GET", "/api/programmes/spring").get_json()["health_thresholds"]
    assert before == {"quiet_weeks": 4, "pause_weeks": 4, "first_month_days": 30,
                      "low_rating": 2.5}  # fmt: skip
    changed = call("PATCH", "/api/programmes/spring", {"first_month_days": 45, "low_rating": 3})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["health_thresholds"] == {
        "quiet_weeks": 4, "pause_weeks": 4, "first_month_days": 45, "low_rating": 3.0,
    }  # fmt: skip
    health = call("GET", "/api/programmes/spring/health").get_json()
    assert health["thresholds"]["first_month_days"] == 45
    for bad in ({"low_rating": 6}, {"low_rating": "low"}, {"first_month_days": 0},
                {"quiet_weeks": True}, {"pause_weeks": 2.5}):  # fmt: skip
        answer = call("PATCH", "/api/programmes/spring", bad)
        assert answer.status_code == 400, bad
    assert actions(web_tandem).count("programme.edit") == 1
