"""Background matching jobs: computed once per data state, in a thread, with progress."""

from __future__ import annotations

import datetime as dt

import match_factories as f
import pytest
from sqlalchemy import func, select

from kb.errors import NotFound
from kb.models import MatchingJob, MatchingVector, utcnow
from matching.jobs import JobRunner, job_key
from matching.service import PoolCache


@pytest.fixture
def world(session, embedders):
    f.person(session, "hr@x.com", roles="hr")
    f.person(session, "boss@x.com", roles="mentee", goals="automate weekly reports in Excel")
    f.person(
        session,
        "young@x.com",
        roles="mentor",
        capacity=1,
        expertise="Excel formulas;automating reports",
    )
    f.programme(session, "spring")
    session.commit()
    f.store_vectors(session, embedders)


def jobs(session) -> int:
    return session.scalar(select(func.count(MatchingJob.id)))


def test_a_job_runs_in_a_thread_and_its_answer_is_reused(
    sessions, session, embedders, world
) -> None:
    runner = JobRunner(sessions, embedders, PoolCache())
    state = runner.request("proposal", "spring", wait=60)
    assert state.done, state
    assert [(p["mentor"], p["mentee"]) for p in state.result["pairs"]] == [
        ("young@x.com", "boss@x.com")
    ]
    assert runner.request("proposal", "spring").id == state.id  # same data: same answer
    gaps = runner.request("gaps", "spring", wait=60)
    assert gaps.done and gaps.result == []
    assert jobs(session) == 2


def test_a_change_of_data_starts_a_new_job_and_drops_the_old(
    sessions, session, embedders, world
) -> None:
    runner = JobRunner(sessions, embedders, inline=True)
    first = runner.request("proposal", "spring")
    f.person(session, "new@x.com", roles="mentee", goals="Excel formulas")
    session.commit()
    second = runner.request("proposal", "spring")
    assert second.id != first.id and second.done
    assert jobs(session) == 1


def test_a_failure_is_recorded_on_the_job(sessions, session, embedders, world) -> None:
    session.execute(MatchingVector.__table__.delete())  # matching cannot work without them
    session.commit()
    runner = JobRunner(sessions, embedders, inline=True)
    state = runner.request("proposal", "spring")
    assert state.status == "failed" and "no matching vectors" in state.error


def test_a_job_left_by_a_dead_worker_is_taken_over(sessions, session, embedders, world) -> None:
    key = job_key(session, "proposal", "spring")
    session.add(
        MatchingJob(
            kind="proposal",
            programme="spring",
            key=key,
            status="running",
            updated_at=utcnow() - dt.timedelta(hours=1),
        )
    )
    session.commit()
    state = JobRunner(sessions, embedders, inline=True).request("proposal", "spring")
    assert state.done and jobs(session) == 1


def test_unknown_programme_or_kind(sessions, embedders, world) -> None:
    runner = JobRunner(sessions, embedders, inline=True)
    with pytest.raises(NotFound):
        runner.request("proposal", "nope")
    with pytest.raises(ValueError, match="unknown job kind"):
        runner.request("poem", "spring")
