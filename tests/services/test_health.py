"""Every health flag rule, as pure functions with the clock passed in."""

from __future__ import annotations

import datetime as dt

import pytest

from kb.errors import ValidationError
from kb.models import Feedback, Meeting, PairChange, SurveyQuestion
from kb.services import health
from kb.services.notes import create_note
from kb.services.pairs import add_pair

TODAY = dt.date(2026, 12, 5)


def days_ago(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


def test_no_session_counts_from_last_session_else_start() -> None:
    assert health.no_session("active", days_ago(100), days_ago(29), TODAY, 4)
    assert not health.no_session("active", days_ago(100), days_ago(28), TODAY, 4)  # exactly 4 weeks
    assert health.no_session("active", days_ago(29), None, TODAY, 4)  # never met since start
    assert not health.no_session("active", days_ago(10), None, TODAY, 4)
    assert not health.no_session("active", None, None, TODAY, 4)  # not started: nothing to miss
    assert not health.no_session("paused", days_ago(100), None, TODAY, 4)  # paused has its own flag
    assert health.no_session("active", days_ago(100), days_ago(15), TODAY, 2)  # per programme N


def test_paused_long() -> None:
    assert health.paused_long("paused", days_ago(36), TODAY, 5)
    assert not health.paused_long("paused", days_ago(35), TODAY, 5)
    assert not health.paused_long("active", days_ago(100), TODAY, 5)
    assert not health.paused_long("paused", None, TODAY, 5)


def test_over_capacity() -> None:
    assert health.over_capacity(2, 1)
    assert not health.over_capacity(1, 1)
    assert health.over_capacity(1, 0)


def test_no_note_after_the_first_month() -> None:
    assert health.no_note("active", days_ago(31), 0, TODAY, 30)
    assert not health.no_note("active", days_ago(30), 0, TODAY, 30)
    assert not health.no_note("active", days_ago(90), 1, TODAY, 30)
    assert not health.no_note("ended", days_ago(90), 0, TODAY, 30)
    assert not health.no_note("active", None, 0, TODAY, 30)


def test_low_feedback_is_a_mean_below_the_threshold() -> None:
    assert health.low_feedback([2, 2, 3], 2.5)  # mean 2.33
    assert not health.low_feedback([2, 3], 2.5)  # mean 2.5
    assert not health.low_feedback([], 2.5)  # no ratings, no flag
    assert health.low_feedback([1], 2.5)


def test_flags_for_combines_the_rules_in_order() -> None:
    limits = health.Thresholds(quiet_weeks=3, pause_weeks=4)
    quiet = health.PairFacts(
        status="active", started=days_ago(60), last_session=days_ago(22), note_count=0,
        mentor_running=2, mentor_capacity=1, ratings=(1.0, 2.0),
    )  # fmt: skip
    assert health.flags_for(quiet, limits, TODAY) == [
        "no_session", "over_capacity", "no_note", "low_feedback",
    ]  # fmt: skip
    fine = health.PairFacts(
        status="active", started=days_ago(60), last_session=days_ago(7), note_count=3,
        mentor_running=1, mentor_capacity=1, ratings=(4.0, 5.0),
    )  # fmt: skip
    assert health.flags_for(fine, limits, TODAY) == []
    paused = health.PairFacts(status="paused", started=days_ago(90), paused_since=days_ago(40),
                              note_count=2)  # fmt: skip
    assert health.flags_for(paused, limits, TODAY) == ["paused_long"]
    ended = health.PairFacts(status="ended", started=days_ago(200), mentor_running=5)
    assert health.flags_for(ended, limits, TODAY) == []  # an ended pair holds no place


def held(session, pair, day: dt.date, status: str = "held") -> None:  # type: ignore[no-untyped-def]
    session.add(Meeting(pair_id=pair.id, starts_at=dt.datetime.combine(day, dt.time(9)),
                        status=status, uid=f"m-{pair.id}-{day}-{status}@test"))  # fmt: skip


def flags_by_pair(session, programme) -> dict[int, list[str]]:  # type: ignore[no-untyped-def]
    rows = health.programme_health(session, programme, TODAY)
    return {row.pair.id: row.flags for row in rows}


def test_each_rule_from_the_database(session, world, embedders) -> None:  # type: ignore[no-untyped-def]
    """The numbers behind every flag come from the tables: meetings, notes, pair changes,
    the mentor's other pairs and the Feedback table."""
    quiet, busy = world.pair, world.pair2
    quiet.started = busy.started = days_ago(60)
    held(session, quiet, days_ago(35))
    held(session, quiet, days_ago(3), status="cancelled")  # a cancelled one is no session
    held(session, busy, days_ago(5))
    held(session, busy, TODAY + dt.timedelta(days=7), status="planned")
    create_note(session, busy, world.mentor2, title="t", body_md="b", language="pl",
                embedders=embedders, session_date=days_ago(5))  # fmt: skip
    session.commit()
    found = flags_by_pair(session, world.programme)
    assert found[quiet.id] == ["no_session", "no_note"]  # last held 5 weeks ago, no note at all
    assert found[busy.id] == []
    (row,) = [r for r in health.programme_health(session, world.programme, TODAY)
              if r.pair.id == busy.id]  # fmt: skip
    assert (row.planned, row.held, row.cancelled, row.note_count) == (1, 1, 0, 1)
    assert row.last_session == days_ago(5)

    world.programme.quiet_weeks = 6  # N is the programme's
    session.commit()
    assert flags_by_pair(session, world.programme)[quiet.id] == ["no_note"]

    # Max takes a second mentee, then his capacity drops to one: both his pairs flag.
    world.mentor2.capacity = 2
    extra = add_pair(session, world.programme, world.mentor2, world.outsider, status="active")
    extra.started = days_ago(10)
    world.mentor2.capacity = 1
    session.commit()
    found = flags_by_pair(session, world.programme)
    assert found[busy.id] == ["over_capacity"] and found[extra.id] == ["over_capacity"]
    extra.status = "ended"
    session.commit()
    assert flags_by_pair(session, world.programme)[busy.id] == []

    # Paused: the date comes from the pair's change log.
    busy.status = "paused"
    session.add(PairChange(pair_id=busy.id, what="status active → paused",
                           at=dt.datetime.combine(days_ago(28), dt.time(12))))  # fmt: skip
    session.commit()
    assert flags_by_pair(session, world.programme)[busy.id] == []  # 4 weeks, not more
    world.programme.pause_weeks = 3  # now 28 days is more
    session.commit()
    assert flags_by_pair(session, world.programme)[busy.id] == ["paused_long"]

    # Low feedback scores: the mean of the pair's questionnaire ratings in the Feedback table;
    # a mentee's own (low) level on a goal at kickoff and a text answer do not count.
    question = SurveyQuestion(programme_id=world.programme.id, round="mid")
    session.add(question)
    session.flush()
    session.add(Feedback(pair_id=quiet.id, author_id=world.mentee.id, rating=1, goal="AI",
                         round="kickoff"))  # fmt: skip
    session.add(Feedback(pair_id=quiet.id, author_id=world.mentee.id, question_id=question.id,
                         rating=None, comment="fine"))  # fmt: skip
    session.commit()
    assert "low_feedback" not in flags_by_pair(session, world.programme)[quiet.id]
    for rating in (2, 3):
        session.add(Feedback(pair_id=quiet.id, author_id=world.mentee.id, rating=rating,
                             question_id=question.id))  # fmt: skip
    session.commit()
    assert "low_feedback" not in flags_by_pair(session, world.programme)[quiet.id]  # mean 2.5
    session.add(Feedback(pair_id=quiet.id, author_id=world.mentor.id, rating=1,
                         question_id=question.id))  # fmt: skip
    session.commit()
    assert flags_by_pair(session, world.programme)[quiet.id] == ["no_note", "low_feedback"]


def test_every_threshold_is_the_programmes_own(session, world, embedders) -> None:  # type: ignore[no-untyped-def]
    """Each flag with an N reads it from the programme: changing the setting changes the
    outcome (the defaults are the former constants: 4 weeks, 4 weeks, 30 days, 2.5)."""
    assert health.thresholds_of(world.programme) == health.Thresholds(4, 4, 30, 2.5)
    pair = world.pair
    pair.started = days_ago(40)
    held(session, pair, days_ago(20))
    session.commit()
    assert flags_by_pair(session, world.programme)[pair.id] == ["no_note"]  # 40 days > 30

    # no session for N weeks: 20 days is under 4 weeks, over 2
    world.programme.quiet_weeks = 2
    session.commit()
    assert flags_by_pair(session, world.programme)[pair.id] == ["no_session", "no_note"]
    world.programme.quiet_weeks = 4

    # no note after the first month: the programme says how long that "month" is
    world.programme.first_month_days = 45
    session.commit()
    assert flags_by_pair(session, world.programme)[pair.id] == []
    world.programme.first_month_days = 39
    session.commit()
    assert flags_by_pair(session, world.programme)[pair.id] == ["no_note"]
    world.programme.first_month_days = 60

    # low feedback: a mean of 3.0 is fine at 2.5, low at 3.5
    question = SurveyQuestion(programme_id=world.programme.id, round="mid")
    session.add(question)
    session.flush()
    for rating in (2, 4):
        session.add(Feedback(pair_id=pair.id, author_id=world.mentee.id, rating=rating,
                             question_id=question.id))  # fmt: skip
    session.commit()
    assert flags_by_pair(session, world.programme)[pair.id] == []
    world.programme.low_rating = 3.5
    session.commit()
    assert flags_by_pair(session, world.programme)[pair.id] == ["low_feedback"]

    # paused for more than N weeks: 3 weeks paused is fine at 4, flagged at 2
    pair.status = "paused"
    session.add(PairChange(pair_id=pair.id, what="status active → paused",
                           at=dt.datetime.combine(days_ago(21), dt.time(12))))  # fmt: skip
    world.programme.low_rating = 2.5
    session.commit()
    assert flags_by_pair(session, world.programme)[pair.id] == []
    world.programme.pause_weeks = 2
    session.commit()
    assert flags_by_pair(session, world.programme)[pair.id] == ["paused_long"]


def test_thresholds_are_checked_and_parsed() -> None:
    assert health.parse_thresholds({"quiet_weeks": "3", "low_rating": "3,5", "pause_weeks": ""}) \
        == {"quiet_weeks": 3, "low_rating": 3.5}  # fmt: skip
    for bad in (
        {"quiet_weeks": "0"},
        {"pause_weeks": "53"},
        {"first_month_days": "0"},
        {"first_month_days": "367"},
        {"low_rating": "0.5"},
        {"low_rating": "5.5"},
        {"low_rating": "nan"},
        {"quiet_weeks": "2.5"},
        {"first_month_days": "-3"},
    ):
        with pytest.raises(ValidationError) as caught:
            health.parse_thresholds(bad)
        assert caught.value.field == next(iter(bad))
