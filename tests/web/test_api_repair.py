"""/api/pairs/ID/repair: the re-pair picker of /hr/help/ID/repair over the JSON API. HR gets
the mentee's recommended mentors (never the current one, never one in the mentee's management
chain) and re-pairs; the chain is refused with its reason and nothing changes; the audit
entries are the pages' own; no note text and no request-for-help text ever comes back."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kb.models import AuditEntry, HelpRequest, Pair, Person
from kb.runtime import Tandem
from kb.services import help as help_service
from kb.services import match_vectors, people

from .test_api import Login
from .test_api_programmes import actions, script

SECRETS = ("Zyxelgate", "Quokkaword", "Hush-hush reason")  # a private note, a help request


def add_people(web_tandem: Tandem) -> int:
    """Ewa (Bogdan's manager) and Celina as mentors with places; Bogdan asks for help. Returns
    Bogdan's pair with Anna."""
    record = people.PersonRecord  # the HR system's fields, as an import writes them
    with web_tandem.sessions() as s:
        for name, email, expertise in (
            ("Ewa Boss", "ewa@example.com", "Copilot w Excelu"),
            ("Celina Mentor", "celina@example.com", "Copilot w Excelu i formuły"),
        ):
            people.upsert_person(s, record(
                name=name, email=email, roles=("mentor",), capacity=2, languages=("pl", "en"),
                expertise=(expertise,)))  # fmt: skip
        people.upsert_person(s, record(
            name="Bogdan Mentee", email="bogdan@example.com", roles=("mentee",),
            languages=("pl", "en"), goals=("Copilot w Excelu",),
            manager_email="ewa@example.com"))  # fmt: skip
        pair_id = s.scalar(select(Pair.id).join(Person, Person.id == Pair.mentor_id).where(
            Person.email == "anna@example.com"))  # fmt: skip
        assert pair_id is not None
        s.commit()
    match_vectors.catch_up(web_tandem.sessions, web_tandem.matching_embedders)
    return pair_id


def ask_help(web_tandem: Tandem, pair_id: int) -> int:
    with web_tandem.sessions() as s:
        pair = s.get(Pair, pair_id)
        assert pair is not None
        found = help_service.ask_for_help(s, pair, pair.mentee, "mismatch", "Hush-hush reason")
        s.commit()
        return found.id


def assert_private(answer: Any) -> None:
    text = json.dumps(answer.get_json(), ensure_ascii=False)
    for word in SECRETS:
        assert word not in text


def test_hr_repairs_from_the_api_picker(
    app: Flask, client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    pid = add_people(web_tandem)
    request_id = ask_help(web_tandem, pid)
    call = script(app, client, login)

    options = call("GET", f"/api/pairs/{pid}/repair")
    assert options.status_code == 200, options.get_json()
    body = options.get_json()
    assert_private(options)
    assert body["repairable"] is True and body["open_help_requests"] == [request_id]
    assert body["pair"]["mentor"]["email"] == "anna@example.com"
    offered = [c["email"] for c in body["candidates"]]
    assert "celina@example.com" in offered
    assert "anna@example.com" not in offered  # the current mentor
    assert "ewa@example.com" not in offered  # Bogdan's manager
    assert call("GET", f"/api/pairs/{pid}/repair?limit=0").status_code == 400

    before = actions(web_tandem)
    refused = call("POST", f"/api/pairs/{pid}/repair",
                   {"mentor": "ewa@example.com", "help_request": request_id})  # fmt: skip
    assert refused.status_code == 400
    assert "management chain" in refused.get_json()["error"]["message"]
    assert (
        call("POST", f"/api/pairs/{pid}/repair", {"mentor": "ewa@example.com"}).status_code == 400
    )
    assert actions(web_tandem) == before  # nothing audited, nothing changed
    with web_tandem.sessions() as s:
        assert s.get(Pair, pid).status == "active"  # type: ignore[union-attr]
        assert s.get(HelpRequest, request_id).status == "open"  # type: ignore[union-attr]

    done = call("POST", f"/api/pairs/{pid}/repair",
                {"mentor": "celina@example.com", "help_request": request_id})  # fmt: skip
    assert done.status_code == 201, done.get_json()
    assert_private(done)
    answer = done.get_json()
    assert answer["old_pair"]["status"] == "ended"
    assert answer["pair"]["mentor"]["email"] == "celina@example.com"
    assert answer["pair"]["mentee"]["email"] == "bogdan@example.com"
    assert answer["help_request"] == {"id": request_id, "status": "closed", "outcome": "repaired"}
    assert actions(web_tandem)[len(before) :] == ["pair.swap", "help_request.repair"]
    with web_tandem.sessions() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.id > 0)).all()
        assert not any(w in json.dumps(e.detail or {}) for e in entries for w in SECRETS)

    ended = call("GET", f"/api/pairs/{pid}/repair").get_json()
    assert ended["repairable"] is False and ended["candidates"] == []
    again = call("POST", f"/api/pairs/{pid}/repair", {"mentor": "anna@example.com"})
    assert again.status_code == 400  # an ended pair gets no other mentor


def test_repair_without_a_request_is_the_swap_and_checks_its_input(
    app: Flask, client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    pid = add_people(web_tandem)
    other_request = ask_help(web_tandem, pid)
    call = script(app, client, login)
    assert call("POST", f"/api/pairs/{pid}/repair", {}).status_code == 400
    assert call("POST", f"/api/pairs/{pid}/repair", {"mentor": "nobody@x.org"}).status_code == 400
    wrong = call("POST", f"/api/pairs/{pid}/repair",
                 {"mentor": "celina@example.com", "help_request": "1"})  # fmt: skip
    assert wrong.status_code == 400
    assert call("POST", "/api/pairs/987654/repair", {"mentor": "x@y.z"}).status_code == 404

    before = actions(web_tandem)
    done = call("POST", f"/api/pairs/{pid}/repair", {"mentor": "celina@example.com"})
    assert done.status_code == 201, done.get_json()
    assert done.get_json()["help_request"] is None
    assert actions(web_tandem)[len(before) :] == ["pair.swap"]
    with web_tandem.sessions() as s:
        assert s.get(HelpRequest, other_request).status == "open"  # type: ignore[union-attr]


def test_only_hr_sees_the_picker(
    app: Flask, client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    pid = add_people(web_tandem)
    call = script(app, client, login, "bogdan@example.com")
    assert call("GET", f"/api/pairs/{pid}/repair").status_code == 403
    answer = call("POST", f"/api/pairs/{pid}/repair", {"mentor": "celina@example.com"})
    assert answer.status_code == 403
    assert app.test_client().get(f"/api/pairs/{pid}/repair").status_code == 401
