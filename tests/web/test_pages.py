"""Login, guide pages, insight consent, HR access, error handling."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from kb.app import QueryStringFilter
from kb.runtime import Tandem

Login = Callable[..., Any]


def test_home_lists_guides_and_insights(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert "Copilot w Excelu" in html
    assert "Channels beat long e-mail threads" in html
    assert "Ask for a summary" not in html  # pending insight


def test_login_and_logout(client: FlaskClient, login: Login) -> None:
    assert client.get("/pair").status_code == 302  # to the login page
    wrong = client.post("/login", data={"email": "anna@example.com", "password": "nope-nope"})
    assert wrong.status_code == 200
    assert b"Wrong email or password" in wrong.data
    answer = login(client, "Anna@Example.com")
    assert answer.status_code == 302
    page = client.get("/pair")
    assert page.status_code == 200
    assert b"Budget session" in page.data
    client.post("/logout")
    assert client.get("/pair").status_code == 302


def test_login_redirects_only_to_local_paths(client: FlaskClient, password: str) -> None:
    answer = client.post(
        "/login?next=https://evil.example/",
        data={"email": "anna@example.com", "password": password},
    )
    assert answer.headers["Location"] == "/"
    client.post("/logout")
    answer = client.post(
        "/login?next=/pair", data={"email": "anna@example.com", "password": password}
    )
    assert answer.headers["Location"] == "/pair"


def test_guide_page_renders_sanitised_markdown(client: FlaskClient, library: Any) -> None:
    page = client.get(f"/guides/{library.guide_slug}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<strong>Ważne</strong>" in html
    assert "<script>alert" not in html


def test_draft_guide_only_for_its_author(client: FlaskClient, library: Any, login: Login) -> None:
    assert client.get(f"/guides/{library.draft_slug}").status_code == 404
    login(client, "anna@example.com")
    assert client.get(f"/guides/{library.draft_slug}").status_code == 404
    client.post("/logout")
    login(client, "celina@example.com")
    page = client.get(f"/guides/{library.draft_slug}")
    assert page.status_code == 200
    assert b"only you can see it" in page.data


def bullet_hits(client: FlaskClient) -> list[dict[str, Any]]:
    """Insight hits showing the pending insight's text (vector search always finds something,
    so the test looks for this very insight, not for an empty result)."""
    hits = client.get("/api/search?q=summary+bullet+points&type=insight").get_json()["hits"]
    return [h for h in hits if "bullet" in (h["title"] + h["snippet_html"]).lower()]


def test_insight_consent_flow(client: FlaskClient, library: Any, login: Login) -> None:
    assert bullet_hits(client) == []
    login(client, "anna@example.com")
    answer = client.post(f"/notes/{library.pending_note_id}/insight/consent")
    assert answer.status_code == 302
    client.post("/logout")
    assert len(bullet_hits(client)) == 1
    login(client, "bogdan@example.com")
    client.post(f"/notes/{library.pending_note_id}/insight/withdraw")
    client.post("/logout")
    assert bullet_hits(client) == []


def test_outsider_cannot_act_on_an_insight(client: FlaskClient, library: Any, login: Login) -> None:
    login(client, "celina@example.com")
    answer = client.post(f"/notes/{library.pending_note_id}/insight/consent")
    assert answer.status_code == 404


def test_propose_an_insight(client: FlaskClient, library: Any, login: Login) -> None:
    login(client, "anna@example.com")
    answer = client.post(
        f"/notes/{library.private_note_id}/insight", data={"text": "Pivot tables first."}
    )
    assert answer.status_code == 302
    page = client.get(f"/notes/{library.private_note_id}").get_data(as_text=True)
    assert "Pivot tables first." in page and "I agree to publish" not in page
    empty = client.post(f"/notes/{library.private_note_id}/insight", data={"text": "  "})
    assert empty.status_code == 400


def test_hr_pages_need_the_hr_role(client: FlaskClient, login: Login) -> None:
    assert client.get("/hr/").status_code == 302
    login(client, "anna@example.com")
    assert client.get("/hr/").status_code == 403
    client.post("/logout")
    login(client, "hania@example.com")
    assert client.get("/hr/").status_code == 200
    assert client.get("/hr/programmes/nope").status_code == 404


def test_csrf_rejects_a_form_without_token(password: str, app_factory: Callable[..., Any]) -> None:
    client = app_factory(WTF_CSRF_ENABLED=True).test_client()
    answer = client.post("/login", data={"email": "anna@example.com", "password": password})
    assert answer.status_code == 400
    assert b"security token" in answer.data
    # With the token from the form it works.
    html = client.get("/login").get_data(as_text=True)
    token = html.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    answer = client.post(
        "/login", data={"email": "anna@example.com", "password": password, "csrf_token": token}
    )
    assert answer.status_code == 302


def test_errors_answer_json_for_api_and_html_otherwise(client: FlaskClient) -> None:
    api = client.get("/api/nothing-here")
    assert api.status_code == 404 and api.is_json
    assert api.get_json()["error"]["status"] == 404
    page = client.get("/nothing-here")
    assert page.status_code == 404 and page.mimetype == "text/html"
    prefers = client.get("/nothing-here", headers={"Accept": "application/json"})
    assert prefers.is_json
    method = client.post("/api/search")
    assert method.status_code == 405 and method.is_json


def test_request_too_large_is_413(app_factory: Callable[..., Any]) -> None:
    client = app_factory(MAX_CONTENT_LENGTH=1000).test_client()
    answer = client.post("/login", data={"email": "a@b.c", "password": "x" * 5000})
    assert answer.status_code == 413


def test_unexpected_errors_hide_details(
    web_tandem: Tandem,
    monkeypatch: pytest.MonkeyPatch,
    app_factory: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = app_factory(TESTING=False, PROPAGATE_EXCEPTIONS=False)

    def explode(*_args: object, **_kwargs: object) -> None:
        secret = "Zyx" + "elgate"  # built here so the logged source line does not show it
        raise RuntimeError(f"secret internal detail {secret}")

    monkeypatch.setattr(web_tandem.search, "search", explode)
    client = app.test_client()
    with caplog.at_level(logging.ERROR):
        for path in ("/search?q=x", "/api/search?q=x"):
            answer = client.get(path)
            assert answer.status_code == 500
            assert b"Zyxelgate" not in answer.data and b"Traceback" not in answer.data
    assert client.get("/api/search?q=x").is_json
    # The log says what broke and where, never the message (it could quote a note).
    assert "RuntimeError" in caplog.text and "explode" in caplog.text
    assert "Zyxelgate" not in caplog.text


def test_health(client: FlaskClient) -> None:
    answer = client.get("/api/health")
    assert answer.status_code == 200
    assert answer.get_json()["database"] == "ok"


def test_query_strings_never_reach_request_logs() -> None:
    record = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1, '"%s" %s %s',
        ("GET /search?q=Zyxelgate+secret HTTP/1.1", "200", "-"), None,
    )  # fmt: skip
    QueryStringFilter().filter(record)
    assert "Zyxelgate" not in record.getMessage()
    assert "GET /search HTTP/1.1" in record.getMessage()


def test_hr_matching_pages(client: FlaskClient, login: Login) -> None:
    login(client, "hania@example.com")
    page = client.get("/hr/programmes/spring/proposal")
    assert page.status_code == 200, page.data[-500:]
    assert b"Proposed pairs" in page.data
    assert client.get("/hr/programmes/spring/gaps").status_code == 200
    recommend = client.get("/hr/recommend?mentee=bogdan@example.com")
    assert recommend.status_code == 200
    assert b"Mentors for Bogdan Mentee" in recommend.data
    assert client.get("/hr/recommend").status_code == 400
    assert client.post("/hr/programmes/spring/proposal").status_code == 302


def test_matching_pages_are_for_hr_only(client: FlaskClient, login: Login) -> None:
    login(client, "anna@example.com")
    for path in ("/hr/programmes/spring/proposal", "/hr/programmes/spring/gaps",
                 "/hr/recommend?mentee=bogdan@example.com"):  # fmt: skip
        assert client.get(path).status_code == 403
    assert client.post("/hr/programmes/spring/proposal").status_code == 403


def test_security_headers(client: FlaskClient) -> None:
    for path in ("/", "/api/health", "/nothing-here"):
        headers = client.get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "script-src 'none'" in headers["Content-Security-Policy"]


def test_hr_corrects_a_pair_from_the_programme_page(client: FlaskClient, login: Login) -> None:
    login(client, "hania@example.com")
    page = client.get("/hr/programmes/spring").get_data(as_text=True)
    pair_id = int(page.split('action="/hr/pairs/')[1].split('"')[0])
    assert client.post(f"/hr/pairs/{pair_id}", data={"locked": "1"}).status_code == 302
    page = client.get("/hr/programmes/spring").get_data(as_text=True)
    assert "active (locked)" in page and "proposals keep it" in page
    client.post(f"/hr/pairs/{pair_id}", data={"status": "ended"})
    page = client.get("/hr/programmes/spring").get_data(as_text=True)
    assert "ended (locked)" in page
    # Anna (capacity empty: one place) has no running pair now; a second start is refused.
    client.post(f"/hr/pairs/{pair_id}", data={"status": "active"})
    assert "active (locked)" in client.get("/hr/programmes/spring").get_data(as_text=True)
    answer = client.post(f"/hr/pairs/{pair_id}", data={"status": "married"},
                         follow_redirects=True)  # fmt: skip
    assert "not changed: unknown pair status" in answer.get_data(as_text=True)
    answer = client.post(f"/hr/pairs/{pair_id}", data={"status": "ended", "locked": "yes"},
                         follow_redirects=True)  # fmt: skip
    assert "not changed: lock must be 0 or 1" in answer.get_data(as_text=True)
    assert "active (locked)" in answer.get_data(as_text=True)  # the status did not change
    assert client.post("/hr/pairs/99999", data={"status": "ended"}).status_code == 404
    # The pair's history: who changed what, newest first; refused changes are not in it.
    history = page_history(client.get("/hr/programmes/spring").get_data(as_text=True), pair_id)
    assert history == [
        "status ended → active",
        "status active → ended",
        "locked",
        "created as active",
    ]  # by the demo's programme import
    assert "Hania" in client.get("/hr/programmes/spring").get_data(as_text=True)


def page_history(page: str, pair_id: int) -> list[str]:
    """The "what" of each line in the history cell of the pair's row."""
    row = page.split(f'action="/hr/pairs/{pair_id}"', 1)[1].split("</tr>")[0]
    if '<ol class="history">' not in row:
        return []
    items = row.split('<ol class="history">')[1].split("</ol>")[0].split("<li>")[1:]
    return [item.split("</li>")[0].rsplit(": ", 1)[1] for item in items]


def test_only_hr_corrects_pairs(client: FlaskClient, login: Login) -> None:
    login(client, "anna@example.com")  # a member of the pair, not HR
    for pair_id in (1, 2):
        assert client.post(f"/hr/pairs/{pair_id}", data={"status": "ended"}).status_code == 403
