"""Feedback in the browser: a mentee rates goals at kickoff, both members answer the
mid-programme questionnaire in their language, HR configures questions; the partner never
sees the other's answers."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from kb.models import Feedback, Programme, SurveyQuestion, join_list
from kb.services import people

HR = "hania@example.com"
MENTOR, MENTEE = "anna@example.com", "bogdan@example.com"


def set_dates(tandem, starts: dt.date, ends: dt.date) -> int:
    """Dates for "spring" and goals for the mentee; the Anna/Bogdan pair's id."""
    with tandem.sessions() as s:
        programme = s.scalar(select(Programme).where(Programme.slug == "spring"))
        programme.starts, programme.ends = starts, ends
        programme.competences = join_list(["generative-ai", "esg"])
        bogdan = people.find_person(s, MENTEE)
        bogdan.goals = join_list(["Excel pivot tables", "Prompting"])
        pair = next(p for p in programme.pairs if p.mentee_id == bogdan.id)
        s.commit()
        return pair.id


def test_mentee_rates_goals_at_kickoff(client, login, web_tandem) -> None:
    today = dt.date.today()
    pair_id = set_dates(web_tandem, today + dt.timedelta(days=7), today + dt.timedelta(days=120))
    login(client, MENTEE)
    listing = client.get("/programmes/feedback").get_data(as_text=True)
    assert "Kickoff: your level on each goal" in listing
    page = client.get(f"/programmes/pairs/{pair_id}/feedback/kickoff").get_data(as_text=True)
    assert "Excel pivot tables" in page and "generative-ai" in page
    done = client.post(
        f"/programmes/pairs/{pair_id}/feedback/kickoff",
        data={"level-0": "2", "area-0": "generative-ai", "level-1": ""},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "1 answer(s) saved" in done
    with web_tandem.sessions() as s:
        row = s.scalar(select(Feedback))
        assert (row.goal, row.rating, row.area, row.round) == (
            "Excel pivot tables",
            2,
            "generative-ai",
            "kickoff",
        )


def test_questionnaire_in_polish_and_the_partner_sees_nothing(client, login, web_tandem, app):
    today = dt.date.today()
    pair_id = set_dates(web_tandem, today - dt.timedelta(days=60), today + dt.timedelta(days=60))
    login(client, MENTOR)
    client.post("/language", data={"lang": "pl", "next": "/"})
    page = client.get(f"/programmes/pairs/{pair_id}/feedback/mid").get_data(as_text=True)
    assert "Ankieta w połowie programu" in page
    with web_tandem.sessions() as s:
        ids = {q.builtin: q.id for q in s.scalars(select(SurveyQuestion))}
    answer = "Kwiatostan answer about pacing"
    client.post(
        f"/programmes/pairs/{pair_id}/feedback/mid",
        data={f"q{ids['mid_useful']}": "5", f"q{ids['mid_better']}": answer},
    )
    again = client.get(f"/programmes/pairs/{pair_id}/feedback/mid").get_data(as_text=True)
    assert answer in again  # the author sees their own answer
    partner = app.test_client()
    login(partner, MENTEE)
    theirs = partner.get(f"/programmes/pairs/{pair_id}/feedback/mid").get_data(as_text=True)
    assert "How useful are the sessions" in theirs and answer not in theirs
    assert 'value="5" checked' not in theirs
    hr = app.test_client()
    login(hr, HR)
    config = hr.get("/hr/programmes/spring/questions").get_data(as_text=True)
    assert "How useful are the sessions" in config and answer not in config
    outsider = app.test_client()
    login(outsider, "celina@example.com")
    assert outsider.get(f"/programmes/pairs/{pair_id}/feedback/mid").status_code == 404


def test_hr_adds_removes_questions_and_sets_the_group_size(client, login, web_tandem) -> None:
    login(client, HR)
    page = client.post("/hr/programmes/spring/questions", data={
        "action": "add", "round": "end", "kind": "text", "audience": "mentee",
        "text_en": "Which tool do you use most now?", "text_pl": "Jakiego narzędzia używasz?",
    }, follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "Which tool do you use most now?" in page
    with web_tandem.sessions() as s:
        added = s.scalar(select(SurveyQuestion).where(SurveyQuestion.builtin == ""))
        assert (added.round, added.audience, added.text_pl) == (
            "end",
            "mentee",
            "Jakiego narzędzia używasz?",
        )
    client.post("/hr/programmes/spring/questions", data={"action": "off", "question": added.id})
    client.post(
        "/hr/programmes/spring/questions",
        data={"action": "settings", "min_group": "6", "survey_weeks": "2"},
    )
    bad = client.post(
        "/hr/programmes/spring/questions",
        data={"action": "settings", "min_group": "1", "survey_weeks": "2"},
        follow_redirects=True,
    )
    assert "3 to 100" in bad.get_data(as_text=True)
    with web_tandem.sessions() as s:
        programme = s.scalar(select(Programme).where(Programme.slug == "spring"))
        assert (programme.min_group, programme.survey_weeks, programme.anonymous_answers) == (
            6,
            2,
            False,
        )
        assert s.get(SurveyQuestion, added.id).active is False


def test_skill_areas_are_named_in_the_readers_language(client, login, web_tandem) -> None:
    """The kickoff form and HR's evaluation name the programme's competences ("Generatywna
    AI"), not their stored codes ("generative-ai")."""
    today = dt.date.today()
    pair_id = set_dates(web_tandem, today - dt.timedelta(days=1), today + dt.timedelta(days=120))
    login(client, MENTEE)
    client.post("/language", data={"lang": "pl", "next": "/"})
    page = client.get(f"/programmes/pairs/{pair_id}/feedback/kickoff").get_data(as_text=True)
    assert '<option value="generative-ai">Generatywna AI</option>' in page
    assert ">generative-ai<" not in page
    client.post("/logout")
    login(client, HR)
    client.post("/language", data={"lang": "pl", "next": "/"})
    evaluation = client.get("/hr/programmes/spring/evaluation").get_data(as_text=True)
    assert "Kompetencje: Generatywna AI, ESG" in evaluation
