"""The evaluation in the browser: HR reads it (English and Polish), with SVG charts, a CSV per
table and a printable view; none of them carries a note's text, title or tags, or one
person's answers."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from kb.models import AuditEntry, Feedback, Programme, SessionNote, SurveyQuestion
from kb.services import evaluation, feedback, pairs, people
from kb.views.evaluation import cell_text

HR = "hania@example.com"
SECRET = "Zyxelgate"  # in the library's private note
TABLES = ("participation", "retention", "sessions", "sessions_per_pair", "goal_progress",
          "goal_progress_by_goal", "responses", "ratings", "free_text", "produced", "guides",
          "topics", "gaps")  # fmt: skip


def seed(tandem) -> None:
    """Answers from both pairs of "spring" (closed long ago) and a note tag to leak."""
    with tandem.sessions() as s:
        programme = s.scalar(select(Programme).where(Programme.slug == "spring"))
        programme.min_group = 3
        feedback.ensure_questions(s, programme)
        best = s.scalar(select(SurveyQuestion).where(SurveyQuestion.builtin == "end_best"))
        useful = s.scalar(select(SurveyQuestion).where(SurveyQuestion.builtin == "end_useful"))
        for pair in programme.pairs:
            for author, role in ((pair.mentor, "mentor"), (pair.mentee, "mentee")):
                s.add(
                    Feedback(
                        pair_id=pair.id,
                        author_id=author.id,
                        programme_id=programme.id,
                        round="end",
                        role=role,
                        question_id=useful.id,
                        rating=4,
                    )
                )
                s.add(
                    Feedback(
                        pair_id=pair.id,
                        author_id=author.id,
                        programme_id=programme.id,
                        round="end",
                        role=role,
                        question_id=best.id,
                        comment=f"Learning together ({author.id})",
                    )
                )
        for note in s.scalars(select(SessionNote)):
            note.tags = "zyxeltag"
        s.commit()


def test_hr_reads_the_evaluation_without_any_note_content(client, login, web_tandem) -> None:
    seed(web_tandem)
    login(client, HR)
    page = client.get("/hr/programmes/spring/evaluation")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Evaluation: Spring round" in text and "<svg" in text and "<script" not in text
    assert "Questionnaire ratings (1 to 5)" in text and "How useful was the programme" in text
    assert "Learning together" in text and "Bogdan Mentee" not in text.split("Free-text")[1]
    printable = client.get("/hr/programmes/spring/evaluation/print").get_data(as_text=True)
    assert "Printable view" not in printable and "Learning together" in printable
    exports = []
    for table in TABLES:
        answer = client.get(f"/hr/programmes/spring/evaluation/{table}.csv")
        assert answer.status_code == 200 and answer.mimetype == "text/csv", table
        exports.append(answer.get_data(as_text=True))
    ratings = list(csv.reader(io.StringIO(exports[TABLES.index("ratings")].lstrip("\ufeff"))))
    assert ratings[0][:5] == ["Questionnaire", "Question", "Who", "Answers", "Mean"]
    assert ratings[1][2:5] == ["everyone", "4", "4.0"]
    for body in [text, printable, *exports]:
        for leak in (SECRET, "Budget session", "zyxeltag", "Quokkaword", "Prompting session"):
            assert leak not in body
    assert client.get("/hr/programmes/spring/evaluation/secret.csv").status_code == 404
    with web_tandem.sessions() as s:
        actions = s.scalars(select(AuditEntry.action)).all()
        assert actions.count("evaluation.export") == len(TABLES)


def test_evaluation_in_polish_and_for_others(client, login, web_tandem, app) -> None:
    seed(web_tandem)
    login(client, HR)
    client.post("/language", data={"lang": "pl", "next": "/"})
    text = client.get("/hr/programmes/spring/evaluation").get_data(as_text=True)
    assert "Ocena programu: Spring round" in text and "Udział" in text
    assert "Na ile przydatny był dla Ciebie program" in text
    exported = client.get("/hr/programmes/spring/evaluation/ratings.csv").get_data(as_text=True)
    assert "Ankieta" in exported.splitlines()[0]
    mentor = app.test_client()
    login(mentor, "anna@example.com")
    assert mentor.get("/hr/programmes/spring/evaluation").status_code == 403
    assert mentor.get("/hr/programmes/spring/evaluation/ratings.csv").status_code == 403


def test_goal_progress_names_skill_areas_in_the_readers_language(
    app, client, login, web_tandem
) -> None:
    """Four mentees rated a goal at kickoff and at the end: three in "generative-ai", one in
    "esg", too few to show alone (groups of three), so it joins the smallest shown group.
    The row names the competences and keeps the merge; never the codes."""
    with web_tandem.sessions() as s:
        programme = s.scalar(select(Programme).where(Programme.slug == "spring"))
        for n in (1, 2):
            mentor, _ = people.upsert_person(s, people.PersonRecord(
                name=f"Extra Mentor {n}", email=f"mentor{n}@example.com", roles=("mentor",),
            ))  # fmt: skip
            mentee, _ = people.upsert_person(s, people.PersonRecord(
                name=f"Extra Mentee {n}", email=f"mentee{n}@example.com", roles=("mentee",),
            ))  # fmt: skip
            pairs.add_pair(s, programme, mentor, mentee, status="active")
        s.flush()
        programme.min_group = 3
        areas = ("generative-ai", "generative-ai", "generative-ai", "esg")
        for pair, area in zip(programme.pairs, areas, strict=True):
            for round_, rating in (("kickoff", 2), ("end", 4)):
                s.add(Feedback(pair_id=pair.id, author_id=pair.mentee_id, role="mentee",
                               programme_id=programme.id, round=round_, goal="Prompting",
                               rating=rating, area=area))  # fmt: skip
        s.commit()
    login(client, HR)
    english = client.get("/hr/programmes/spring/evaluation/goal_progress.csv")
    rows = list(csv.reader(io.StringIO(english.get_data(as_text=True).lstrip("\ufeff"))))
    assert [row[:2] for row in rows[1:]] == [
        ["Generative AI + Other", "4"],
        ["All skill areas", "4"],
    ]
    client.post("/language", data={"lang": "pl", "next": "/"})
    polish = client.get("/hr/programmes/spring/evaluation").get_data(as_text=True)
    table = polish.split("Postęp w celach według obszaru", 1)[1].split("</table>")[0]
    assert "Generatywna AI + Inne" in table and "generative-ai" not in table
    # a skill area HR added itself is shown as they wrote it
    with app.test_request_context(headers={"Accept-Language": "pl"}):
        assert cell_text(evaluation.SkillArea("Excel + Other")) == "Excel + Inne"
