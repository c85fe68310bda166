"""Sessions and pair health in the browser (issue 17, stages 5 and 6).

A mentor plans a session on the pair page, marks it held and downloads its .ics; HR opens the
programme's pair health and sees the pair's counts and another pair's flag, never a note's
words. The pair page and the health page are checked with axe-core in English and Polish.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from kb.models import Pair, Person

from .conftest import accessibility_problems, login, screenshot

MENTOR = "anna@example.com"
HR = "hania@example.com"
NOTE_WORDS = ("Zyxelgate", "Budget session")  # a private note of Anna and Bogdan's pair


def quiet_pair(live_server) -> None:  # type: ignore[no-untyped-def]
    """Celina and Dawid started two months ago and have not met since: a flag for HR."""
    with live_server.tandem.sessions() as session:
        pair = session.scalar(
            select(Pair).join(Person, Person.id == Pair.mentor_id)
            .where(Person.email == "celina@example.com")
        )  # fmt: skip
        pair.started = dt.date.today() - dt.timedelta(days=60)
        session.commit()


def test_a_pair_plans_holds_and_downloads_a_session_and_hr_sees_counts(
    page, new_page, live_server, tmp_path
):
    login(page, MENTOR)
    page.goto("/pair")
    form = page.locator("form.plan-session").first
    form.get_by_label("Date").fill("2026-12-03")
    form.get_by_label("Time", exact=True).fill("10:30")
    form.get_by_label("Time zone").select_option("Europe/Warsaw")
    form.get_by_label("Length in minutes").fill("45")
    form.get_by_label("Topic tags (comma-separated)").fill("ai, excel")
    form.get_by_role("button", name="Plan").click()
    page.wait_for_load_state()
    row = page.locator("section.sessions tbody tr").first
    assert "2026-12-03 10:30" in row.inner_text() and "ai, excel" in row.inner_text()
    assert "planned" in row.inner_text()
    row.get_by_role("button", name="Mark held").click()
    page.wait_for_load_state()
    row = page.locator("section.sessions tbody tr").first
    assert "held" in row.locator(".badge").inner_text()
    assert accessibility_problems(page) == []

    with page.expect_download() as info:
        row.get_by_role("link", name="Add to calendar (.ics)").click()
    download = info.value
    assert download.suggested_filename.endswith(".ics")
    ics = tmp_path / "session.ics"
    download.save_as(ics)
    text = ics.read_text("utf-8")
    assert "BEGIN:VEVENT" in text and "DTSTART:20261203T093000Z" in text
    assert "Anna Mentor" in text and not any(word in text for word in NOTE_WORDS)

    # HR: the pair's counts, the quiet pair's flag, no note content.
    quiet_pair(live_server)
    hr = new_page()
    login(hr, HR)
    hr.goto("/hr/programmes/spring")
    hr.get_by_role("link", name="Pair health").click()
    hr.wait_for_load_state()
    assert hr.url.endswith("/hr/programmes/spring/health")
    rows = hr.locator("table.health tbody tr")
    anna = rows.filter(has_text="Anna Mentor")
    cells = anna.locator("td").all_inner_texts()
    # mentor, mentee, status, planned, held, cancelled, last session, notes, flags
    assert cells[3:7] == ["0", "1", "0", "2026-12-03"]
    assert int(cells[7]) >= 1  # the pair's note is counted, not shown
    celina = rows.filter(has_text="Celina Mentor").inner_text()
    assert "No session for 4 weeks" in celina and "No note after 30 days" in celina
    assert not any(word in hr.content() for word in NOTE_WORDS)
    assert accessibility_problems(hr) == []
    screenshot(hr, "pair-health")


def test_pair_and_health_pages_in_polish_pass_axe(new_page, live_server):
    mentor = new_page(locale="pl-PL")
    login(mentor, MENTOR)
    mentor.goto("/pair")
    assert mentor.get_by_role("heading", name="Spotkania").first.is_visible()
    assert accessibility_problems(mentor) == []
    mentor.goto("/calendar")
    assert accessibility_problems(mentor) == []

    hr = new_page(locale="pl-PL")
    login(hr, HR)
    hr.goto("/hr/programmes/spring/health")
    assert hr.locator("html").get_attribute("lang") == "pl"
    assert accessibility_problems(hr) == []
    hr.goto("/hr/help")
    assert accessibility_problems(hr) == []
