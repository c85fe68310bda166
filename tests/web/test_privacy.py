"""A private note reaches only its pair: pages, search HTML and JSON, related content."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

Login = Callable[..., Any]


def error_section(html: bytes) -> bytes:
    """The error message of a page, with numbers blanked (the asked-for id differs)."""
    section = re.search(rb'<section class="error-page">.*?</section>', html, re.S)
    assert section is not None
    return re.sub(rb"\d+", b"N", section.group(0))


OUTSIDERS = ["celina@example.com", "dawid@example.com", "hania@example.com", None]
MEMBERS = ["anna@example.com", "bogdan@example.com"]


def as_user(client: FlaskClient, email: str | None, login: Login) -> FlaskClient:
    if email is not None:
        assert login(client, email).status_code == 302
    return client


@pytest.mark.parametrize("email", OUTSIDERS)
def test_private_note_page_is_404_for_outsiders(
    client: FlaskClient, library: Any, email: str | None, login: Login
) -> None:
    as_user(client, email, login)
    page = client.get(f"/notes/{library.private_note_id}")
    assert page.status_code == 404
    assert b"Zyxelgate" not in page.data
    assert b"Budget session" not in page.data
    # Same answer as for a note that does not exist.
    missing = client.get("/notes/999999")
    assert missing.status_code == 404
    assert error_section(missing.data) == error_section(page.data)


@pytest.mark.parametrize("email", MEMBERS)
def test_private_note_page_is_shown_to_members(
    client: FlaskClient, library: Any, email: str, login: Login
) -> None:
    as_user(client, email, login)
    page = client.get(f"/notes/{library.private_note_id}")
    assert page.status_code == 200
    assert b"Zyxelgate" in page.data


@pytest.mark.parametrize("email", OUTSIDERS)
def test_private_note_never_in_search(client: FlaskClient, email: str | None, login: Login) -> None:
    as_user(client, email, login)
    for query in ("Zyxelgate", "budget forecast pivot", "Quokkaword", "session"):
        data = client.get("/api/search", query_string={"q": query, "type": "note"}).get_json()
        assert data["hits"] == [] and data["total"] == 0
        data = client.get("/api/search", query_string={"q": query}).get_json()
        assert all(h["doc_type"] != "note" for h in data["hits"])
        text = str(data)
        assert "Budget session" not in text and "pivot tables" not in text
        html = client.get("/search", query_string={"q": query}).get_data(as_text=True)
        assert "Budget session" not in html
        assert "pivot tables" not in html
        assert "private joke" not in html


@pytest.mark.parametrize("email", OUTSIDERS)
def test_pending_insight_is_not_public(
    client: FlaskClient, library: Any, email: str | None, login: Login
) -> None:
    as_user(client, email, login)
    data = client.get("/api/search?q=summary+bullet+points").get_json()
    assert all("bullet" not in h["snippet_html"] for h in data["hits"])
    assert client.get(f"/notes/{library.pending_note_id}").status_code == 404


def test_published_insight_is_public(client: FlaskClient, library: Any) -> None:
    data = client.get("/api/search?q=channels+threads&type=insight").get_json()
    assert [h["doc_id"] for h in data["hits"]] == [library.published_insight_id]
    page = client.get(f"/insights/{library.published_insight_id}")
    assert page.status_code == 200
    assert b"Channels beat long e-mail threads" in page.data
    assert b"Teams session" not in page.data  # the note's title stays private


def test_related_content_on_a_guide_has_no_private_notes(client: FlaskClient, library: Any) -> None:
    page = client.get(f"/guides/{library.guide_slug}").get_data(as_text=True)
    assert "Budget session" not in page and "Prompting session" not in page


def test_hr_sees_pairs_but_no_notes(client: FlaskClient, library: Any, login: Login) -> None:
    as_user(client, "hania@example.com", login)
    page = client.get("/hr/programmes/spring")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Anna Mentor" in html and "Bogdan Mentee" in html
    assert "Budget session" not in html and "Zyxelgate" not in html


def test_search_page_shows_no_email_addresses(client: FlaskClient) -> None:
    """The author filter lists names; its values are not e-mail addresses (finding 10)."""
    html = client.get("/search").get_data(as_text=True)
    assert "Anna Mentor" in html
    assert re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", html) is None
    value = re.search(r'<option value="([^"]+)"[^>]*>Anna Mentor</option>', html)
    assert value is not None
    found = client.get("/api/search", query_string={"q": "Excel", "author": value.group(1)})
    hits = found.get_json()["hits"]
    assert hits and all(h["author_name"] == "Anna Mentor" for h in hits)
    page = client.get("/search", query_string={"q": "Excel", "author": value.group(1)})
    assert re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", page.get_data(as_text=True)) is None
    nobody = client.get("/api/search", query_string={"q": "Excel", "author": "999999"})
    assert nobody.get_json()["hits"] == []


def test_private_note_loads_no_remote_image(
    client: FlaskClient, library: Any, login: Login, web_tandem: Any
) -> None:
    """A tracking pixel in a private note does not fire when a member opens it (finding 9)."""
    from kb.models import SessionNote
    from kb.services import notes

    with web_tandem.sessions() as s:
        note = s.get(SessionNote, library.private_note_id)
        pixel = notes.create_note(
            s, note.pair, note.pair.mentor, title="Pixel", language="en",
            body_md="Hello ![x](https://tracker.example/p.gif?who=anna)\n\n"
                    '<img src="https://tracker.example/q.gif">',
            embedders=web_tandem.embedders,
        )  # fmt: skip
        s.commit()
        pixel_id = pixel.id
    as_user(client, "anna@example.com", login)
    page = client.get(f"/notes/{pixel_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert not re.search(r"<img[^>]+src=\"?(https?:)?//", html)
    assert "tracker.example/p.gif" in html  # as a link the member may follow
    csp = page.headers["Content-Security-Policy"]
    assert "img-src 'self' data:;" in csp and "https:" not in csp
