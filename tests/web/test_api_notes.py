"""/api/notes with API tokens: the pair's two members write, read, change and delete notes and
share an insight; HR, another pair and anonymous callers get nothing (404 / 401 / empty)."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kb.runtime import Tandem
from kb.services import people, tokens

from .conftest import Library

PRIVATE = "Zyxelgate"  # the words of the library's private note


@pytest.fixture
def bearer(web_tandem: Tandem, library: Library):
    """``bearer(email)``: Authorization headers with a fresh API token of that person."""

    def make(email: str) -> dict[str, str]:
        with web_tandem.sessions() as s:
            _, secret = tokens.create_token(s, people.get_person_by_email(s, email), "test")
            s.commit()
        return {"Authorization": f"Bearer {secret}"}

    return make


def hits(client: FlaskClient, query: str) -> str:
    """The search API's hits as text (not the echoed query)."""
    return json.dumps(client.get("/api/search", query_string={"q": query}).get_json()["hits"])


def pair_id(client: FlaskClient, headers: dict[str, str], library: Library) -> int:
    note = client.get(f"/api/notes/{library.private_note_id}", headers=headers).get_json()
    return int(note["pair_id"])


def test_members_write_read_change_and_delete_notes(
    client: FlaskClient, bearer, library: Library
) -> None:
    mentee, mentor = bearer("bogdan@example.com"), bearer("anna@example.com")
    pair = pair_id(client, mentee, library)
    made = client.post(
        f"/api/pairs/{pair}/notes",
        headers=mentee,
        json={
            "title": "API session",
            "sections": {"learned": "Sparkline charts.", "next": "Try them on sales data."},
            "tags": ["excel", "charts"],
            "session_date": "2024-05-15",
            "language": "en",
        },
    )
    assert made.status_code == 201, made.get_json()
    note = made.get_json()
    assert note["body_md"].startswith("## What we learned\n\nSparkline charts.")
    assert "## Next steps" in note["body_md"] and "What we tried" not in note["body_md"]
    assert note["tags"] == ["excel", "charts"] and note["session_date"] == "2024-05-15"
    assert note["author"]["name"] == "Bogdan Mentee" and note["insight"] is None

    listed = client.get("/api/notes", headers=mentor).get_json()["notes"]
    assert note["id"] in [n["id"] for n in listed]
    assert all("body_md" not in n for n in listed)
    changed = client.patch(f"/api/notes/{note['id']}", headers=mentor, json={"title": "Renamed"})
    assert changed.status_code == 200 and changed.get_json()["title"] == "Renamed"
    assert changed.get_json()["body_md"] == note["body_md"]  # only the given field changes
    assert client.delete(f"/api/notes/{note['id']}", headers=mentee).status_code == 204
    assert client.get(f"/api/notes/{note['id']}", headers=mentor).status_code == 404


def test_hr_another_pair_and_anonymous_get_nothing(
    app: Flask, client: FlaskClient, bearer, library: Library
) -> None:
    note = f"/api/notes/{library.private_note_id}"
    pair = pair_id(client, bearer("anna@example.com"), library)
    for email in ("hania@example.com", "celina@example.com"):
        headers = bearer(email)
        assert client.get("/api/notes", headers=headers).get_json() == {"notes": []}
        answers = [
            client.get(note, headers=headers),
            client.patch(note, headers=headers, json={"title": "Taken over"}),
            client.delete(note, headers=headers),
            client.post(note + "/insight", headers=headers, json={"text": "Leak it."}),
            client.post(note + "/insight/consent", headers=headers),
            client.delete(note + "/insight", headers=headers),
            client.post(f"/api/pairs/{pair}/notes", headers=headers, json={"title": "Mine now"}),
        ]
        for answer in answers:
            assert answer.status_code == 404, (email, answer.request.path)
            assert PRIVATE not in answer.get_data(as_text=True)
    anonymous = app.test_client()
    for answer in (anonymous.get("/api/notes"), anonymous.get(note)):
        assert answer.status_code == 401 and PRIVATE not in answer.get_data(as_text=True)
    # Nothing changed: the note is still there, unchanged, for its members.
    kept = client.get(note, headers=bearer("bogdan@example.com")).get_json()
    assert kept["title"] == "Budget session" and PRIVATE in kept["body_md"]


def test_an_insight_is_checked_offered_agreed_and_withdrawn(
    app: Flask, client: FlaskClient, bearer, library: Library
) -> None:
    mentee, mentor = bearer("bogdan@example.com"), bearer("anna@example.com")
    path = f"/api/notes/{library.private_note_id}/insight"
    checked = client.post(
        path, headers=mentee, json={"text": "Ask anna@example.com about pivots.", "check": True}
    ).get_json()
    assert checked["personal_data"] == [{"kind": "email", "text": "anna@example.com"}]
    assert (
        client.get(f"/api/notes/{library.private_note_id}", headers=mentee).get_json()["insight"]
        is None
    )  # a check saves nothing

    text = "Pivot tables with Frobnicatrix filters answer budget questions fast."
    offered = client.post(path, headers=mentee, json={"text": text}).get_json()
    assert offered["text"] == text and offered["you_agreed"] and not offered["published"]
    anonymous = app.test_client()
    assert "Frobnicatrix" not in hits(anonymous, "Frobnicatrix")

    agreed = client.post(path + "/consent", headers=mentor).get_json()
    assert agreed["published"] and agreed["mentor_agreed"] and agreed["mentee_agreed"]
    found = hits(anonymous, "Frobnicatrix")
    assert "Frobnicatrix" in found and PRIVATE not in found

    assert client.delete(path, headers=mentor).status_code == 204
    assert "Frobnicatrix" not in hits(anonymous, "Frobnicatrix")


def test_bad_bodies_are_refused_with_a_reason(
    client: FlaskClient, bearer, library: Library
) -> None:
    mentee = bearer("bogdan@example.com")
    note = f"/api/notes/{library.private_note_id}"
    for body in (
        {"title": "x", "owner": "hr"},
        {"tags": "not;a;list", "session_date": "yesterday"},
        {"title": 5},
        {"tags": [1, 2]},
    ):
        answer = client.patch(note, headers=mentee, json=body)
        assert answer.status_code == 400, body
        assert answer.get_json()["error"]["message"]
    assert client.patch(note, headers=mentee, data="title=x").status_code == 400
    pair = pair_id(client, mentee, library)
    both = {"title": "x", "body_md": "y", "sections": {"learned": "z"}}
    assert client.post(f"/api/pairs/{pair}/notes", headers=mentee, json=both).status_code == 400
    wrong = {"title": "x", "sections": {"gossip": "z"}}
    assert client.post(f"/api/pairs/{pair}/notes", headers=mentee, json=wrong).status_code == 400
    kept = client.get(note, headers=mentee).get_json()
    assert kept["title"] == "Budget session"  # nothing was half-written


def test_errors_speak_the_callers_language(client: FlaskClient, bearer, library: Library) -> None:
    headers = {**bearer("bogdan@example.com"), "Accept-Language": "pl"}
    note = f"/api/notes/{library.private_note_id}"
    answer = client.patch(note, headers=headers, json={"owner": "hr"})
    assert "Nieznane pola: owner." in answer.get_json()["error"]["message"]
