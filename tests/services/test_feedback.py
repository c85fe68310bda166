"""Feedback: rounds open and close by the programme's dates, mentees rate their goals at
kickoff and at the end, both roles answer questionnaires HR configures; a closed round takes
no answer, and nobody answers for someone else."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.models import AuditEntry, Feedback, join_list
from kb.services import feedback
from tests.services.conftest import World

TODAY = dt.date(2025, 6, 1)


def dated(world: World, starts: dt.date, ends: dt.date, session: Session) -> None:
    world.programme.starts, world.programme.ends = starts, ends
    world.programme.competences = join_list(["generative-ai", "esg"])
    world.mentee.goals = join_list(["Prompting for reports", "Reading ESG disclosures"])
    session.flush()


def test_round_windows_follow_the_programme_dates(session: Session, world: World) -> None:
    dated(world, dt.date(2025, 3, 1), dt.date(2025, 8, 31), session)
    mid = feedback.middle(world.programme)
    assert mid == dt.date(2025, 5, 31)
    assert feedback.round_state(world.programme, "kickoff", dt.date(2025, 2, 14)) == "upcoming"
    assert feedback.round_state(world.programme, "kickoff", dt.date(2025, 2, 15)) == "open"
    assert feedback.round_state(world.programme, "kickoff", mid) == "closed"
    assert feedback.round_state(world.programme, "mid", mid) == "open"
    assert feedback.round_state(world.programme, "mid", mid + dt.timedelta(weeks=3)) == "open"
    assert feedback.round_state(world.programme, "mid", mid + dt.timedelta(days=22)) == "closed"
    assert feedback.round_state(world.programme, "end", dt.date(2025, 8, 16)) != "open"
    assert feedback.round_state(world.programme, "end", dt.date(2025, 8, 17)) == "open"
    world.programme.survey_weeks = 1
    assert feedback.round_state(world.programme, "end", dt.date(2025, 9, 8)) == "closed"
    world.programme.starts = None
    assert feedback.round_state(world.programme, "mid", mid) == "undated"


def test_mentee_rates_goals_at_kickoff_and_end(session: Session, world: World) -> None:
    dated(world, dt.date(2025, 3, 1), dt.date(2025, 8, 31), session)
    goal, other = "Prompting for reports", "Reading ESG disclosures"
    kickoff = dt.date(2025, 3, 10)
    saved = feedback.save_self_ratings(
        session, world.pair, world.mentee, "kickoff", {goal: 2, other: None},
        {goal: "generative-ai"}, kickoff,
    )  # fmt: skip
    assert saved == 1
    # again within the window replaces, never duplicates
    feedback.save_self_ratings(session, world.pair, world.mentee, "kickoff", {goal: 1},
                               {goal: "generative-ai"}, kickoff)  # fmt: skip
    rows = feedback.self_ratings(session, world.pair, world.mentee)
    assert [(r.goal, r.rating, r.area) for r in rows["kickoff"].values()] == [
        (goal, 1, "generative-ai")
    ]
    with pytest.raises(ValidationError, match="not open"):  # end round not open yet
        feedback.save_self_ratings(session, world.pair, world.mentee, "end", {goal: 4}, {},
                                   kickoff)  # fmt: skip
    end = dt.date(2025, 9, 1)
    feedback.save_self_ratings(session, world.pair, world.mentee, "end", {goal: 4}, {}, end)
    rows = feedback.self_ratings(session, world.pair, world.mentee)
    assert (rows["end"][goal].rating, rows["end"][goal].area) == (4, "generative-ai")
    with pytest.raises(PermissionDenied):
        feedback.save_self_ratings(session, world.pair, world.mentor, "end", {goal: 4}, {}, end)
    with pytest.raises(ValidationError, match="own goals"):
        feedback.save_self_ratings(session, world.pair, world.mentee, "end", {"Juggling": 3},
                                   {}, end)  # fmt: skip
    with pytest.raises(ValidationError, match="1 to 5"):
        feedback.save_self_ratings(session, world.pair, world.mentee, "end", {goal: 6}, {}, end)
    with pytest.raises(ValidationError, match="skill area"):
        feedback.save_self_ratings(session, world.pair, world.mentee, "end", {goal: 3},
                                   {goal: "knitting"}, end)  # fmt: skip


def test_questionnaire_answers_closed_rounds_and_audiences(session: Session, world: World) -> None:
    dated(world, dt.date(2025, 3, 1), dt.date(2025, 8, 31), session)
    asked = feedback.questions(session, world.programme, "mid")
    assert [q.builtin for q in asked] == ["mid_useful", "mid_rhythm", "mid_open", "mid_better"]
    assert feedback.questions(session, world.programme, "mid") == asked  # stored once
    rating, text = asked[0], asked[3]
    stored = feedback.save_answers(session, world.pair, world.mentor, "mid",
                                   {rating.id: "4", text.id: "More examples. ", asked[1].id: ""},
                                   TODAY)  # fmt: skip
    assert stored == 2
    mine = feedback.answers(session, world.pair, world.mentor, "mid")
    assert (mine[rating.id].rating, mine[text.id].comment, mine[text.id].rating) == (
        4,
        "More examples.",
        None,
    )
    assert mine[rating.id].role == "mentor"
    # the partner's view of the same pair holds nothing of the mentor's answers
    assert feedback.answers(session, world.pair, world.mentee, "mid") == {}
    with pytest.raises(ValidationError, match="1 to 5"):
        feedback.save_answers(session, world.pair, world.mentor, "mid", {rating.id: "9"}, TODAY)
    late = dt.date(2025, 7, 1)
    with pytest.raises(ValidationError, match="not open"):
        feedback.save_answers(session, world.pair, world.mentee, "mid", {rating.id: "1"}, late)
    # a question only for mentees is not in the mentor's questionnaire
    own = feedback.add_question(
        session,
        world.programme,
        world.hr,
        round_="mid",
        kind="rating",
        audience="mentee",
        texts={"pl": "Czy tempo jest dobre?"},
    )
    with pytest.raises(ValidationError, match="not in your questionnaire"):
        feedback.save_answers(session, world.pair, world.mentor, "mid", {own.id: "3"}, TODAY)
    feedback.save_answers(session, world.pair, world.mentee, "mid", {own.id: "3"}, TODAY)
    assert feedback.question_text(own, "ru") == "Czy tempo jest dobre?"  # falls back
    assert feedback.question_text(own, "pl") == "Czy tempo jest dobre?"
    assert feedback.question_text(rating, "pl", lambda s: f"PL {s}").startswith("PL How useful")
    with pytest.raises(PermissionDenied):
        feedback.add_question(
            session,
            world.programme,
            world.mentor,
            round_="mid",
            kind="rating",
            audience="both",
            texts={"en": "Hi?"},
        )
    with pytest.raises(ValidationError, match="at least one language"):
        feedback.add_question(
            session,
            world.programme,
            world.hr,
            round_="end",
            kind="text",
            audience="both",
            texts={"en": "  "},
        )
    feedback.set_question_active(session, own, False, world.hr)
    assert own not in feedback.questions(session, world.programme, "mid")
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["survey.question_add", "survey.question_off"]
    # the answer given to a question HR removed stays (only aggregates ever show it)
    assert session.scalar(select(Feedback).where(Feedback.question_id == own.id)) is not None


def test_outsiders_and_settings(session: Session, world: World) -> None:
    with pytest.raises(NotFound):
        feedback.member_pair(session, world.pair.id, world.outsider)
    feedback.set_settings(
        session, world.programme, world.hr, min_group=7, anonymous_answers=False, survey_weeks=2
    )
    assert (world.programme.min_group, world.programme.anonymous_answers) == (7, False)
    with pytest.raises(ValidationError, match="3 to 100"):
        feedback.set_settings(
            session, world.programme, world.hr, min_group=2, anonymous_answers=True, survey_weeks=2
        )
    dated(world, dt.date(2025, 3, 1), dt.date(2025, 8, 31), session)
    tasks = feedback.open_tasks(session, world.mentee, dt.date(2025, 3, 10))
    assert [(t.round, t.kind, t.done) for t in tasks] == [("kickoff", "goals", False)]
    tasks = feedback.open_tasks(session, world.mentor, TODAY)
    assert [(t.round, t.kind) for t in tasks] == [("mid", "questionnaire")]
