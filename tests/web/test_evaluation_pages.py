"""The evaluation in the browser: HR reads it (English and Polish), with SVG charts, a CSV per
table and a printable view; none of them carries a note's text, title or tags, or one
person's answers."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from kb.models import AuditEntry, Feedback, Programme, SessionNote, SurveyQuestion
from kb.services import feedback

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
