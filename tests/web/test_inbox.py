"""The in-app inbox: notices stored once per key, shown to their reader only, read/unread."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from kb.models import InboxMessage
from kb.services import inbox, people


def notice(app: Flask, email: str, kind: str = "welcome", **kw: object) -> int:
    with app.extensions["tandem"].sessions() as s:
        person = people.find_person(s, email)
        message = inbox.notify(s, person, kind, **kw)  # type: ignore[arg-type]
        s.commit()
        return message.id if message else 0


def test_render_translates_text_and_word_parameters() -> None:
    catalog = {
        "%(who)s marked the session of %(when)s as %(status)s.": "%(who)s: %(when)s → %(status)s",
        "held": "odbyta",
    }
    text = inbox.render(
        "session_changed", {"who": "Anna", "when": "2026-12-06 10:00", "status": "held"},
        lambda s: catalog.get(s, s),
    )  # fmt: skip
    assert text == "Anna: 2026-12-06 10:00 → odbyta"
    flags = inbox.render(
        "pair_flagged", {"pair": "A / B", "programme": "P", "flags": ["no_note", "over_capacity"]}
    )
    assert "no note after the first month, mentor over capacity" in flags


def test_a_broken_translation_falls_back_to_english() -> None:
    text = inbox.render("feedback_due", {"programme": "Spring"}, lambda s: "%(nope)s")
    assert text == "Your feedback on the programme Spring is due."


def test_notify_with_a_key_stores_and_mails_once(app: Flask) -> None:
    sent: list[tuple[str, str, str]] = []

    def mailer(to: str, subject: str, body: str) -> bool:
        sent.append((to, subject, body))
        return True

    with app.extensions["tandem"].sessions() as s:
        anna = people.find_person(s, "anna@example.com")
        assert anna is not None
        first = inbox.notify(
            s, anna, "feedback_due", {"programme": "Spring"}, key="k1", mailer=mailer
        )
        again = inbox.notify(
            s, anna, "feedback_due", {"programme": "Spring"}, key="k1", mailer=mailer
        )
        s.commit()
        assert first is not None and first.emailed
        assert again is None
        assert len(sent) == 1 and sent[0][0] == "anna@example.com"
        assert "Spring" in sent[0][2]
        assert s.query(InboxMessage).filter_by(key="k1").count() == 1


def test_links_stay_on_this_site(app: Flask) -> None:
    import pytest

    from kb.errors import ValidationError

    with app.extensions["tandem"].sessions() as s:
        anna = people.find_person(s, "anna@example.com")
        for link in ("https://evil.example", "//evil.example", "/\\evil"):
            with pytest.raises(ValidationError):
                inbox.notify(s, anna, "welcome", link=link)  # type: ignore[arg-type]


def test_header_counts_unread_and_reading_clears_it(app: Flask, client: FlaskClient, login) -> None:
    first = notice(app, "anna@example.com")
    notice(
        app, "anna@example.com", "feedback_due", params={"programme": "Spring round"}, link="/pair"
    )
    notice(app, "bogdan@example.com")
    login(client, "anna@example.com")
    home = client.get("/").get_data(as_text=True)
    assert "Inbox" in home and ">2<" in home
    page = client.get("/inbox/").get_data(as_text=True)
    assert "Your feedback on the programme Spring round is due." in page
    assert page.count('<li class="unread"') == 2
    answer = client.post(f"/inbox/{first}/read")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/inbox/")
    assert ">1<" in client.get("/").get_data(as_text=True)
    client.post("/inbox/read-all")
    assert 'class="badge count"' not in client.get("/inbox/").get_data(as_text=True)


def test_nobody_reads_or_marks_someone_elses_notice(app: Flask, client: FlaskClient, login) -> None:
    theirs = notice(app, "bogdan@example.com")
    login(client, "anna@example.com")
    assert client.post(f"/inbox/{theirs}/read").status_code == 404
    assert "Welcome to Tandem" not in client.get("/inbox/").get_data(as_text=True)
    with app.extensions["tandem"].sessions() as s:
        assert s.get(InboxMessage, theirs).read_at is None  # type: ignore[union-attr]
