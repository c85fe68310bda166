"""Every health flag rule, as pure functions with the clock passed in."""

from __future__ import annotations

import datetime as dt

from kb.services import health

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
