"""Writing, editing and deleting session notes in the browser; the excerpt's personal-data
warning; XSS in every note field; outsiders (another pair, HR, anonymous) get nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from kb.models import Pair, SessionNote, SharedInsight

Login = Callable[..., Any]

XSS = [
    "<script>alert('t')</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg onload=alert(1)><circle/></svg>",
    "[click](javascript:alert(1))",
    "![x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<a href="javascript:alert(1)">j</a>',
    '<iframe src="data:text/html,<script>alert(1)</script>"></iframe>',
]


def pair_id(web_tandem: Any) -> int:
    with web_tandem.sessions() as s:
        pair = s.scalars(select(Pair).order_by(Pair.id)).first()
        assert pair is not None and pair.mentor.email == "anna@example.com"
        return pair.id


def member_search(client: FlaskClient, query: str) -> list[int]:
    """Ids of the member's notes whose found passage holds the word (the fake embedder also
    returns passages that merely resemble the query)."""
    hits = client.get("/api/search", query_string={"q": query, "type": "note"}).get_json()["hits"]
    return [h["doc_id"] for h in hits if query.lower() in h["snippet_html"].lower()]


def write(client: FlaskClient, pid: int, **fields: str) -> Any:
    data = {"title": "Pivot session", "language": "en", "session_date": "2024-05-02",
            "tags": "excel, ai", **fields}  # fmt: skip
    return client.post(f"/pair/{pid}/notes/new", data=data)


def test_a_member_writes_edits_and_deletes_a_note(
    client: FlaskClient, web_tandem: Any, login: Login
) -> None:
    pid = pair_id(web_tandem)
    login(client, "bogdan@example.com")
    form = client.get(f"/pair/{pid}/notes/new").get_data(as_text=True)
    for heading in ("What we learned", "What we tried", "What worked", "Next steps"):
        assert heading in form
    assert 'name="csrf_token"' in form
    answer = write(client, pid, learned="Flurbonic pivot tables.", next="Try slicers.")
    assert answer.status_code == 302
    note_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    with web_tandem.sessions() as s:
        note = s.get(SessionNote, note_id)
        assert note is not None and note.author.email == "bogdan@example.com"
        assert note.body_md == (
            "## What we learned\n\nFlurbonic pivot tables.\n\n## Next steps\n\nTry slicers."
        )
        assert note.tags == "excel;ai" and note.session_date.isoformat() == "2024-05-02"
    assert member_search(client, "Flurbonic") == [note_id]

    # The partner edits it.
    client.post("/logout")
    login(client, "anna@example.com")
    assert "Flurbonic pivot tables." in client.get(f"/notes/{note_id}/edit").get_data(as_text=True)
    edited = client.post(f"/notes/{note_id}/edit", data={
        "title": "Pivot session (edited)", "language": "en", "tags": "excel",
        "session_date": "2024-05-03", "body_md": "Grimbleton slicers now.",
    })  # fmt: skip
    assert edited.status_code == 302
    assert member_search(client, "Flurbonic") == []
    assert member_search(client, "Grimbleton") == [note_id]
    bad = client.post(f"/notes/{note_id}/edit", data={"title": " ", "language": "en"})
    assert bad.status_code == 400 and "title" in bad.get_data(as_text=True)

    assert client.post(f"/notes/{note_id}/delete").status_code == 302
    with web_tandem.sessions() as s:
        assert s.get(SessionNote, note_id) is None
    assert member_search(client, "Grimbleton") == []
    assert client.get(f"/notes/{note_id}").status_code == 404


OUTSIDERS = ["celina@example.com", "dawid@example.com", "hania@example.com", None]


@pytest.mark.parametrize("email", OUTSIDERS)
def test_outsiders_cannot_write_read_edit_or_delete(
    client: FlaskClient, web_tandem: Any, library: Any, login: Login, email: str | None
) -> None:
    pid = pair_id(web_tandem)
    if email is not None:
        login(client, email)
    note_id = library.private_note_id
    answers = [
        client.get(f"/pair/{pid}/notes/new"),
        write(client, pid, learned="Sneaky."),
        client.get(f"/notes/{note_id}/edit"),
        client.post(f"/notes/{note_id}/edit", data={"title": "Hijacked", "language": "en"}),
        client.post(f"/notes/{note_id}/delete"),
    ]
    for answer in answers:
        if email is None:
            assert answer.status_code == 302 and "/login" in answer.headers["Location"]
        else:
            assert answer.status_code == 404
        assert "Zyxelgate" not in answer.get_data(as_text=True)
    with web_tandem.sessions() as s:
        note = s.get(SessionNote, note_id)
        assert note is not None and note.title == "Budget session"
        assert s.scalar(select(SessionNote).where(SessionNote.title == "Pivot session")) is None


def test_the_excerpt_is_checked_for_personal_data_before_it_is_offered(
    client: FlaskClient, web_tandem: Any, library: Any, login: Login
) -> None:
    login(client, "anna@example.com")
    note_id = library.private_note_id
    text = "Ask Bogdan Mentee (bogdan@example.com, +48 601 234 567) about pivots."
    checked = client.post(f"/notes/{note_id}/insight", data={"text": text, "action": "check"})
    html = checked.get_data(as_text=True)
    assert checked.status_code == 200
    assert "Ask Bogdan Mentee (bogdan@example.com, +48 601 234 567) about pivots." in html
    for shown in ("Bogdan Mentee", "bogdan@example.com", "+48 601 234 567"):
        assert f'<mark lang="en">{shown}</mark>' in html  # marked in the note's language
    with web_tandem.sessions() as s:
        assert s.scalar(select(SharedInsight).where(SharedInsight.note_id == note_id)) is None

    client.post(f"/notes/{note_id}/insight", data={"text": text, "action": "offer"})
    # The partner sees the exact text and the same warning before agreeing.
    client.post("/logout")
    login(client, "bogdan@example.com")
    html = client.get(f"/notes/{note_id}").get_data(as_text=True)
    assert "This exact text becomes public when both of you agree" in html
    assert text in html and '<mark lang="en">bogdan@example.com</mark>' in html
    clean = client.get(f"/notes/{library.pending_note_id}").get_data(as_text=True)
    assert "personal data" not in clean


def test_xss_in_note_fields_and_excerpt_stays_inert(
    client: FlaskClient, web_tandem: Any, login: Login
) -> None:
    pid = pair_id(web_tandem)
    login(client, "anna@example.com")
    payload = "\n\n".join(XSS)
    answer = write(client, pid, title=XSS[0] + XSS[1], tags=XSS[1] + "," + XSS[2],
                   learned=payload)  # fmt: skip
    assert answer.status_code == 302
    note_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    client.post(f"/notes/{note_id}/insight", data={"text": payload, "action": "offer"})
    pages = [
        client.get(f"/notes/{note_id}"),
        client.get(f"/notes/{note_id}/edit"),
        client.get("/pair"),
        client.post(f"/notes/{note_id}/insight", data={"text": payload, "action": "check"}),
    ]
    for page in pages:
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert "<script>alert" not in html
        live = r"<(img|svg|iframe)[^>]*(onerror|onload|src=\"?(javascript|data:text))"
        assert not re.search(live, html, re.I)
        assert not re.search(r"href=\"?javascript:", html, re.I)


def test_the_template_follows_the_page_language(
    client: FlaskClient, web_tandem: Any, login: Login
) -> None:
    pid = pair_id(web_tandem)
    login(client, "anna@example.com")
    polish = {"Accept-Language": "pl"}
    form = client.get(f"/pair/{pid}/notes/new", headers=polish).get_data(as_text=True)
    assert "Czego się nauczyliśmy" in form and "Następne kroki" in form
    assert '<option value="pl" selected>' in form  # the note's language defaults to the page's
    # each language by its name in the page's language, as in the guide editor (not "PL")
    assert '<option value="pl" selected>polski</option>' in form
    assert '<option value="ru">rosyjski</option>' in form
    answer = client.post(
        f"/pair/{pid}/notes/new", headers=polish,
        data={"title": "Tabele", "language": "pl", "learned": "Tabele przestawne."},
    )  # fmt: skip
    note_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    with web_tandem.sessions() as s:
        note = s.get(SessionNote, note_id)
        assert note is not None
        assert note.body_md == "## Czego się nauczyliśmy\n\nTabele przestawne."
