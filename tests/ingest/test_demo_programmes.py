"""The demo shows a programme in every phase: one just created with invitations pending, one
running (planned, held, cancelled and missed sessions, flagged pairs, a mid-term survey under
way) and one finished with a complete evaluation. Loading the demo twice adds nothing."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from ingest.demo import DEMO_DIR, load_demo
from ingest.demo_programmes import DEMO_TODAY
from kb.models import Enrolment, Feedback, Meeting, Pair, Programme
from kb.services import evaluation, health
from kb.services.programmes import get_programme

pytestmark = pytest.mark.skipif(
    not (DEMO_DIR / "people.csv").exists(), reason="the demo library is not there"
)


def test_demo_programmes_in_every_phase(sessions, embedders) -> None:
    load_demo(sessions, embedders)
    with sessions() as s:
        new = get_programme(s, "rm-2027-spring")
        assert new.status == "planned" and new.open_for_applications
        statuses = Counter(s.scalars(select(Enrolment.status).where(
            Enrolment.programme_id == new.id)))  # fmt: skip
        assert statuses["invited"] >= 3 and statuses["agreed"] == 2
        assert s.scalar(select(func.count(Pair.id)).where(Pair.programme_id == new.id)) == 0

        running = get_programme(s, "rm-2026-autumn")
        kinds = Counter(
            (status, starts_at.date() < DEMO_TODAY)
            for status, starts_at in s.execute(
                select(Meeting.status, Meeting.starts_at).join(Pair)
                .where(Pair.programme_id == running.id))
        )  # fmt: skip
        assert kinds[("held", True)] > 50 and kinds[("cancelled", True)] > 0
        assert kinds[("planned", False)] > 0 and kinds[("planned", True)] > 0  # missed
        flags = Counter(f for row in health.programme_health(s, running, DEMO_TODAY)
                        for f in row.flags)  # fmt: skip
        assert flags["no_session"] == 2 and flags["paused_long"] == 1
        assert flags["low_feedback"] == 1
        found = evaluation.evaluate(s, running, DEMO_TODAY)
        responses = found.table("responses").rows
        assert responses[0][1] == "open" and responses[0][3] >= 5  # the mid-term survey
        assert found.table("ratings").rows == []  # results once it has closed
        assert found.table("topics").rows and found.table("sessions").rows

        finished = get_programme(s, "rm-2026-spring")
        done = evaluation.evaluate(s, finished, DEMO_TODAY)
        for name in ("participation", "sessions", "goal_progress", "ratings", "free_text"):
            assert done.table(name).rows, name
        whos = {row[2] for row in done.table("ratings").rows}
        assert whos == {"everyone", "mentors", "mentees"}
        counted = s.scalar(select(func.count(Feedback.id)))
    load_demo(sessions, embedders)
    with sessions() as s:
        assert s.scalar(select(func.count(Feedback.id))) == counted
        assert s.scalar(select(func.count(Programme.id)).where(
            Programme.slug == "rm-2027-spring")) == 1  # fmt: skip
