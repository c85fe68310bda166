"""The programme evaluation: every table, and the privacy rules. No figure over people comes
from fewer than the minimum group; an attacker with every figure on the page (and a late
answer) cannot single out one person's rating; notes are only counted."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy.orm import Session

from kb.errors import ValidationError
from kb.models import Feedback, Meeting, Pair, Person, Programme, SurveyQuestion, join_list
from kb.services import evaluation, feedback
from kb.services.pairs import add_pair
from kb.services.people import person_record, upsert_people
from kb.services.programmes import upsert_programme

STARTS, ENDS = dt.date(2025, 3, 1), dt.date(2025, 8, 31)
TODAY = dt.date(2025, 10, 15)  # every round closed
X_NAME = "Xavier Lonely"


def build(session: Session, mentees: int = 6, areas: list[str] | None = None) -> dict:
    """A finished programme: ``mentees`` pairs (one mentor each), X the last mentee."""
    rows = []
    for i in range(mentees):
        rows.append(
            {
                "name": f"Mentor {i}",
                "email": f"mentor{i}@example.com",
                "roles": "mentor",
                "capacity": "1",
            }
        )
        name = X_NAME if i == mentees - 1 else f"Mentee {i}"
        rows.append(
            {
                "name": name,
                "email": f"mentee{i}@example.com",
                "roles": "mentee",
                "goals": "Prompting;ESG reports",
            }
        )
    rows.append({"name": "Hanna HR", "email": "hr@example.com", "roles": "hr"})
    people = [p for p, _ in upsert_people(session, [person_record(r) for r in rows])]
    programme, _ = upsert_programme(
        session, slug="done", name="Done round", starts=STARTS, ends=ENDS, status="finished"
    )
    programme.competences = join_list(["generative-ai", "esg"])
    pairs = [
        add_pair(
            session,
            programme,
            people[2 * i],
            people[2 * i + 1],
            status="ended",
            started=STARTS + dt.timedelta(days=7),
            ended=ENDS,
        )
        for i in range(mentees)
    ]
    feedback.ensure_questions(session, programme)
    session.flush()
    areas = areas or ["generative-ai"] * (mentees - 1) + ["esg"]
    for i, pair in enumerate(pairs):
        rating_before, rating_after = (1, 5) if i == mentees - 1 else (2, 3)
        for round_, value in (("kickoff", rating_before), ("end", rating_after)):
            session.add(
                Feedback(
                    pair_id=pair.id,
                    author_id=pair.mentee_id,
                    programme_id=programme.id,
                    round=round_,
                    role="mentee",
                    goal="Prompting",
                    area=areas[i],
                    rating=value,
                )
            )
        for n in range(3):
            session.add(
                Meeting(
                    pair_id=pair.id,
                    uid=str(uuid.uuid4()),
                    starts_at=dt.datetime(2025, 4 + n, 10, 9),
                    minutes=60,
                    status="held",
                    tags="prompting;excel" if n else "esg",
                )
            )
    session.flush()
    return {"programme": programme, "pairs": pairs, "people": people}


def answer(session: Session, pair: Pair, person: Person, builtin: str, rating=None, text=""):
    question = session.query(SurveyQuestion).filter_by(builtin=builtin).one()
    role = "mentor" if pair.mentor_id == person.id else "mentee"
    session.add(
        Feedback(
            pair_id=pair.id,
            author_id=person.id,
            programme_id=pair.programme_id,
            round=question.round,
            role=role,
            question_id=question.id,
            rating=rating,
            comment=text,
        )
    )


def people_counts(found: evaluation.Evaluation) -> list[tuple[str, int]]:
    """(table, group size) of every row that is a figure over people."""
    out = []
    for name, column in (
        ("goal_progress", 1),
        ("goal_progress_by_goal", 1),
        ("ratings", 3),
        ("topics", 1),
    ):
        for row in found.table(name).rows:
            out.append((name, int(row[column])))
    return out


def test_safe_groups_merge_small_groups_and_cover_everyone() -> None:
    groups = {"a": {i: [1.0] for i in range(6)}, "b": {10: [2.0], 11: [3.0]}, "c": {20: [4.0]}}
    shown = evaluation.safe_groups(groups, 5)
    assert [(label, len(m)) for label, m in shown] == [("a + Other", 9)]
    groups["b"].update({12: [1.0], 13: [1.0], 14: [1.0]})
    shown = evaluation.safe_groups(groups, 5)
    assert [(label, len(m)) for label, m in shown] == [("a", 6), ("b + Other", 6)]
    assert evaluation.safe_groups({"a": {1: [1.0], 2: [2.0]}}, 5) == []


def test_every_table_of_a_finished_programme(session: Session) -> None:
    world = build(session)
    pair = world["pairs"][0]
    answer(session, pair, pair.mentee, "end_best", text="=HYPERLINK(evil)")
    found = evaluation.evaluate(session, world["programme"], TODAY)
    names = [t.name for t in found.tables]
    assert names == [
        "participation",
        "retention",
        "sessions",
        "sessions_per_pair",
        "goal_progress",
        "goal_progress_by_goal",
        "responses",
        "ratings",
        "free_text",
        "produced",
        "guides",
        "topics",
        "gaps",
    ]
    assert dict(found.table("retention").rows)["Completed"] == 6
    months = {row[0]: row[1] for row in found.table("sessions").rows}
    assert months["2025-04"] == 6 and months["2025-06"] == 6 and months["2025-08"] == 0
    assert found.table("sessions_per_pair").rows[-1] == [3, 6]
    assert [row[0] for row in found.table("topics").rows] == ["excel", "prompting", "esg"]
    assert dict(found.headline)["Sessions held"] == 18


def test_one_persons_rating_cannot_be_singled_out(session: Session) -> None:
    """X is the only mentee in the "esg" area and the only mentor who answered a question,
    and answers once more after the round closed. Nothing on the page gives X's rating."""
    world = build(session)
    programme, pairs = world["programme"], world["pairs"]
    x_pair = pairs[-1]
    for i, pair in enumerate(pairs):
        answer(session, pair, pair.mentee, "end_useful", rating=5 if i == len(pairs) - 1 else 3)
    answer(session, x_pair, x_pair.mentor, "end_useful", rating=1)  # the only mentor
    for pair in pairs[:4]:  # four answers only: hidden
        answer(session, pair, pair.mentee, "end_learned", rating=4)
    session.flush()
    found = evaluation.evaluate(session, programme, TODAY)
    k = found.min_group
    assert k == 5
    # 1. no figure over people comes from a group smaller than k
    counts = people_counts(found)
    assert counts and all(size >= k for _, size in counts), counts
    # 2. X's area is not shown alone; groups cover every mentee, so the overall row minus
    # the shown groups leaves nobody (differencing finds no remainder)
    areas = found.table("goal_progress").rows
    labels = [row[0] for row in areas]
    assert "esg" not in labels and "generative-ai + Other" in labels
    merged = labels[labels.index("generative-ai + Other")]
    assert isinstance(merged, evaluation.SkillArea) and merged.parts == ["generative-ai", "Other"]
    overall = next(row for row in areas if row[0] == "All skill areas")
    shown_goals = sum(int(row[2]) for row in areas if row is not overall)
    assert int(overall[2]) - shown_goals == 0
    # 3. the role split is hidden (one mentor answered): only "everyone"
    useful = [row for row in found.table("ratings").rows if "useful" in row[1]]
    assert [row[2] for row in useful] == ["everyone"]
    assert useful[0][3] == 7
    # 4. the question four people answered is hidden
    assert not any("learn" in row[1] for row in found.table("ratings").rows)
    # 5. a late answer is refused, so a second view cannot differ by one person
    with pytest.raises(ValidationError, match="not open"):
        feedback.save_answers(session, pairs[0], pairs[0].mentor, "end",
                              {useful[0][1].question.id: "5"}, TODAY)  # fmt: skip
    again = evaluation.evaluate(session, programme, TODAY)
    assert again.table("ratings").rows == found.table("ratings").rows
    # 6. the minimum cannot be lowered below 3
    with pytest.raises(ValidationError):
        feedback.set_settings(
            session,
            programme,
            world["people"][-1],
            min_group=1,
            anonymous_answers=True,
            survey_weeks=3,
        )


def test_results_wait_for_the_round_to_close(session: Session) -> None:
    world = build(session)
    pairs = world["pairs"]
    for pair in pairs:
        answer(session, pair, pair.mentee, "mid_useful", rating=4)
    session.flush()
    middle = feedback.middle(world["programme"])
    during = evaluation.evaluate(session, world["programme"], middle + dt.timedelta(days=3))
    assert during.table("ratings").rows == []
    assert during.table("goal_progress").rows == []
    assert "once the end round has closed" in during.table("goal_progress").note_text
    responses = during.table("responses").rows
    assert responses[0][1] == "open" and responses[0][4] == 6  # how many answered: a count


def test_free_text_without_names_only_for_large_enough_groups(session: Session) -> None:
    world = build(session)
    programme, pairs = world["programme"], world["pairs"]
    for i, pair in enumerate(pairs):
        answer(session, pair, pair.mentee, "end_best", text=f"Answer {i}")
    for pair in pairs[:3]:
        answer(session, pair, pair.mentee, "end_change", text="Fewer forms")
    session.flush()
    table = evaluation.evaluate(session, programme, TODAY).table("free_text")
    assert "Name" not in table.columns
    assert [row[2] for row in table.rows] == [f"Answer {i}" for i in range(6)]
    assert not any(X_NAME in str(cell) for row in table.rows for cell in row)
    programme.anonymous_answers = False
    table = evaluation.evaluate(session, programme, TODAY).table("free_text")
    assert table.columns[-1] == "Name" and len(table.rows) == 9
    assert X_NAME in [row[3] for row in table.rows]


def test_small_programme_shows_no_rating_at_all(session: Session) -> None:
    world = build(session, mentees=3, areas=["esg"] * 3)
    for pair in world["pairs"]:
        answer(session, pair, pair.mentee, "end_useful", rating=2)
    found = evaluation.evaluate(session, world["programme"], TODAY)
    assert people_counts(found) == []
    assert found.table("ratings").note_params["hidden"] == 1
    assert "Fewer than 5 mentees" in found.table("goal_progress").note_text


def test_programme_with_minimum_three(session: Session) -> None:
    world = build(session, mentees=3, areas=["esg"] * 3)
    programme: Programme = world["programme"]
    programme.min_group = 3
    found = evaluation.evaluate(session, programme, TODAY)
    assert [row[0] for row in found.table("goal_progress").rows] == ["esg", "All skill areas"]


def test_one_table_alone_has_the_same_rows(session: Session) -> None:
    world = build(session)
    for pair in world["pairs"]:
        answer(session, pair, pair.mentee, "end_useful", rating=4)
    full = evaluation.evaluate(session, world["programme"], TODAY)
    for name in evaluation.TABLE_NAMES:
        alone = evaluation.evaluate(session, world["programme"], TODAY, only=name)
        assert alone.table(name).rows == full.table(name).rows, name
