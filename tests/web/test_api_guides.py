"""/api/guides with API tokens: a mentor writes, changes, publishes, restores, unpublishes and
archives; readers see published guides only; someone else's guide has no editing routes (404);
HR archives and is audited; near-duplicates answer 409 until confirmed."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from kb.models import AuditEntry
from kb.runtime import Tandem
from kb.services import people, tokens

from .conftest import Library

BODY = "Quillwort pivot tables: ask Copilot for a pivot table and check the totals."


@pytest.fixture
def bearer(web_tandem: Tandem, library: Library):
    """``bearer(email)``: Authorization headers with a fresh API token of that person."""

    def make(email: str) -> dict[str, str]:
        with web_tandem.sessions() as s:
            _, secret = tokens.create_token(s, people.get_person_by_email(s, email), "test")
            s.commit()
        return {"Authorization": f"Bearer {secret}"}

    return make


def found(client: FlaskClient, query: str) -> list[str]:
    hits = client.get("/api/search", query_string={"q": query}).get_json()["hits"]
    return [h["title"] for h in hits]


def test_a_mentor_writes_publishes_changes_and_restores_a_guide(
    client: FlaskClient, bearer
) -> None:
    mentor, reader = bearer("anna@example.com"), bearer("bogdan@example.com")
    made = client.post(
        "/api/guides",
        headers=mentor,
        json={"title": "Quillwort tables", "body_md": BODY, "tags": ["excel", "pivot"],
              "videos": ["https://youtu.be/abc | Pivot in 2 minutes | 2:00"],
              "review_by": "2030-01-31"},
    )  # fmt: skip
    assert made.status_code == 201, made.get_json()
    guide = made.get_json()
    slug = guide["slug"]
    assert guide["status"] == "draft" and guide["language"] == "en"  # detected
    assert guide["tags"] == ["excel", "pivot"] and guide["revision"] == 1
    assert guide["videos"][0]["title"] == "Pivot in 2 minutes"
    assert guide["review_by"] == "2030-01-31" and guide["possibly_out_of_date"] is False
    # A draft: the author's only; not in search, 404 for a reader and anonymously.
    assert client.get(f"/api/guides/{slug}", headers=reader).status_code == 404
    assert client.get(f"/api/guides/{slug}").status_code == 404
    assert slug not in json.dumps(client.get("/api/guides", headers=reader).get_json())
    assert slug in json.dumps(client.get("/api/guides", headers=mentor).get_json())
    assert "Quillwort tables" not in found(client, "Quillwort")

    published = client.post(f"/api/guides/{slug}/publish", headers=mentor, json={"confirm": True})
    assert published.status_code == 200 and published.get_json()["status"] == "published"
    assert "Quillwort tables" in found(client, "Quillwort")
    assert client.get(f"/api/guides/{slug}").get_json()["body_md"] == BODY

    changed = client.patch(
        f"/api/guides/{slug}", headers=mentor, json={"body_md": "Bramblewick only now."}
    )
    assert changed.status_code == 200
    assert changed.get_json()["revision"] == 2 and changed.get_json()["tags"] == ["excel", "pivot"]
    assert "Quillwort tables" in found(client, "Bramblewick")  # re-indexed at once
    revisions = client.get(f"/api/guides/{slug}/revisions").get_json()["revisions"]
    assert [r["number"] for r in revisions] == [2, 1]
    restored = client.post(f"/api/guides/{slug}/revisions/1/restore", headers=mentor)
    assert restored.status_code == 200 and restored.get_json()["revision"] == 3
    assert client.get(f"/api/guides/{slug}").get_json()["body_md"] == BODY
    assert client.get(f"/api/guides/{slug}").get_json()["videos"][0]["duration"] == "2:00"

    # Someone else: no editing routes (404, as for a missing guide); a mentee writes nothing.
    other = bearer("celina@example.com")
    for method, path in (("patch", f"/api/guides/{slug}"),
                         ("post", f"/api/guides/{slug}/unpublish"),
                         ("post", f"/api/guides/{slug}/archive"),
                         ("post", f"/api/guides/{slug}/revisions/1/restore")):  # fmt: skip
        answer = getattr(client, method)(path, headers=other, json={"title": "Taken over"})
        assert answer.status_code == 404, (method, path)
    assert client.post("/api/guides", headers=reader, json={"title": "x"}).status_code == 403
    assert client.post("/api/guides", json={"title": "x"}).status_code == 401

    gone = client.post(f"/api/guides/{slug}/unpublish", headers=mentor)
    assert gone.status_code == 200 and gone.get_json()["status"] == "draft"
    assert "Quillwort tables" not in found(client, "Quillwort")
    assert client.get(f"/api/guides/{slug}", headers=reader).status_code == 404


def test_hr_archives_someone_elses_guide_and_is_audited(
    client: FlaskClient, bearer, library: Library, web_tandem: Tandem
) -> None:
    hr = bearer("hania@example.com")
    answer = client.post(f"/api/guides/{library.guide_slug}/archive", headers=hr)
    assert answer.status_code == 200 and answer.get_json()["status"] == "archived"
    assert client.get(f"/api/guides/{library.guide_slug}").status_code == 404  # gone for others
    assert "Copilot w Excelu" not in found(client, "Copilot Excelu")
    with web_tandem.sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "guide.archive")).one()
        assert entry.target_type == "guide"


def test_publishing_a_near_duplicate_answers_409_until_confirmed(
    client: FlaskClient, bearer, library: Library
) -> None:
    mentor = bearer("anna@example.com")
    original = client.get(f"/api/guides/{library.guide_slug}").get_json()
    copy = client.post(
        "/api/guides", headers=mentor,
        json={"title": original["title"], "body_md": original["body_md"], "language": "pl"},
    ).get_json()  # fmt: skip
    warned = client.post(f"/api/guides/{copy['slug']}/publish", headers=mentor, json={})
    assert warned.status_code == 409
    assert [d["slug"] for d in warned.get_json()["duplicates"]] == [library.guide_slug]
    assert client.get(f"/api/guides/{copy['slug']}", headers=mentor).get_json()["status"] == (
        "draft"
    )
    confirmed = client.post(
        f"/api/guides/{copy['slug']}/publish", headers=mentor, json={"confirm": True}
    )
    assert confirmed.status_code == 200 and confirmed.get_json()["status"] == "published"


@pytest.mark.parametrize(
    "body",
    [{"title": 5}, {"tags": "not a list"}, {"videos": ["javascript:alert(1) | x"]},
     {"review_by": "31.01.2030"}, {"language": "de"}, {"owner": "someone"}],
)  # fmt: skip
def test_bad_fields_are_refused_with_400(client: FlaskClient, bearer, body) -> None:
    answer = client.post(
        "/api/guides", headers=bearer("anna@example.com"), json={"title": "T", **body}
    )
    assert answer.status_code == 400, answer.get_json()
    assert "error" in answer.get_json()
