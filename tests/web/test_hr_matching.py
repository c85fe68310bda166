"""HR's matching pages: a proposal that adds up, decisions per pair, names, progress."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kb.models import MatchingJob, Pair, PairChange, Person
from kb.runtime import Tandem
from kb.services import match_vectors, people
from matching.jobs import job_key

HR = "hania@example.com"


def add_people(tandem: Tandem) -> None:
    """Anna takes two mentees now; Ewa (a new mentee) wants what Anna wrote a guide about;
    Olga (a mentor) knows video. Their texts get matching vectors, as an import stores them."""
    with tandem.sessions() as s:
        people.upsert_person(
            s,
            people.PersonRecord(
                name="Anna Mentor",
                email="anna@example.com",
                roles=("mentor",),
                languages=("pl", "en"),
                capacity=2,
                expertise=("Copilot w Excelu",),
            ),
        )
        people.upsert_person(
            s,
            people.PersonRecord(
                name="Ewa Nowicka",
                email="ewa@example.com",
                roles=("mentee",),
                languages=("pl", "en"),
                goals=("Copilot w Excelu i formuły", "kwantowa kryptografia postkwantowa"),
            ),
        )
        people.upsert_person(
            s,
            people.PersonRecord(
                name="Olga Video",
                email="olga@example.com",
                roles=("mentor",),
                languages=("en",),
                expertise=("editing short videos on a phone",),
            ),
        )
        s.commit()
    match_vectors.catch_up(tandem.sessions, tandem.matching_embedders)


@pytest.fixture
def hr(client: FlaskClient, login, web_tandem: Tandem) -> FlaskClient:
    add_people(web_tandem)
    assert login(client, HR).status_code == 302
    return client


def section(page: str, heading: str) -> str:
    """The part of ``page`` from an <h2> heading to the next one (empty if absent)."""
    match = re.search(rf"<h2>{re.escape(heading)}</h2>(.*?)(?=<h2>|\Z)", page, re.S)
    return match.group(1) if match else ""


def test_proposal_lists_add_up(hr: FlaskClient) -> None:
    page = hr.get("/hr/programmes/spring/proposal").get_data(as_text=True)
    kept = section(page, "Kept pairs")
    assert "Anna Mentor" in kept and "Bogdan Mentee" in kept
    assert "Celina Mentor" in kept and "Dawid Mentee" in kept
    new = section(page, "New pairs")
    assert "Ewa Nowicka" in new
    # Nobody in a pair is listed as without one; Anna's second place is listed as free.
    paired = {"Anna Mentor", "Bogdan Mentee", "Celina Mentor", "Dawid Mentee", "Ewa Nowicka"}
    for heading in ("Mentees without a mentor", "Mentors without a mentee"):
        assert not {name for name in paired if name in section(page, heading)}, heading
    assert "Olga Video" in section(page, "Mentors without a mentee")
    assert "Teaches back" in page
    assert "evidence" in kept  # fit in words, not a raw number
    assert "@example.com</td>" not in page


def test_hr_keeps_or_rejects_a_proposed_pair_from_the_page(
    hr: FlaskClient, web_tandem: Tandem
) -> None:
    page = hr.get("/hr/programmes/spring/proposal").get_data(as_text=True)
    new = section(page, "New pairs")
    mentor = re.search(r'name="mentor" value="([^"]+)"', new).group(1)
    answer = hr.post(
        "/hr/programmes/spring/proposal/decide",
        data={"mentor": mentor, "mentee": "ewa@example.com", "decision": "accept"},
    )
    assert answer.status_code == 302
    with web_tandem.sessions() as s:
        ewa = s.scalar(select(Person).where(Person.email == "ewa@example.com"))
        pair = s.scalar(select(Pair).where(Pair.mentee_id == ewa.id))
        assert pair.locked and pair.status == "proposed"
        trail = [
            (c.what, c.actor.email)
            for c in s.scalars(select(PairChange).where(PairChange.pair_id == pair.id))
        ]
        assert ("locked", HR) in trail
    page = hr.get("/hr/programmes/spring/proposal").get_data(as_text=True)
    assert "Ewa Nowicka" in section(page, "Kept pairs")

    answer = hr.post(
        "/hr/programmes/spring/proposal/decide",
        data={"mentor": mentor, "mentee": "ewa@example.com", "decision": "reject"},
    )
    assert answer.status_code == 302
    with web_tandem.sessions() as s:
        pair = s.scalar(select(Pair).where(Pair.mentee_id == ewa.id))
        assert pair.status == "rejected" and not pair.locked
    page = hr.get("/hr/programmes/spring/proposal").get_data(as_text=True)
    assert "Ewa Nowicka" not in section(page, "Kept pairs")
    bad = hr.post(
        "/hr/programmes/spring/proposal/decide",
        data={"mentor": mentor, "mentee": "ewa@example.com", "decision": "maybe"},
        follow_redirects=True,
    )
    assert "decision must be accept or reject" in bad.get_data(as_text=True)


def test_deciding_needs_the_csrf_token(app_factory, login) -> None:
    client = app_factory(WTF_CSRF_ENABLED=True).test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post(
        "/login", data={"email": HR, "password": "correct horse battery", "csrf_token": token}
    )
    answer = client.post(
        "/hr/programmes/spring/proposal/decide",
        data={"mentor": "anna@example.com", "mentee": "bogdan@example.com", "decision": "reject"},
    )
    assert answer.status_code == 400


def test_gaps_page_names_people_not_emails(hr: FlaskClient) -> None:
    page = hr.get("/hr/programmes/spring/gaps").get_data(as_text=True)
    assert "kwantowa kryptografia" in page
    assert "Ewa Nowicka" in page
    assert "ewa@example.com" not in page


def test_a_running_job_shows_its_progress(app_factory, login, web_tandem: Tandem) -> None:
    app: Flask = app_factory(TANDEM_MATCHING_JOBS_INLINE=False)
    client = app.test_client()
    login(client, HR)
    with web_tandem.sessions() as s:
        key = job_key(s, "proposal", "spring")
        s.add(
            MatchingJob(
                kind="proposal",
                programme="spring",
                key=key,
                status="running",
                progress="scoring 3 mentees against 2 mentors",
            )
        )
        s.commit()
    answer = client.get("/hr/programmes/spring/proposal")
    assert answer.status_code == 202
    page = answer.get_data(as_text=True)
    assert "scoring 3 mentees against 2 mentors" in page
    assert '<meta http-equiv="refresh"' in page


def test_weak_links_are_not_quoted(app: Flask) -> None:
    weak = {
        "goal": "learn SQL",
        "evidence": "TikTok reels",
        "kind": "expertise",
        "title": "",
        "band": "weak",
        "band_text": "weak evidence",
    }
    some = {**weak, "evidence": "SQL joins", "band": "some", "band_text": "some evidence"}
    with app.test_request_context():
        from flask import render_template

        shown = render_template("hr/_reasons.html", reasons=[weak, some])
        hidden = render_template("hr/_reasons.html", reasons=[weak])
    assert "SQL joins" in shown and "TikTok" not in shown
    assert "TikTok" not in hidden and "strong enough" in hidden


def test_long_lists_are_cut_with_their_full_size() -> None:
    from kb.views.hr import present_proposal

    def person(i: int) -> dict[str, str]:
        return {"email": f"p{i}@x.com", "name": f"P {i}", "reason": "r"}

    pair = {"mentor": "m@x.com", "mentee": "p0@x.com", "locked": True}
    data = {
        "pairs": [pair],
        "unmatched_mentees": [person(i) for i in range(500)],
        "unmatched_mentors": [],
        "mentors_with_places": [],
    }
    shown = present_proposal(data, rows=200)
    assert len(shown["unmatched_mentees"]) == 200
    assert shown["sizes"]["unmatched_mentees"] == 499  # p0 is paired: never listed as not
    assert "p0@x.com" not in {u["email"] for u in shown["unmatched_mentees"]}
    assert len(present_proposal(data)["unmatched_mentees"]) == 499


def test_audit_log_viewer_filters_and_shows_no_note(
    client: FlaskClient, login, web_tandem: Tandem
) -> None:
    """HR's actions land in the log; the administrators' viewer filters it; no note text."""
    with web_tandem.sessions() as s:
        people.upsert_person(
            s, people.PersonRecord(name="Ida Admin", email="ida@example.com", roles=("admin",))
        )
        people.set_password(
            people.get_person_by_email(s, "ida@example.com"), "correct horse battery"
        )
        s.commit()
        pair = s.scalars(select(Pair).where(Pair.status == "active")).first()
        assert pair is not None
        pair_id = pair.id
    login(client, HR)
    client.post(f"/hr/pairs/{pair_id}", data={"status": "paused"})
    assert client.get("/hr/audit").status_code == 403  # HR, not an administrator
    client.post("/logout")
    login(client, "ida@example.com")
    page = client.get("/hr/audit").get_data(as_text=True)
    assert "pair.status" in page and "Hania HR" in page and "from: active; to: paused" in page
    assert "Zyxelgate" not in page
    filtered = client.get("/hr/audit?action=account.deactivate").get_data(as_text=True)
    assert "from: active" not in filtered and "No entries." in filtered
    assert "Hania HR" in client.get("/hr/audit?programme=spring").get_data(as_text=True)
    assert "from: active" not in client.get("/hr/audit?until=2000-01-01").get_data(as_text=True)
    assert client.get("/hr/audit?programme=nope").status_code == 404


def test_an_empty_programmes_proposal_warns_in_the_readers_language(
    hr: FlaskClient, web_tandem: Tandem
) -> None:
    """A programme nobody has joined yet: the warning was an English f-string on a Polish
    page ("no opted-in mentees: nobody can be matched")."""
    from kb.services import programmes

    with web_tandem.sessions() as s:
        programmes.upsert_programme(s, slug="autumn", name="Autumn round")
        for person in s.scalars(select(Person)):
            if "mentee" in person.roles:
                person.opt_in = False  # nobody to match (with no enrolments, opted-in count)
        s.commit()
    hr.post("/language", data={"lang": "pl", "next": "/"})
    page = hr.get("/hr/programmes/autumn/proposal").get_data(as_text=True)
    assert "brak zgłoszonych mentees: nie można nikogo dobrać" in page
    assert "nobody can be matched" not in page
