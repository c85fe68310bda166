"""Sessions and health through the web app: planning, .ics and the secret feed, confidential
help, HR's health view and the reminder run; and that none of it carries a pair's notes."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import email
import io
import json
import re
import socket
from email.message import Message
from typing import Any

import icalendar
import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kb.models import (
    AuditEntry,
    Guide,
    HelpRequest,
    InboxMessage,
    Meeting,
    Pair,
    Person,
    SessionNote,
)
from kb.services import match_vectors, meetings, notices, people

SECRET_WORDS = ("Zyxelgate", "Budget session", "Quokkaword", "Prompting session")


def tandem_of(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["tandem"]


def pair_id(app: Flask, mentor: str = "anna@example.com") -> int:
    with tandem_of(app).sessions() as s:
        return s.scalar(select(Pair.id).join(Person, Person.id == Pair.mentor_id).where(
            Person.email == mentor))  # fmt: skip


def plan(client: FlaskClient, pid: int, day: str = "2026-12-07", time: str = "10:00",
         tags: str = "ai, excel") -> None:  # fmt: skip
    answer = client.post(
        f"/pairs/{pid}/sessions",
        data={"date": day, "time": time, "zone": "Europe/Warsaw", "minutes": "45", "tags": tags},
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)


def meeting_ids(app: Flask, pid: int) -> list[int]:
    with tandem_of(app).sessions() as s:
        return list(
            s.scalars(select(Meeting.id).where(Meeting.pair_id == pid).order_by(Meeting.id))
        )


def inbox_texts(app: Flask, email: str) -> list[str]:
    from kb.services import inbox

    with tandem_of(app).sessions() as s:
        person = people.find_person(s, email)
        return [m.text for m in inbox.messages_for(s, person)]  # type: ignore[arg-type]


def assert_private(text: str) -> None:
    for word in SECRET_WORDS:
        assert word not in text


def test_members_plan_mark_and_download_an_ics(app: Flask, client: FlaskClient, login) -> None:
    pid = pair_id(app)
    login(client, "anna@example.com")
    plan(client, pid)
    page = client.get("/pair").get_data(as_text=True)
    assert "2026-12-07 10:00" in page and "ai, excel" in page and "Add to calendar" in page
    (mid,) = meeting_ids(app, pid)
    answer = client.get(f"/sessions/{mid}.ics")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/calendar")
    assert "attachment" in answer.headers["Content-Disposition"]
    body = answer.get_data(as_text=True)
    assert_private(body)
    event = next(iter(icalendar.Calendar.from_ical(body).walk("VEVENT")))
    # 10:00 in Warsaw in December is 09:00 UTC.
    assert event.decoded("DTSTART") == dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
    assert event.decoded("DTEND") == dt.datetime(2026, 12, 7, 9, 45, tzinfo=dt.UTC)
    assert "Anna Mentor / Bogdan Mentee" in str(event["SUMMARY"])
    assert any("Anna Mentor planned a session" in t for t in inbox_texts(app, "bogdan@example.com"))

    client.post("/logout")
    login(client, "bogdan@example.com")  # the other member marks it held
    assert client.post(f"/sessions/{mid}/status", data={"status": "held"}).status_code == 302
    with tandem_of(app).sessions() as s:
        meeting = s.get(Meeting, mid)
        assert meeting.status == "held" and meeting.sequence == 1  # type: ignore[union-attr]
    event = next(iter(icalendar.Calendar.from_ical(
        client.get(f"/sessions/{mid}.ics").get_data(as_text=True)).walk("VEVENT")))  # fmt: skip
    assert int(event["SEQUENCE"]) == 1
    assert client.post(f"/sessions/{mid}/status", data={"status": "lost"}).status_code == 400


@pytest.mark.parametrize("email", ["celina@example.com", "hania@example.com"])
def test_outsiders_and_hr_cannot_touch_a_pairs_sessions(
    app: Flask, client: FlaskClient, login, email: str
) -> None:
    pid = pair_id(app)
    login(client, "anna@example.com")
    plan(client, pid)
    (mid,) = meeting_ids(app, pid)
    client.post("/logout")
    login(client, email)
    assert client.get(f"/sessions/{mid}.ics").status_code == 404
    assert client.post(f"/sessions/{mid}/status", data={"status": "held"}).status_code == 404
    assert client.post(f"/pairs/{pid}/sessions", data={"date": "2026-12-08", "time": "10:00"}
                       ).status_code == 404  # fmt: skip
    assert client.get(f"/pairs/{pid}/help").status_code == 404


def test_bad_planning_input_is_refused(app: Flask, client: FlaskClient, login) -> None:
    pid = pair_id(app)
    login(client, "anna@example.com")
    for data in (
        {"date": "tomorrow", "time": "10:00"},
        {"date": "2026-12-07", "time": "25:00"},
        {"date": "2026-12-07", "time": "10:00", "minutes": "5"},
        {"date": "2026-12-07", "time": "10:00", "zone": "Mars/Olympus"},
    ):
        assert client.post(f"/pairs/{pid}/sessions", data=data).status_code == 400
    assert meeting_ids(app, pid) == []


def test_secret_feed_shows_only_the_persons_sessions_and_can_be_revoked(
    app: Flask, client: FlaskClient, login
) -> None:
    login(client, "celina@example.com")
    plan(client, pair_id(app, "celina@example.com"), tags="celina-only")
    client.post("/logout")
    login(client, "anna@example.com")
    plan(client, pair_id(app))
    client.post("/calendar/feed")
    page = client.get("/calendar").get_data(as_text=True)
    address = re.search(r'value="(http://localhost/calendar/[^"]+\.ics)"', page)
    assert address is not None
    path = address.group(1).removeprefix("http://localhost")
    client.post("/logout")
    anonymous = client.get(path)  # no login: the token is the key
    assert anonymous.status_code == 200
    assert anonymous.headers["Cache-Control"] == "private, no-store"
    body = anonymous.get_data(as_text=True)
    assert_private(body)
    events = list(icalendar.Calendar.from_ical(body).walk("VEVENT"))
    assert len(events) == 1 and "celina-only" not in body
    assert client.get("/calendar/not-a-token.ics").status_code == 404
    assert client.get("/calendar").status_code == 302  # the page itself needs a login

    login(client, "anna@example.com")
    client.post("/calendar/feed")  # a new address: the old one stops working
    assert client.get(path).status_code == 404
    page = client.get("/calendar").get_data(as_text=True)
    newer = re.search(r'value="http://localhost(/calendar/[^"]+\.ics)"', page).group(1)  # type: ignore[union-attr]
    assert client.get(newer).status_code == 200
    client.post("/calendar/feed/revoke")
    assert client.get(newer).status_code == 404


def test_help_request_is_confidential_and_hr_can_pause(
    app: Flask, client: FlaskClient, login
) -> None:
    pid = pair_id(app)
    login(client, "bogdan@example.com")
    answer = client.post(f"/pairs/{pid}/help",
                         data={"reason": "discomfort", "text": "Hush-hush reason"})  # fmt: skip
    assert answer.status_code == 302
    own = client.get(f"/pairs/{pid}/help").get_data(as_text=True)
    assert "Your requests" in own and "Hush-hush reason" not in own
    client.post("/logout")

    anna = " ".join(inbox_texts(app, "anna@example.com"))
    assert "help" not in anna.lower() and "Bogdan" not in anna
    login(client, "anna@example.com")
    assert "Your requests" not in client.get(f"/pairs/{pid}/help").get_data(as_text=True)
    assert client.get("/hr/help").status_code == 403
    client.post("/logout")

    hr_notice = " ".join(inbox_texts(app, "hania@example.com"))
    assert "asked HR for help: discomfort" in hr_notice and "Hush-hush" not in hr_notice
    login(client, "hania@example.com")
    page = client.get("/hr/help").get_data(as_text=True)
    assert "Hush-hush reason" in page and "Bogdan Mentee" in page
    assert_private(page)
    with tandem_of(app).sessions() as s:
        request_id = s.scalar(select(HelpRequest.id))
    assert client.post(f"/hr/help/{request_id}", data={"action": "pause"}).status_code == 302
    assert client.post(f"/hr/help/{request_id}", data={"action": "pause"}).status_code == 400
    with tandem_of(app).sessions() as s:
        assert s.get(Pair, pid).status == "paused"  # type: ignore[union-attr]
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "help_request.pause"))
        assert entry is not None and "Hush" not in entry.detail
    anna = " ".join(inbox_texts(app, "anna@example.com"))
    assert "HR paused your pair" in anna and "Bogdan" not in anna  # not told who asked
    assert "HR has handled your request" in " ".join(inbox_texts(app, "bogdan@example.com"))


def test_partner_is_told_who_asked_only_when_the_asker_agrees(
    app: Flask, client: FlaskClient, login
) -> None:
    pid = pair_id(app)
    login(client, "bogdan@example.com")
    client.post(f"/pairs/{pid}/help", data={"reason": "mismatch", "reveal": "1"})
    client.post("/logout")
    login(client, "hania@example.com")
    with tandem_of(app).sessions() as s:
        request_id = s.scalar(select(HelpRequest.id))
    client.post(f"/hr/help/{request_id}", data={"action": "close"})
    anna = " ".join(inbox_texts(app, "anna@example.com"))
    assert "Bogdan Mentee asked HR for help with your pair." in anna
    with tandem_of(app).sessions() as s:
        assert s.get(Pair, pid).status == "active"  # type: ignore[union-attr]


def test_hr_picks_the_new_mentor_from_the_recommendations(
    app: Flask, client: FlaskClient, login
) -> None:
    """From a request for help, HR sees the mentee's recommended mentors (not the current one,
    not one in the mentee's management chain) and re-pairs with one button; a mentor in the
    chain posted anyway is refused with the reason and nothing changes."""
    pid = pair_id(app)
    with tandem_of(app).sessions() as s:
        record = people.PersonRecord  # the HR system's fields, as an import writes them
        people.upsert_person(
            s,
            record(
                name="Ewa Boss",
                email="ewa@example.com",
                roles=("mentor",),
                capacity=2,
                languages=("pl", "en"),
                expertise=("Copilot w Excelu",),
            ),
        )
        people.upsert_person(
            s,
            record(
                name="Celina Mentor",
                email="celina@example.com",
                roles=("mentor",),
                capacity=2,
                languages=("pl", "en"),
                expertise=("Copilot w Excelu i formuły",),
            ),
        )
        people.upsert_person(s, record(
            name="Bogdan Mentee", email="bogdan@example.com", roles=("mentee",),
            languages=("pl", "en"), goals=("Copilot w Excelu",),
            manager_email="ewa@example.com"))  # fmt: skip
        s.commit()
    match_vectors.catch_up(tandem_of(app).sessions, tandem_of(app).matching_embedders)
    login(client, "bogdan@example.com")
    client.post(f"/pairs/{pid}/help", data={"reason": "mismatch", "text": "Hush-hush reason"})
    client.post("/logout")
    login(client, "hania@example.com")
    with tandem_of(app).sessions() as s:
        request_id = s.scalar(select(HelpRequest.id))
    listing = client.get("/hr/help").get_data(as_text=True)
    assert f"/hr/help/{request_id}/repair" in listing
    page = client.get(f"/hr/help/{request_id}/repair").get_data(as_text=True)
    assert_private(page)
    picks = re.findall(r'name="mentor" value="([^"]+)"', page)
    assert "celina@example.com" in picks
    assert "anna@example.com" not in picks  # the current mentor
    assert "ewa@example.com" not in picks  # Bogdan's manager: never recommended
    assert "Re-pair with Celina Mentor" in page

    refused = client.post(f"/hr/help/{request_id}", data={
        "action": "repair", "mentor": "ewa@example.com", "back": "choices"})  # fmt: skip
    assert refused.status_code == 302
    assert refused.headers["Location"].endswith(f"/hr/help/{request_id}/repair")
    again = client.get(f"/hr/help/{request_id}/repair").get_data(as_text=True)
    assert "Not re-paired" in again and "management chain" in again
    with tandem_of(app).sessions() as s:
        assert s.get(Pair, pid).status == "active"  # type: ignore[union-attr]
        assert s.get(HelpRequest, request_id).status == "open"  # type: ignore[union-attr]
        assert s.scalar(select(AuditEntry).where(AuditEntry.action.like("help_request.%"))) is None

    done = client.post(f"/hr/help/{request_id}", data={
        "action": "repair", "mentor": "celina@example.com", "back": "choices"})  # fmt: skip
    assert done.status_code == 302
    with tandem_of(app).sessions() as s:
        old = s.get(Pair, pid)
        assert old is not None and old.status == "ended"
        new = s.scalar(select(Pair).where(Pair.mentee_id == old.mentee_id, Pair.id != pid))
        assert new is not None and new.mentor.email == "celina@example.com"
        assert s.get(HelpRequest, request_id).outcome == "repaired"  # type: ignore[union-attr]
    handled = client.get(f"/hr/help/{request_id}/repair").get_data(as_text=True)
    assert "already handled" in handled and 'name="mentor"' not in handled


def test_health_page_shows_counts_and_flags_never_content(
    app: Flask, client: FlaskClient, login
) -> None:
    today = meetings.to_local(dt.datetime.now(dt.UTC).replace(tzinfo=None)).date()
    with tandem_of(app).sessions() as s:
        quiet = s.get(Pair, pair_id(app, "celina@example.com"))
        quiet.started = today - dt.timedelta(days=60)  # type: ignore[union-attr]
        s.commit()
    login(client, "anna@example.com")
    plan(client, pair_id(app))
    (mid,) = meeting_ids(app, pair_id(app))
    client.post(f"/sessions/{mid}/status", data={"status": "held"})
    assert client.get("/hr/programmes/spring/health").status_code == 403
    client.post("/logout")
    login(client, "hania@example.com")
    page = client.get("/hr/programmes/spring/health").get_data(as_text=True)
    assert_private(page)
    rows = re.findall(r"<tr>(.*?)</tr>", page, flags=re.S)
    anna_row = next(r for r in rows if "Anna Mentor" in r)
    cells = re.findall(r"<td>(.*?)</td>", anna_row, flags=re.S)
    assert cells[3:8] == ["0", "1", "0", "2026-12-07", "3"]  # planned, held, cancelled, last, notes
    celina_row = next(r for r in rows if "Celina Mentor" in r)
    assert "No session for 4 weeks" in celina_row and "No note after 30 days" in celina_row
    settings = {"quiet_weeks": "10", "pause_weeks": "3"}
    answer = client.post("/hr/programmes/spring/health", data=settings)
    assert answer.status_code == 302, answer.get_data(as_text=True)[-3000:]
    page = client.get("/hr/programmes/spring/health").get_data(as_text=True)
    celina_row = next(r for r in re.findall(r"<tr>(.*?)</tr>", page, flags=re.S) if "Celina" in r)
    assert "No session for" not in celina_row
    settings = {"quiet_weeks": "0", "pause_weeks": "3"}
    assert client.post("/hr/programmes/spring/health", data=settings).status_code == 400


def test_hr_sets_the_flag_thresholds_in_the_programme_form(
    app: Flask, client: FlaskClient, login
) -> None:
    """The "first month" and the low-rating mean are programme settings, edited with the
    programme (and on the health page), audited; the health page follows them."""
    today = meetings.to_local(dt.datetime.now(dt.UTC).replace(tzinfo=None)).date()
    with tandem_of(app).sessions() as s:
        quiet = s.get(Pair, pair_id(app, "celina@example.com"))
        quiet.started = today - dt.timedelta(days=60)  # type: ignore[union-attr]
        s.commit()
    login(client, "hania@example.com")

    def celina_row() -> str:
        page = client.get("/hr/programmes/spring/health").get_data(as_text=True)
        return next(r for r in re.findall(r"<tr>(.*?)</tr>", page, flags=re.S) if "Celina" in r)

    assert "No note after 30 days" in celina_row()
    form = client.get("/hr/programmes/spring/edit").get_data(as_text=True)
    assert 'name="first_month_days"' in form and 'value="30"' in form and 'value="2.5"' in form
    fields = {"name": "Spring", "status": "running", "quiet_weeks": "10", "pause_weeks": "4",
              "first_month_days": "90", "low_rating": "3.5"}  # fmt: skip
    assert client.post("/hr/programmes/spring/edit", data=fields).status_code == 302
    row = celina_row()
    assert "No note after" not in row and "No session for" not in row
    with tandem_of(app).sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "programme.edit")).one()
        assert {"first_month_days", "low_rating", "quiet_weeks"} <= set(
            json.loads(entry.detail)["fields"]
        )
    refused = client.post("/hr/programmes/spring/edit", data={**fields, "low_rating": "7"})
    assert refused.status_code == 400 and "rating from 1 to 5" in refused.get_data(as_text=True)
    # the health page's own form sets it back: 45 days is less than the pair's 60
    client.post("/hr/programmes/spring/health", data={"first_month_days": "45"})
    assert "No note after 45 days" in celina_row()


def test_health_csv_has_counts_and_flags_never_content(
    app: Flask, client: FlaskClient, login
) -> None:
    """HR's health table as CSV: the page's counts, dates and flags, audited as an export;
    no note's title or text, and no session topic tag, is in it."""
    today = meetings.to_local(dt.datetime.now(dt.UTC).replace(tzinfo=None)).date()
    with tandem_of(app).sessions() as s:
        quiet = s.get(Pair, pair_id(app, "celina@example.com"))
        quiet.started = today - dt.timedelta(days=60)  # type: ignore[union-attr]
        s.commit()
    login(client, "anna@example.com")
    plan(client, pair_id(app), tags="Wombatgate")  # the pair's own topic tag
    (mid,) = meeting_ids(app, pair_id(app))
    client.post(f"/sessions/{mid}/status", data={"status": "held"})
    assert client.get("/hr/programmes/spring/health.csv").status_code == 403
    client.post("/logout")
    login(client, "hania@example.com")
    assert "health.csv" in client.get("/hr/programmes/spring/health").get_data(as_text=True)
    answer = client.get("/hr/programmes/spring/health.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert 'filename="spring-health.csv"' in answer.headers["Content-Disposition"]
    text = answer.get_data(as_text=True)
    assert_private(text)
    assert "Wombatgate" not in text
    with tandem_of(app).sessions() as s:
        for title, body in s.execute(select(SessionNote.title, SessionNote.body_md)):
            assert title not in text and body.strip()[:40] not in text
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["Mentor", "Mentee", "Status", "Planned", "Held", "Cancelled",
                       "Last session", "Notes", "Flags"]  # fmt: skip
    anna = next(r for r in rows if r[0] == "Anna Mentor")
    assert anna[1:8] == ["Bogdan Mentee", "active", "0", "1", "0", "2026-12-07", "3"]
    celina = next(r for r in rows if r[0] == "Celina Mentor")
    assert celina[8] == "No session for 4 weeks; No note after 30 days"
    with tandem_of(app).sessions() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "programme.health_export")
        ).one()
        assert json.loads(entry.detail) == {"format": "csv", "rows": len(rows) - 1}
    polish = client.get("/hr/programmes/spring/health.csv", headers={"Accept-Language": "pl"})
    assert "Brak notatki po 30 dniach" in polish.get_data(as_text=True)


def test_notices_are_sent_once(app: Flask, client: FlaskClient, login) -> None:
    now = dt.datetime(2026, 12, 6, 7, 0)  # 08:00 in Warsaw; the session is tomorrow
    login(client, "anna@example.com")
    plan(client, pair_id(app), day="2026-12-07", time="09:00")
    with tandem_of(app).sessions() as s:
        quiet = s.get(Pair, pair_id(app, "celina@example.com"))
        quiet.started = dt.date(2026, 10, 1)  # type: ignore[union-attr]
        s.commit()
    sent: list[tuple[str, str]] = []

    def mailer(to: str, subject: str, body: str) -> bool:
        sent.append((to, body))
        return True

    delivery = notices.Delivery(mailer=mailer)
    with tandem_of(app).sessions() as s:
        first = notices.run_notices(s, now, delivery)
    with tandem_of(app).sessions() as s:
        second = notices.run_notices(s, now + dt.timedelta(hours=1), delivery)
    assert first.sent["session_tomorrow"] == 2
    assert first.sent["pair_flagged"] >= 1  # the quiet pair, to HR
    assert "feedback_due" not in first.sent  # the spring round ended in 2024
    assert second.total == 0
    assert len(sent) == first.total
    for _to, body in sent:
        assert_private(body)
    assert any("Reminder: your mentoring session is tomorrow" in t
               for t in inbox_texts(app, "bogdan@example.com"))  # fmt: skip
    hr = " ".join(inbox_texts(app, "hania@example.com"))
    assert "Celina Mentor / Dawid Mentee" in hr and "no session for a while" in hr
    with tandem_of(app).sessions() as s:
        keys = list(s.scalars(select(InboxMessage.key).where(InboxMessage.key.is_not(None))))
        assert len(keys) == len(set(keys))


def test_feedback_due_rounds() -> None:
    from kb.models import Programme

    programme = Programme(slug="p", name="P", starts=dt.date(2026, 1, 1), ends=dt.date(2026, 7, 1))
    assert notices.feedback_rounds(programme, dt.date(2026, 3, 1)) == []
    assert notices.feedback_rounds(programme, dt.date(2026, 4, 2)) == ["mid"]
    assert notices.feedback_rounds(programme, dt.date(2026, 6, 25)) == ["mid", "end"]
    assert notices.feedback_rounds(programme, dt.date(2026, 7, 31)) == ["mid", "end"]
    assert notices.feedback_rounds(programme, dt.date(2026, 8, 1)) == []


@pytest.mark.parametrize(
    ("lang", "words"),
    [("pl", ("Spotkania", "Zaplanuj spotkanie", "odbyte")),
     ("ru", ("Встречи", "Запланировать встречу", "проведена"))],
)  # fmt: skip
def test_pair_sessions_and_notices_in_the_readers_language(
    app: Flask, client: FlaskClient, login, lang: str, words: tuple[str, ...]
) -> None:
    pid = pair_id(app)
    login(client, "anna@example.com")
    plan(client, pid)
    (mid,) = meeting_ids(app, pid)
    client.post(f"/sessions/{mid}/status", data={"status": "held"})
    client.post("/logout")
    login(client, "bogdan@example.com")
    headers = {"Accept-Language": lang}
    page = client.get("/pair", headers=headers).get_data(as_text=True)
    for word in words[:2]:
        assert word in page
    inbox_page = client.get("/inbox/", headers=headers).get_data(as_text=True)
    assert words[2] in inbox_page  # "Anna marked the session ... as held", translated
    bad = client.post(f"/pairs/{pid}/sessions", data={"date": "x", "time": "10:00"},
                      headers=headers)  # fmt: skip
    assert bad.status_code == 400 and "YYYY" not in bad.get_data(as_text=True)


def test_hr_re_pairs_from_a_help_request_audited_and_without_naming_the_asker(
    app: Flask, client: FlaskClient, login
) -> None:
    pid = pair_id(app)
    login(client, "bogdan@example.com")
    client.post(f"/pairs/{pid}/help", data={"reason": "mismatch", "text": "Hush-hush reason"})
    client.post("/logout")
    login(client, "hania@example.com")
    with tandem_of(app).sessions() as s:
        request_id = s.scalar(select(HelpRequest.id))
    page = client.get("/hr/help").get_data(as_text=True)
    assert 'name="mentor"' in page and "Re-pair" in page
    # Celina already mentors Dawid at her capacity of one: refused with the reason, no change.
    refused = client.post(f"/hr/help/{request_id}",
                          data={"action": "repair", "mentor": "celina@example.com"})  # fmt: skip
    assert refused.status_code == 302
    page = client.get("/hr/help").get_data(as_text=True)
    assert "Not re-paired" in page and "already has 1 active or paused" in page
    with tandem_of(app).sessions() as s:
        assert s.get(Pair, pid).status == "active"  # type: ignore[union-attr]
        assert s.get(HelpRequest, request_id).status == "open"  # type: ignore[union-attr]
        people.find_person(s, "celina@example.com").capacity = 2  # type: ignore[union-attr]
        s.commit()
    missing = client.post(f"/hr/help/{request_id}", data={"action": "repair", "mentor": ""})
    assert missing.status_code == 400
    done = client.post(f"/hr/help/{request_id}",
                       data={"action": "repair", "mentor": "celina@example.com"})  # fmt: skip
    assert done.status_code == 302
    with tandem_of(app).sessions() as s:
        old = s.get(Pair, pid)
        assert old is not None and old.status == "ended"  # the old pair keeps its history
        new = s.scalar(select(Pair).where(Pair.mentee_id == old.mentee_id, Pair.id != pid))
        assert new is not None and new.mentor.email == "celina@example.com"
        assert new.status == "active"
        request = s.get(HelpRequest, request_id)
        assert request is not None and request.outcome == "repaired"
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "help_request.repair"))
        assert entry is not None and f'"new_pair_id": {new.id}' in entry.detail
        assert "Hush" not in entry.detail
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "pair.swap")) is not None
    anna = " ".join(inbox_texts(app, "anna@example.com"))
    assert "HR ended your pair" in anna and "Bogdan" not in anna  # not told who asked
    assert "HR gave you a new mentor" in " ".join(inbox_texts(app, "bogdan@example.com"))
    celina = " ".join(inbox_texts(app, "celina@example.com"))
    assert "HR formed a new pair in Spring round: Celina Mentor / Bogdan Mentee" in celina
    assert "help" not in celina.lower() and "Hush" not in celina


class SmtpInbox:
    """aiosmtpd handler keeping (recipient, message) of everything it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = email.message_from_bytes(envelope.original_content or envelope.content)
        self.messages.extend((to, parsed) for to in envelope.rcpt_tos)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_notices_go_by_email_in_the_readers_language_when_smtp_is_configured(
    app: Flask, client: FlaskClient, login, tmp_path
) -> None:
    """A real SMTP server (aiosmtpd): Bogdan reads Polish, so his reminder is Polish; Anna's
    published guide is past its review date, so she is reminded, once."""
    received, port = SmtpInbox(), free_port()
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = dataclasses.replace(
            tandem_of(app).settings, smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none",
            smtp_from="tandem@example.com",
        )  # fmt: skip
        login(client, "anna@example.com")
        plan(client, pair_id(app), day="2026-12-07", time="09:00")
        with tandem_of(app).sessions() as s:
            people.find_person(s, "bogdan@example.com").ui_language = "pl"  # type: ignore[union-attr]
            guide = s.scalar(select(Guide).where(Guide.status == "published"))
            assert guide is not None
            guide.review_by = dt.date(2026, 11, 30)
            s.commit()
        now = dt.datetime(2026, 12, 6, 7, 0)
        with tandem_of(app).sessions() as s:
            report = notices.run_notices(s, now, notices.mail_delivery(settings))
        with tandem_of(app).sessions() as s:
            again = notices.run_notices(s, now, notices.mail_delivery(settings))
    finally:
        controller.stop()
    assert report.sent["guide_review"] == 1 and again.total == 0
    assert len(received.messages) == report.total
    mails: dict[str, str] = {}
    for to, message in received.messages:
        body = message.get_payload(decode=True)
        assert isinstance(body, bytes)
        text = body.decode("utf-8")
        assert_private(text)
        mails[to] = mails.get(to, "") + text
    assert "Przypomnienie: Twoje spotkanie mentoringowe jest jutro" in mails["bogdan@example.com"]
    anna = mails["anna@example.com"]
    assert "is tomorrow" in anna  # Anna reads English
    assert "Copilot w Excelu" in anna and "past its review date (2026-11-30)" in anna
    assert "Copilot w Excelu" in " ".join(inbox_texts(app, "anna@example.com"))
    with tandem_of(app).sessions() as s:
        emailed = s.scalars(select(InboxMessage.emailed).where(InboxMessage.kind == "guide_review"))
        assert list(emailed) == [True]


def test_health_api_gives_hr_counts_and_flags_never_content(
    app: Flask, client: FlaskClient, login
) -> None:
    login(client, "anna@example.com")
    plan(client, pair_id(app))
    (mid,) = meeting_ids(app, pair_id(app))
    client.post(f"/sessions/{mid}/status", data={"status": "held"})
    assert client.get("/api/programmes/spring/health").status_code == 403
    client.post("/logout")
    assert client.get("/api/programmes/spring/health").status_code == 401
    login(client, "hania@example.com")
    answer = client.get("/api/programmes/spring/health")
    assert answer.status_code == 200
    assert_private(answer.get_data(as_text=True))
    data = answer.get_json()
    assert data["thresholds"] == {
        "quiet_weeks": 4, "pause_weeks": 4, "first_month_days": 30, "low_rating": 2.5,
    }  # fmt: skip
    anna = next(p for p in data["pairs"] if p["mentor"]["name"] == "Anna Mentor")
    assert anna["mentee"]["name"] == "Bogdan Mentee"
    assert (anna["planned"], anna["held"], anna["cancelled"]) == (0, 1, 0)
    assert anna["last_session"] == "2026-12-07" and anna["note_count"] == 3
    assert set(anna) == {"pair_id", "mentor", "mentee", "status", "planned", "held",
                         "cancelled", "last_session", "note_count", "flags"}  # fmt: skip
    assert client.get("/api/programmes/nope/health").status_code == 404
    with tandem_of(app).sessions() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "programme.health_export")
        ).one()  # the export is audited (the 404 wrote nothing)
        assert json.loads(entry.detail) == {"format": "json", "rows": len(data["pairs"])}
