"""Programme stages 1 to 4 in the browser, in English and in Polish: HR creates a programme,
invites a mentor and a mentee, who accept; HR records the preparatory conversations, accepts
both, lowers the minimum fit, runs the proposal, saves it and starts the pair. Then axe checks
the programme pages in that language. Selectors use ids and form actions, not words, so the
same flow runs in both languages; the words checked are each language's own."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from web.conftest import PASSWORD

from kb.models import Enrolment, Pair, Programme
from kb.services import match_vectors, people

from .conftest import accessibility_problems, login, screenshot

HR = "hania@example.com"
WORDS = {
    "en-GB": {
        "participants": "Participants: ",
        "invited": "Invited 1 person.",
        "agreement": "Pair agreement",
        "mine": "Mentoring programmes",
    },
    "pl-PL": {
        "participants": "Uczestnicy: ",
        "invited": "Zaproszono 1 osobę.",
        "agreement": "Umowa pary",
        "mine": "Programy mentoringowe",
    },
}


def two_people(live_server: Any, tag: str) -> tuple[str, str]:
    """A fresh mentor and mentee (the library's mentors are full), with vectors."""
    tandem = live_server.tandem
    mentor, mentee = f"marta-{tag}@example.com", f"stefan-{tag}@example.com"
    with tandem.sessions() as s:
        for record in (
            people.PersonRecord(name=f"Marta {tag}", email=mentor, roles=("mentor",),
                                languages=("pl", "en"), expertise=("Excel", "prompting"),
                                capacity=2, department="IT"),
            people.PersonRecord(name=f"Stefan {tag}", email=mentee, roles=("mentee",),
                                languages=("pl", "en"), goals=("Excel formulas",),
                                department="Finance"),
        ):  # fmt: skip
            found, _ = people.upsert_person(s, record)
            people.set_password(found, PASSWORD)
        s.commit()
    match_vectors.catch_up(tandem.sessions, tandem.matching_embedders)
    return mentor, mentee


def submit(page: Any, selector: str) -> None:
    page.click(selector)
    page.wait_for_load_state()


@pytest.mark.parametrize("locale", ["en-GB", "pl-PL"])
def test_hr_runs_stages_1_to_4(new_page, live_server, locale, tmp_path) -> None:
    words, tag = WORDS[locale], locale[:2]
    slug = f"autumn-{tag}"
    mentor, mentee = two_people(live_server, tag)
    hr = new_page(locale=locale)
    login(hr, HR)

    # Stage 1: create the programme.
    hr.goto("/hr/programmes/new")
    hr.fill("#p-slug", slug)
    hr.fill("#p-name", f"Autumn {tag}")
    hr.fill("#p-description", "Seniors learn AI and Excel from younger colleagues.")
    hr.check("input[name=competences][value=generative-ai]")
    today = dt.date.today()
    hr.fill("#p-starts", today.isoformat())
    hr.fill("#p-ends", (today + dt.timedelta(days=120)).isoformat())
    hr.check("input[name=languages][value=pl]")
    submit(hr, "main form.stacked button[type=submit]")
    assert words["participants"] + f"Autumn {tag}" in hr.inner_text("h1")

    # Stage 2: invite, they accept, the conversations, HR accepts.
    for email, role in ((mentee, "mentee"), (mentor, "mentor")):
        hr.fill("#invite-emails", email)
        hr.select_option("#invite-role", role)
        submit(hr, f"form[action$='/{slug}/invite'] button[type=submit]")
        assert words["invited"] in hr.content()
    for email in (mentee, mentor):
        person = new_page(locale=locale)
        login(person, email)
        person.goto("/programmes/")
        assert words["mine"] in person.inner_text("h1")
        if email == mentor:
            person.fill("input[name=expertise]", "Excel, prompting")
            person.check("input[name=ready]")
        submit(person, "button[name=answer][value=accept]")
    hr.goto(f"/hr/programmes/{slug}/enrolment")
    for row in range(2):  # the conversation's date (today, prefilled), then accept
        submit(hr, f"form[action$='/prepared'] button >> nth={row}")
    for _ in range(2):
        submit(hr, "form[action$='/accept'] button >> nth=0")
    with live_server.tandem.sessions() as s:
        statuses = s.scalars(select(Enrolment.status).join(Enrolment.programme)
                             .where(Programme.slug == slug)).all()  # fmt: skip
        assert sorted(statuses) == ["enrolled", "enrolled"]

    # Stage 4: the proposal pairs the enrolled two (minimum fit lowered first), then start.
    hr.goto(f"/hr/programmes/{slug}/weights?min_fit=0")
    submit(hr, "main form[method=post] button[type=submit]")
    hr.goto(f"/hr/programmes/{slug}/proposal")
    assert f"Marta {tag}" in hr.content() and f"Stefan {tag}" in hr.content()
    submit(hr, f"form[action$='/{slug}/proposal'] button[type=submit]")
    with live_server.tandem.sessions() as s:
        pair = s.scalars(select(Pair).join(Pair.programme).where(Programme.slug == slug)).one()
        assert (pair.mentor.email, pair.mentee.email, pair.status) == (mentor, mentee, "proposed")
        pair_id = pair.id
    hr.goto(f"/hr/programmes/{slug}")
    hr.select_option(f"#status-{pair_id}", "active")
    submit(hr, f"form:has(#status-{pair_id}) button[type=submit]")
    with live_server.tandem.sessions() as s:
        started = s.get(Pair, pair_id)
        assert started is not None and started.status == "active" and started.started

    # Stage 3 for the pair: the mentee reads and accepts the agreement in their language.
    member = new_page(locale=locale)
    login(member, mentee)
    member.goto(f"/programmes/pairs/{pair_id}/onboarding")
    assert words["agreement"] in member.content()
    member.check("input[name=agree]")
    submit(member, "main form.stacked button[type=submit]")
    assert accessibility_problems(member) == [], "onboarding"
    screenshot(member, f"programme-onboarding-{tag}", tmp_path)

    for path in (f"/hr/programmes/{slug}/edit", f"/hr/programmes/{slug}/enrolment",
                 f"/hr/programmes/{slug}/preparation", f"/hr/programmes/{slug}/weights",
                 "/hr/people/upload", "/programmes/", f"/programmes/{slug}"):  # fmt: skip
        hr.goto(path)
        assert accessibility_problems(hr) == [], path
    hr.goto(f"/hr/programmes/{slug}/enrolment")
    screenshot(hr, f"programme-enrolment-{tag}", tmp_path)
