"""The demo's programmes in every phase (issue 17), written after the demo library is imported:

- ``rm-2027-spring``: just created, open for applications, invitations pending (two people
  applied, one declined);
- ``rm-2026-autumn`` (running): enrolments, accepted pair agreements, planned, held, cancelled
  and missed sessions with topic tags, two pairs with no session for weeks and a long pause
  (health flags), mentees' kickoff goal levels, and the mid-term questionnaire under way;
- ``rm-2026-spring`` (finished): every session, both goal ratings and both questionnaires
  answered by all six participants, so its evaluation page is complete. It is a small cohort
  (three pairs), so HR set its minimum group size to 3, the lowest allowed (the default is 5).

Everything is deterministic (fixed dates, no randomness) and written once: a second load finds
``rm-2027-spring`` and leaves everything alone. No note is written here; answers are short
texts in each participant's language.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.models import (
    Enrolment,
    Feedback,
    Meeting,
    Pair,
    Person,
    Programme,
    SurveyQuestion,
    join_list,
)
from kb.services import feedback

NEW = "rm-2027-spring"
RUNNING = "rm-2026-autumn"
FINISHED = "rm-2026-spring"
DEMO_TODAY = dt.date(2026, 12, 5)  # the day the demo's story is told on
TOPICS = ("generative-ai", "prompting", "excel", "teams", "social-media", "hybrid-work", "esg")
# Pairs (by mentor) whose sessions stopped in October (their last note is from 19 November):
# "no session for 2 weeks" on the health page; and a pair whose mid-term ratings are low.
QUIET = ("daria.morozova@example.com", "liam.oconnor@example.com")
LOW = ("alina.fedorova@example.com",)
AREA_WORDS = {
    "generative-ai": ("ai", "copilot", "chatgpt", "prompt", "gpt", "ии", "нейросет"),
    "social-media": ("linkedin", "social", "media", "społeczn", "соцсет"),
    "hybrid-work": ("teams", "hybrid", "remote", "zdaln", "hybryd", "удален", "гибрид",
                    "dashboard"),
    "esg": ("esg", "sustainab", "climate", "zrównoważ", "устойчив"),
    "generational-culture": ("young", "młodsz", "pokoleni", "молод", "поколен"),
}  # fmt: skip
ANSWERS = {
    "en": ("Short practical tasks from my own work helped most.",
           "More time between sessions to practise.",
           "Learning together across generations."),
    "pl": ("Najbardziej pomogły krótkie praktyczne zadania z mojej pracy.",
           "Więcej czasu między sesjami na ćwiczenia.",
           "Wspólna nauka ponad pokoleniami."),
    "ru": ("Больше всего помогли короткие практические задачи из моей работы.",
           "Больше времени между встречами на практику.",
           "Совместное обучение разных поколений."),
}  # fmt: skip


def _uid(*parts: object) -> str:
    return "demo-" + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


def _area(goal: str, areas: list[str]) -> str:
    lowered = goal.lower()
    for area in areas:
        if any(word in lowered for word in AREA_WORDS.get(area, ())):
            return area
    return areas[len(goal) % len(areas)] if areas else ""


def _language(person: Person) -> str:
    langs = person.language_list
    return langs[0] if langs and langs[0] in ANSWERS else "en"


def seed_programmes(session: Session) -> bool:
    """Write the demo's programme phases once; False when they are there already."""
    if session.scalar(select(Programme.id).where(Programme.slug == NEW)) is not None:
        return False
    running = session.scalar(select(Programme).where(Programme.slug == RUNNING))
    finished = session.scalar(select(Programme).where(Programme.slug == FINISHED))
    if running is None or finished is None:
        return False
    people = {p.email: p for p in session.scalars(select(Person))}
    _new_programme(session, people)
    _running(session, running)
    _finished(session, finished)
    session.flush()
    return True


def _describe(programme: Programme, description: str) -> None:
    programme.description = description
    programme.competences = join_list(
        ["generative-ai", "social-media", "hybrid-work", "esg", "generational-culture"]
    )
    programme.languages = join_list(["pl", "ru", "en"])
    programme.rhythm_weeks = 2


def _new_programme(session: Session, people: dict[str, Person]) -> None:
    programme = Programme(
        slug=NEW, name="Reverse mentoring spring 2027", starts=dt.date(2027, 3, 1),
        ends=dt.date(2027, 7, 30), status="planned", open_for_applications=True,
    )  # fmt: skip
    _describe(
        programme,
        "Seniors learn generative AI, social media and hybrid work from "
        "younger colleagues; mentors learn how the company really works.",
    )
    session.add(programme)
    session.flush()
    invited = [
        ("helen.carter@example.com", "mentee", "invited", ""),
        ("andrzej.lewandowski@example.com", "mentee", "invited", ""),
        ("richard.hale@example.com", "mentee", "declined", ""),
        ("jakub.kaminski@example.com", "mentor", "invited", ""),
        ("zuzanna.kaczmarek@example.com", "mentor", "invited", ""),
        ("margaret.hollis@example.com", "mentee", "agreed",
         "I want to use AI tools in board work myself, not only hear about them."),
        ("liam.oconnor@example.com", "mentor", "agreed",
         "I enjoyed mentoring in the autumn and would like to continue."),
    ]  # fmt: skip
    for email, role, status, motivation in invited:
        person = people.get(email)
        if person is None or not person.has_role(role):
            continue
        session.add(Enrolment(
            programme_id=programme.id, person_id=person.id, role=role, status=status,
            source="applied" if motivation else "invited", motivation=motivation,
            expertise=person.expertise if role == "mentor" and motivation else "",
            ready=role == "mentor" and bool(motivation),
        ))  # fmt: skip


def _enrol_pairs(session: Session, programme: Programme, prepared: dt.date) -> list[Pair]:
    pairs = list(session.scalars(select(Pair).where(Pair.programme_id == programme.id)
                                 .order_by(Pair.id)))  # fmt: skip
    seen: set[int] = set()
    for pair in pairs:
        if pair.started is None:
            continue
        for person, role in ((pair.mentor, "mentor"), (pair.mentee, "mentee")):
            if person.id in seen:
                continue
            seen.add(person.id)
            session.add(Enrolment(
                programme_id=programme.id, person_id=person.id, role=role, status="enrolled",
                source="invited", prepared_on=prepared, ready=role == "mentor",
                expertise=person.expertise if role == "mentor" else "",
            ))  # fmt: skip
        agreed = dt.datetime.combine(pair.started - dt.timedelta(days=3), dt.time(10))
        pair.mentor_agreed_at = pair.mentor_agreed_at or agreed
        pair.mentee_agreed_at = pair.mentee_agreed_at or agreed + dt.timedelta(hours=2)
    return [p for p in pairs if p.started is not None]


def _meetings(
    session: Session, pair: Pair, index: int, last: dt.date, planned_until: dt.date | None
) -> None:
    """A session every two weeks from the pair's start: held up to ``last`` (every fifth
    cancelled), then planned ones up to ``planned_until`` (those already past are missed)."""
    assert pair.started is not None
    day, n = pair.started + dt.timedelta(days=2), 0
    stop = planned_until or last
    while day <= stop:
        status = "held" if day <= last else "planned"
        if status == "held" and (n + index) % 5 == 4:
            status = "cancelled"
        tags = [TOPICS[(index + n) % len(TOPICS)], TOPICS[0] if n % 2 == 0 else TOPICS[1]]
        session.add(Meeting(
            pair_id=pair.id, starts_at=dt.datetime.combine(day, dt.time(9 + index % 6)),
            minutes=60, tags=join_list(list(dict.fromkeys(tags))), status=status,
            uid=_uid(pair.id, day), created_by_id=pair.mentor_id,
        ))  # fmt: skip
        day += dt.timedelta(days=14)
        n += 1


def _self_ratings(
    session: Session, programme: Programme, pair: Pair, index: int, rounds: tuple[str, ...],
    on: dict[str, dt.date],
) -> None:  # fmt: skip
    areas = programme.competence_list
    for g, goal in enumerate(feedback.goals_of(pair.mentee)):
        before = 1 + (index + g) % 3
        for round_ in rounds:
            level = before if round_ == "kickoff" else min(5, before + 1 + (index + g) % 2)
            session.add(Feedback(
                pair_id=pair.id, author_id=pair.mentee_id, programme_id=programme.id,
                round=round_, role="mentee", goal=goal, area=_area(goal, areas), rating=level,
                created_at=dt.datetime.combine(on[round_], dt.time(12)),
            ))  # fmt: skip


def _questionnaire(
    session: Session, programme: Programme, pair: Pair, index: int, round_: str, on: dt.date
) -> None:
    asked = list(session.scalars(select(SurveyQuestion).where(
        SurveyQuestion.programme_id == programme.id, SurveyQuestion.round == round_,
        SurveyQuestion.active.is_(True)).order_by(SurveyQuestion.position)))  # fmt: skip
    low = pair.mentor.email in LOW
    for person, role in ((pair.mentor, "mentor"), (pair.mentee, "mentee")):
        texts = ANSWERS[_language(person)]
        for q, question in enumerate(asked):
            rating = (
                (1 + q % 2 if low else 3 + (index + q + (role == "mentor")) % 3)
                if (question.kind == "rating")
                else None
            )
            comment = "" if rating is not None else texts[(index + q) % len(texts)]
            session.add(Feedback(
                pair_id=pair.id, author_id=person.id, programme_id=programme.id, round=round_,
                role=role, question_id=question.id, rating=rating, comment=comment,
                created_at=dt.datetime.combine(on, dt.time(15)),
            ))  # fmt: skip


def _running(session: Session, programme: Programme) -> None:
    _describe(
        programme,
        "Our first company-wide round: generative AI, social media, hybrid "
        "work, ESG and working across generations.",
    )
    programme.quiet_weeks = 2  # the rhythm is a session every two weeks
    pairs = _enrol_pairs(session, programme, dt.date(2026, 8, 20))
    feedback.ensure_questions(session, programme)
    middle = feedback.middle(programme) or DEMO_TODAY
    for index, pair in enumerate(pairs):
        if pair.status == "ended" and pair.ended is not None:
            last, planned = pair.ended, None
        elif pair.status == "paused":
            last, planned = dt.date(2026, 10, 6), None
        elif pair.mentor.email in QUIET:
            last, planned = dt.date(2026, 10, 14), dt.date(2026, 10, 28)  # one missed, then none
        else:
            last, planned = DEMO_TODAY - dt.timedelta(days=1), dt.date(2027, 1, 20)
        _meetings(session, pair, index, last, planned)
        _self_ratings(session, programme, pair, index, ("kickoff",),
                      {"kickoff": pair.started or dt.date(2026, 9, 8)})  # fmt: skip
        # the mid-term survey is under way: most pairs answered already
        if pair.status == "active" and (index % 3 != 2 or pair.mentor.email in LOW):
            _questionnaire(session, programme, pair, index, "mid", middle + dt.timedelta(days=2))


def _finished(session: Session, programme: Programme) -> None:
    _describe(programme, "A pilot round: seniors learned generative AI and hybrid work tools.")
    programme.min_group = 3  # a pilot of three pairs; the default is 5
    pairs = _enrol_pairs(session, programme, dt.date(2026, 2, 20))
    feedback.ensure_questions(session, programme)
    middle = feedback.middle(programme) or dt.date(2026, 5, 15)
    assert programme.ends is not None
    for index, pair in enumerate(pairs):
        _meetings(session, pair, index, pair.ended or programme.ends, None)
        _self_ratings(session, programme, pair, index, ("kickoff", "end"),
                      {"kickoff": pair.started or programme.ends,
                       "end": programme.ends})  # fmt: skip
        _questionnaire(session, programme, pair, index, "mid", middle + dt.timedelta(days=3))
        _questionnaire(session, programme, pair, index, "end", programme.ends)
