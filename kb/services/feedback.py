"""Feedback (issue 17, stage 7): a mentee's own level on each goal at kickoff and at the end,
and the mid- and end-of-programme questionnaires for both roles (ratings and free text, in
the reader's language; HR configures the questions).

Answers go to HR only, and HR sees them only as aggregates (kb.services.evaluation): the
partner never sees them, and nobody but the author ever reads one person's answers here.

Each round has a window computed from the programme's dates: kickoff from two weeks before the
start to the middle; the mid-programme questionnaire from the middle for ``survey_weeks``
weeks; the end round from two weeks before the end to ``survey_weeks`` weeks after it. A
closed round takes no more answers, so its results, once shown, never change (nobody can
work out a late answer from the difference). Writes flush, never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.i18n import N_
from kb.models import (
    FEEDBACK_ROUNDS,
    QUESTION_AUDIENCES,
    QUESTION_KINDS,
    Feedback,
    Pair,
    Person,
    Programme,
    SurveyQuestion,
    split_list,
    utcnow,
)
from kb.services import audit

SCALE = (1, 2, 3, 4, 5)
SURVEY_ROUNDS = ("mid", "end")
LEAD_DAYS = 14  # kickoff and end rounds open this long before the start and the end
MAX_ANSWER = 2000
MAX_QUESTION = 300
MAX_QUESTIONS = 20  # per round
# Pairs whose members give feedback: running ones, and ended ones for the end round.
GIVING = ("active", "paused", "ended")


@dataclass(frozen=True)
class DefaultQuestion:
    key: str
    round: str
    kind: str
    text: str
    audience: str = "both"


DEFAULT_QUESTIONS: tuple[DefaultQuestion, ...] = (
    DefaultQuestion("mid_useful", "mid", "rating",
                    N_("How useful are the sessions for you so far?")),
    DefaultQuestion("mid_rhythm", "mid", "rating",
                    N_("How well does the rhythm of the sessions work for you?")),
    DefaultQuestion("mid_open", "mid", "rating",
                    N_("How freely can you speak with your partner?")),
    DefaultQuestion("mid_better", "mid", "text", N_("What would make the sessions better?")),
    DefaultQuestion("end_useful", "end", "rating",
                    N_("How useful was the programme for you overall?")),
    DefaultQuestion("end_learned", "end", "rating",
                    N_("How much did you learn from your partner?")),
    DefaultQuestion("end_recommend", "end", "rating",
                    N_("How likely are you to recommend the programme to a colleague?")),
    DefaultQuestion("end_best", "end", "text", N_("What was the most valuable part?")),
    DefaultQuestion("end_change", "end", "text", N_("What should we change next time?")),
)  # fmt: skip
DEFAULT_TEXT = {q.key: q.text for q in DEFAULT_QUESTIONS}


# --- rounds -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    opens: dt.date
    closes: dt.date  # the last day answers are taken

    def state(self, today: dt.date) -> str:
        if today < self.opens:
            return "upcoming"
        return "open" if today <= self.closes else "closed"


def middle(programme: Programme) -> dt.date | None:
    if programme.starts is None or programme.ends is None:
        return None
    return programme.starts + (programme.ends - programme.starts) // 2


def window(programme: Programme, round_: str) -> Window | None:
    """When ``round_`` takes answers (None: the programme has no dates yet)."""
    mid = middle(programme)
    if mid is None or programme.starts is None or programme.ends is None:
        return None
    weeks = dt.timedelta(weeks=max(programme.survey_weeks or 3, 1))
    lead = dt.timedelta(days=LEAD_DAYS)
    if round_ == "kickoff":
        return Window(programme.starts - lead, mid - dt.timedelta(days=1))
    if round_ == "mid":
        return Window(mid, mid + weeks)
    if round_ == "end":
        return Window(programme.ends - lead, programme.ends + weeks)
    raise ValidationError(N_("Unknown feedback round %(round)s."), field="round", round=round_)


def round_state(programme: Programme, round_: str, today: dt.date) -> str:
    """upcoming, open, closed, or undated (the programme has no dates)."""
    found = window(programme, round_)
    return "undated" if found is None else found.state(today)


def results_visible(programme: Programme, round_: str, today: dt.date) -> bool:
    """A round's results are shown once it closed (they cannot change any more)."""
    return round_state(programme, round_, today) == "closed"


# --- questions ----------------------------------------------------------------------------------


def questions(
    session: Session, programme: Programme, round_: str | None = None, *, active_only: bool = True
) -> list[SurveyQuestion]:
    """The programme's questions (the defaults are stored the first time they are needed)."""
    ensure_questions(session, programme)
    query = select(SurveyQuestion).where(SurveyQuestion.programme_id == programme.id)
    if round_ is not None:
        query = query.where(SurveyQuestion.round == round_)
    if active_only:
        query = query.where(SurveyQuestion.active.is_(True))
    rows = session.scalars(query.order_by(SurveyQuestion.round, SurveyQuestion.position,
                                          SurveyQuestion.id))  # fmt: skip
    return list(rows)


def ensure_questions(session: Session, programme: Programme) -> None:
    exists = session.scalar(
        select(SurveyQuestion.id).where(SurveyQuestion.programme_id == programme.id).limit(1)
    )
    if exists is not None:
        return
    for position, default in enumerate(DEFAULT_QUESTIONS):
        session.add(SurveyQuestion(
            programme_id=programme.id, round=default.round, audience=default.audience,
            kind=default.kind, position=position, builtin=default.key, text_en=default.text,
            text_pl="", text_ru="", active=True,
        ))  # fmt: skip
    session.flush()


def question_text(
    question: SurveyQuestion, locale: str, translate: Callable[[str], str] = lambda s: s
) -> str:
    """The question in ``locale``: a default one through the catalogs, HR's own in the
    language HR wrote for it (else English, else any language given)."""
    if question.builtin and question.builtin in DEFAULT_TEXT:
        return translate(DEFAULT_TEXT[question.builtin])
    texts = {"en": question.text_en, "pl": question.text_pl, "ru": question.text_ru}
    return texts.get(locale) or question.text_en or question.text_pl or question.text_ru


def for_role(question: SurveyQuestion, role: str) -> bool:
    return question.audience in ("both", role)


def _hr(user: Person | None) -> Person:
    if user is None or not user.has_role("hr"):
        raise PermissionDenied(N_("Only HR can change the questionnaires."))
    return user


def add_question(
    session: Session, programme: Programme, hr_user: Person | None, *, round_: str, kind: str,
    audience: str, texts: Mapping[str, str],
) -> SurveyQuestion:  # fmt: skip
    """HR adds a question to the mid or end questionnaire, in one or more languages."""
    hr = _hr(hr_user)
    if round_ not in SURVEY_ROUNDS:
        raise ValidationError(N_("Choose the mid or the end questionnaire."), field="round")
    if kind not in QUESTION_KINDS:
        raise ValidationError(N_("Choose a rating or a free-text question."), field="kind")
    if audience not in QUESTION_AUDIENCES:
        raise ValidationError(N_("Choose who answers the question."), field="audience")
    clean = {lang: " ".join((texts.get(lang) or "").split()) for lang in ("en", "pl", "ru")}
    if not any(clean.values()):
        raise ValidationError(N_("Write the question in at least one language."), field="text")
    if any(len(text) > MAX_QUESTION for text in clean.values()):
        raise ValidationError(
            N_("A question is at most %(count)s characters."), field="text", count=MAX_QUESTION
        )
    present = questions(session, programme, round_)
    if len(present) >= MAX_QUESTIONS:
        raise ValidationError(
            N_("At most %(count)s questions per questionnaire."), field="text", count=MAX_QUESTIONS
        )
    question = SurveyQuestion(
        programme_id=programme.id, round=round_, kind=kind, audience=audience,
        position=max((q.position for q in present), default=0) + 1, builtin="",
        text_en=clean["en"], text_pl=clean["pl"], text_ru=clean["ru"], active=True,
    )  # fmt: skip
    session.add(question)
    session.flush()
    audit.record(
        session,
        hr,
        "survey.question_add",
        "survey_question",
        question.id,
        programme.id,
        {"round": round_, "kind": kind, "audience": audience},
    )
    return question


def set_question_active(
    session: Session, question: SurveyQuestion, active: bool, hr_user: Person | None
) -> None:
    """HR removes a question from (or puts it back into) its questionnaire; answers given
    stay (a question is never deleted)."""
    hr = _hr(hr_user)
    if question.active == active:
        return
    question.active = active
    session.flush()
    audit.record(
        session,
        hr,
        "survey.question_on" if active else "survey.question_off",
        "survey_question",
        question.id,
        question.programme_id,
        {"round": question.round},
    )


def set_settings(
    session: Session, programme: Programme, hr_user: Person | None, *, min_group: int,
    anonymous_answers: bool, survey_weeks: int,
) -> None:  # fmt: skip
    """HR's evaluation settings: the minimum group size (at least 3), whether free text is
    shown without names, and how many weeks a questionnaire stays open."""
    hr = _hr(hr_user)
    if not 3 <= min_group <= 100:
        raise ValidationError(N_("The minimum group size is 3 to 100 people."), field="min_group")
    if not 1 <= survey_weeks <= 12:
        raise ValidationError(N_("A questionnaire stays open 1 to 12 weeks."), field="survey_weeks")
    before = (programme.min_group, programme.anonymous_answers, programme.survey_weeks)
    programme.min_group = min_group
    programme.anonymous_answers = anonymous_answers
    programme.survey_weeks = survey_weeks
    session.flush()
    if before != (min_group, anonymous_answers, survey_weeks):
        audit.record(session, hr, "programme.evaluation_settings", "programme", programme.id,
                     programme.id, {"min_group": min_group, "anonymous": anonymous_answers,
                                    "survey_weeks": survey_weeks})  # fmt: skip


# --- a participant's answers --------------------------------------------------------------------


def member_pair(session: Session, pair_id: int, person: Person) -> Pair:
    pair = session.get(Pair, pair_id)
    if pair is None or not pair.has_member(person.id):
        raise NotFound(N_("No such pair."))
    return pair


def role_in(pair: Pair, person: Person) -> str:
    return "mentor" if pair.mentor_id == person.id else "mentee"


def _check_open(pair: Pair, round_: str, today: dt.date) -> None:
    if pair.status not in GIVING or (pair.status == "ended" and round_ != "end"):
        raise ValidationError(N_("This pair does not give feedback now."), field="round")
    state = round_state(pair.programme, round_, today)
    if state != "open":
        raise ValidationError(N_("This questionnaire is not open now."), field="round")


def goals_of(person: Person) -> list[str]:
    return [goal[:300] for goal in split_list(person.goals)]


def self_ratings(session: Session, pair: Pair, person: Person) -> dict[str, dict[str, Feedback]]:
    """The person's own goal ratings in the programme: {round: {goal: row}}."""
    rows = session.scalars(select(Feedback).where(
        Feedback.programme_id == pair.programme_id, Feedback.author_id == person.id,
        Feedback.question_id.is_(None), Feedback.goal != ""))  # fmt: skip
    out: dict[str, dict[str, Feedback]] = {"kickoff": {}, "end": {}}
    for row in rows:
        out.setdefault(row.round, {})[row.goal] = row
    return out


def save_self_ratings(
    session: Session, pair: Pair, person: Person, round_: str,
    levels: Mapping[str, int | None], areas: Mapping[str, str], today: dt.date,
) -> int:  # fmt: skip
    """A mentee rates their current level (1 to 5) on each goal at kickoff or at the end, and
    names each goal's skill area (one of the programme's competences) at kickoff. Returns how
    many goals were rated. Only the mentee of the pair; again within the window replaces."""
    if role_in(pair, person) != "mentee":
        raise PermissionDenied(N_("Only the mentee rates their goals."))
    if round_ not in ("kickoff", "end"):
        raise ValidationError(N_("Unknown feedback round %(round)s."), field="round", round=round_)
    _check_open(pair, round_, today)
    goals = goals_of(person)
    allowed_areas = set(pair.programme.competence_list)
    existing = self_ratings(session, pair, person)
    saved = 0
    for goal in goals:
        level = levels.get(goal)
        if level is None:
            continue
        if level not in SCALE:
            raise ValidationError(N_("A level is a whole number from 1 to 5."), field="level")
        area = (areas.get(goal) or "").strip()
        if round_ == "end" and goal in existing["kickoff"]:
            area = area or existing["kickoff"][goal].area
        if area and area not in allowed_areas:
            raise ValidationError(N_("Unknown skill area %(area)s."), field="area", area=area)
        row = existing.get(round_, {}).get(goal)
        if row is None:
            row = Feedback(pair_id=pair.id, author_id=person.id, programme_id=pair.programme_id,
                           round=round_, role="mentee", goal=goal)  # fmt: skip
            session.add(row)
        else:
            row.updated_at = utcnow()
        row.rating, row.area = level, area
        saved += 1
    unknown = set(levels) - set(goals)
    if unknown:
        raise ValidationError(N_("Rate only your own goals."), field="goal")
    session.flush()
    return saved


def answers(session: Session, pair: Pair, person: Person, round_: str) -> dict[int, Feedback]:
    """The person's own answers to the round's questions for this pair: {question id: row}."""
    rows = session.scalars(select(Feedback).join(SurveyQuestion).where(
        Feedback.pair_id == pair.id, Feedback.author_id == person.id,
        SurveyQuestion.round == round_))  # fmt: skip
    return {row.question_id: row for row in rows if row.question_id is not None}


def save_answers(
    session: Session, pair: Pair, person: Person, round_: str,
    given: Mapping[int, str], today: dt.date,
) -> int:  # fmt: skip
    """A pair member answers the mid or end questionnaire (ratings 1 to 5, free text). Empty
    answers are skipped (nothing is compulsory). Returns how many answers were stored."""
    if round_ not in SURVEY_ROUNDS:
        raise ValidationError(N_("Unknown feedback round %(round)s."), field="round", round=round_)
    _check_open(pair, round_, today)
    role = role_in(pair, person)
    asked = {q.id: q for q in questions(session, pair.programme, round_) if for_role(q, role)}
    if set(given) - set(asked):
        raise ValidationError(N_("That question is not in your questionnaire."), field="question")
    existing = answers(session, pair, person, round_)
    stored = 0
    for question_id, raw in given.items():
        question, value = asked[question_id], (raw or "").strip()
        if not value:
            continue
        rating: int | None = None
        text = ""
        if question.kind == "rating":
            if value not in {str(n) for n in SCALE}:
                raise ValidationError(
                    N_("A rating is a whole number from 1 to 5."), field=f"q{question_id}"
                )
            rating = int(value)
        else:
            if len(value) > MAX_ANSWER:
                raise ValidationError(
                    N_("An answer is at most %(count)s characters."),
                    field=f"q{question_id}",
                    count=MAX_ANSWER,
                )
            if "\x00" in value:
                raise ValidationError(
                    N_("The answer holds a control character."), field=f"q{question_id}"
                )
            text = value
        row = existing.get(question_id)
        if row is None:
            row = Feedback(pair_id=pair.id, author_id=person.id, programme_id=pair.programme_id,
                           round=round_, role=role, question_id=question_id)  # fmt: skip
            session.add(row)
        else:
            row.updated_at = utcnow()
        row.rating, row.comment = rating, text
        stored += 1
    session.flush()
    return stored


@dataclass(frozen=True)
class Task:
    """Feedback a person can give now for one pair."""

    pair: Pair
    round: str
    kind: str  # goals | questionnaire
    done: bool


def open_tasks(session: Session, person: Person, today: dt.date) -> list[Task]:
    """What the person can fill in today, over their pairs (answered or not)."""
    pairs = session.scalars(select(Pair).where(
        (Pair.mentor_id == person.id) | (Pair.mentee_id == person.id),
        Pair.status.in_(GIVING)).order_by(Pair.id))  # fmt: skip
    tasks = []
    for pair in pairs:
        for round_ in FEEDBACK_ROUNDS:
            if pair.status == "ended" and round_ != "end":
                continue
            if round_state(pair.programme, round_, today) != "open":
                continue
            if (
                round_ in ("kickoff", "end")
                and role_in(pair, person) == "mentee"
                and goals_of(person)
            ):
                rated = self_ratings(session, pair, person).get(round_, {})
                tasks.append(Task(pair, round_, "goals", bool(rated)))
            if round_ in SURVEY_ROUNDS:
                tasks.append(
                    Task(
                        pair, round_, "questionnaire", bool(answers(session, pair, person, round_))
                    )
                )
    return tasks
