"""A programme's evaluation for HR (issue 17, stage 7): participation and retention, sessions
per pair over time, goal progress before and after, questionnaire ratings and free text,
guides and insights produced, topics covered, goals no mentor covered.

Every table is plain data (``Table``: columns and rows) so the page, its charts, the CSV
export, the printable view and ``tandem report`` show the same figures.

Privacy:
- HR never sees a note: nothing here reads a note's title, body or tags (session notes are
  only counted).
- Any figure over people (ratings, goal levels, free text, topics) comes from a group of at
  least the programme's ``min_group`` distinct people (pairs, for topics). Smaller groups are
  merged into one "other" group; when that is still too small it joins the smallest shown
  group, so every breakdown covers its people in groups of at least ``min_group``, and a
  total minus the shown groups never isolates anyone. A breakdown by role is shown only when
  both roles reach the size. Results of a round appear only once it closed (it takes no
  answer after that), so nobody can work one late answer out of two views.
- Free text is listed without names when the programme says so (then only for questions at
  least ``min_group`` people answered, in alphabetical order, never in answer order).

Labels in cells are ``Label`` strings and skill areas ``SkillArea`` codes: the web layer
translates them, the CLI keeps English and the codes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb.i18n import N_
from kb.models import (
    Enrolment,
    Feedback,
    Guide,
    MatchingJob,
    Meeting,
    Pair,
    Person,
    Programme,
    SessionNote,
    SharedInsight,
    SurveyQuestion,
    split_list,
)
from kb.services import feedback


class Label(str):
    """A cell or heading to translate when shown (an ``N_``-marked English text)."""

    __slots__ = ()


class SkillArea(str):
    """A skill-area cell: a competence code, or a small group merged into a shown one
    ("generative-ai + Other", see :func:`safe_groups`); the web layer names each part."""

    __slots__ = ()

    @property
    def parts(self) -> list[str]:
        """The competence codes and "Other" the group is made of."""
        return self.split(" + ")


Cell = str | int | float | None


@dataclass
class Table:
    name: str  # file name of its CSV export
    title: str  # N_-marked
    columns: list[str]  # N_-marked
    rows: list[list[Cell]] = field(default_factory=list)
    note: str = ""  # N_-marked explanation (e.g. why a figure is hidden)
    note_params: dict[str, object] = field(default_factory=dict)
    chart: dict[str, object] | None = None  # what the page draws (kb.services.charts)
    # The page lists at most PAGE_ROWS rows per value of this column (the CSV has them all).
    page_group: int | None = None

    @property
    def note_text(self) -> str:
        """The note in English with its values filled in."""
        return self.note % self.note_params if self.note and self.note_params else self.note


@dataclass
class Evaluation:
    programme: Programme
    today: dt.date
    min_group: int
    headline: list[tuple[str, Cell]]  # (N_ label, value)
    tables: list[Table]

    def table(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)


OTHER = Label(N_("Other"))
PAGE_ROWS = 25
EARLY_DAYS = 14  # a pair that ended this long before the programme's end ended early


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return round(sum(items) / len(items), 2) if items else None


def safe_groups(
    groups: Mapping[str, Mapping[int, list[float]]], k: int, other: str = OTHER
) -> list[tuple[str, dict[int, list[float]]]]:
    """Groups of at least ``k`` distinct people. Smaller ones are merged into ``other``;
    if that is still smaller than ``k`` it joins the smallest large group ("A + Other"); with
    no large group at all, everyone together if they are ``k``, else nothing."""
    big: list[tuple[str, dict[int, list[float]]]] = []
    small: dict[int, list[float]] = defaultdict(list)
    for label, members in groups.items():
        if len(members) >= k:
            big.append((label, {p: list(v) for p, v in members.items()}))
        else:
            for person, values in members.items():
                small[person].extend(values)
    if small:
        if len(small) >= k:
            big.append((other, dict(small)))
        elif big:
            index = min(range(len(big)), key=lambda i: len(big[i][1]))
            label, members = big[index]
            merged = {p: list(v) for p, v in members.items()}
            for person, values in small.items():
                merged.setdefault(person, []).extend(values)
            big[index] = (f"{label} + {other}", merged)
    return big


def _flat(members: Mapping[int, list[float]]) -> list[float]:
    return [v for values in members.values() for v in values]


# --- gathering ----------------------------------------------------------------------------------


# Which part of the evaluation builds each table (an export of one table builds only its part).
PARTS = {
    "participation": "people", "retention": "people", "sessions": "sessions",
    "sessions_per_pair": "sessions", "goal_progress": "goals", "goal_progress_by_goal": "goals",
    "responses": "answers", "ratings": "answers", "free_text": "answers", "produced": "output",
    "guides": "output", "topics": "topics", "gaps": "gaps",
}  # fmt: skip
TABLE_NAMES = tuple(PARTS)


def evaluate(
    session: Session, programme: Programme, today: dt.date | None = None,
    only: str | None = None,
) -> Evaluation:  # fmt: skip
    """The evaluation of ``programme`` as of ``today``: every table, or with ``only`` the
    tables of that table's part (and no headline)."""
    today = today or dt.date.today()
    k = max(programme.min_group or 5, 3)
    wanted = set(PARTS.values()) if only is None else {PARTS.get(only, "")}
    pairs = list(session.execute(
        select(Pair.id, Pair.mentor_id, Pair.mentee_id, Pair.status, Pair.started, Pair.ended)
        .where(Pair.programme_id == programme.id)
    ))  # fmt: skip
    pair_ids = [p.id for p in pairs]
    tables: list[Table] = []
    if "people" in wanted:
        tables += [_participation(session, programme, pairs), _retention(programme, pairs, today)]
    held_total = 0
    if "sessions" in wanted:
        sessions_table, per_pair, held_total = _sessions(session, programme, pair_ids, today)
        tables += [sessions_table, per_pair]
    if "goals" in wanted:
        tables += _goal_progress(session, programme, k, today)
    if "answers" in wanted:
        feedback.ensure_questions(session, programme)
        answers = {r: _answers(session, programme, r) for r in feedback.SURVEY_ROUNDS}
        tables += _ratings(session, programme, k, today, answers)
        tables.append(_free_text(session, programme, k, today, answers))
    if "output" in wanted:
        tables += _produced(session, programme, pairs)
    if "topics" in wanted:
        tables.append(_topics(session, pair_ids, k))
    if "gaps" in wanted:
        tables.append(_gaps(session, programme))
    headline: list[tuple[str, Cell]] = []
    if only is None:
        started = sum(1 for p in pairs if p.started is not None)
        enrolled = session.scalar(select(func.count(Enrolment.id)).where(
            Enrolment.programme_id == programme.id, Enrolment.status == "enrolled"))  # fmt: skip
        headline = [
            (N_("Enrolled people"), enrolled or len({p.mentor_id for p in pairs}
                                                   | {p.mentee_id for p in pairs})),
            (N_("Pairs started"), started),
            (N_("Sessions held"), held_total),
            (N_("Minimum group size"), k),
        ]  # fmt: skip
    return Evaluation(programme, today, k, headline, tables)


def _participation(session: Session, programme: Programme, pairs: list) -> Table:
    table = Table(
        "participation", N_("Participation"),
        [N_("Role"), N_("Invited, no answer"), N_("Waiting for HR"), N_("Enrolled"),
         N_("Declined"), N_("Left"), N_("In a pair")],
    )  # fmt: skip
    counts: dict[tuple[str, str], int] = Counter()
    for role, status, count in session.execute(
        select(Enrolment.role, Enrolment.status, func.count(Enrolment.id))
        .where(Enrolment.programme_id == programme.id)
        .group_by(Enrolment.role, Enrolment.status)
    ):
        counts[(role, status)] = count
    paired = {
        "mentor": {p.mentor_id for p in pairs if p.started is not None},
        "mentee": {p.mentee_id for p in pairs if p.started is not None},
    }
    for role, label in (("mentor", N_("Mentors")), ("mentee", N_("Mentees"))):
        table.rows.append([
            Label(label), counts[(role, "invited")], counts[(role, "agreed")],
            counts[(role, "enrolled")], counts[(role, "declined")], counts[(role, "left")],
            len(paired[role]),
        ])  # fmt: skip
    return table


def _retention(programme: Programme, pairs: list, today: dt.date) -> Table:
    table = Table("retention", N_("Pairs and retention"), [N_("Measure"), N_("Pairs")])
    started = [p for p in pairs if p.started is not None]
    end = programme.ends or today
    early = [p for p in started if p.status == "ended" and p.ended is not None
             and p.ended < end - dt.timedelta(days=EARLY_DAYS)]  # fmt: skip
    running = [p for p in started if p.status in ("active", "paused")]
    completed = [p for p in started if p.status == "ended" and p not in early]
    status_counts = Counter(p.status for p in pairs)
    rows: list[list[Cell]] = [
        [Label(N_("Started")), len(started)],
        [Label(N_("Running now")), len(running)],
        [Label(N_("Completed")), len(completed)],
        [Label(N_("Ended early")), len(early)],
        [Label(N_("Retention, per cent")),
         round(100 * (len(started) - len(early)) / len(started), 1) if started else None],
        [Label(N_("Proposed, not started")), status_counts["proposed"]],
        [Label(N_("Rejected or dropped")), status_counts["rejected"] + status_counts["dropped"]],
    ]  # fmt: skip
    table.rows = rows
    return table


def _months(first: dt.date, last: dt.date) -> list[str]:
    out: list[str] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month) and len(out) < 60:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _sessions(
    session: Session, programme: Programme, pair_ids: list[int], today: dt.date
) -> tuple[Table, Table, int]:
    """Sessions per month (held, cancelled, missed: past and never marked, planned) and how
    many sessions each pair held."""
    over_time = Table(
        "sessions", N_("Sessions per month"),
        [N_("Month"), N_("Held"), N_("Cancelled"), N_("Missed (not marked)"), N_("Planned"),
         N_("Pairs meeting"), N_("Held per pair meeting")],
    )  # fmt: skip
    per_pair = Table("sessions_per_pair", N_("Sessions held per pair"),
                     [N_("Sessions held"), N_("Pairs")])  # fmt: skip
    now = dt.datetime.combine(today, dt.time())
    by_month: dict[str, Counter[str]] = defaultdict(Counter)
    meeting_pairs: dict[str, set[int]] = defaultdict(set)
    held_by_pair: Counter[int] = Counter()
    for start in range(0, len(pair_ids), 5000):
        chunk = pair_ids[start : start + 5000]
        for pair_id, starts_at, status in session.execute(
            select(Meeting.pair_id, Meeting.starts_at, Meeting.status).where(
                Meeting.pair_id.in_(chunk)
            )
        ):
            month = f"{starts_at.year:04d}-{starts_at.month:02d}"
            kind = status
            if status == "planned" and starts_at < now:
                kind = "missed"
            by_month[month][kind] += 1
            if status == "held":
                held_by_pair[pair_id] += 1
                meeting_pairs[month].add(pair_id)
    if by_month or programme.starts:
        first = min([dt.date.fromisoformat(m + "-01") for m in by_month]
                    + ([programme.starts] if programme.starts else []))  # fmt: skip
        last = max([dt.date.fromisoformat(m + "-01") for m in by_month]
                   + [min(programme.ends or today, today)])  # fmt: skip
        for month in _months(first, last):
            counts = by_month.get(month, Counter())
            meeting = len(meeting_pairs.get(month, ()))
            over_time.rows.append([
                month, counts["held"], counts["cancelled"], counts["missed"], counts["planned"],
                meeting, round(counts["held"] / meeting, 2) if meeting else None,
            ])  # fmt: skip
    over_time.chart = {"kind": "stacked", "label": 0, "series": [1, 2, 3, 4]}
    histogram = Counter(held_by_pair.get(pid, 0) for pid in pair_ids)
    for held in range(0, max(histogram, default=0) + 1):
        per_pair.rows.append([held, histogram.get(held, 0)])
    per_pair.chart = {"kind": "bars", "label": 0, "series": [1]}
    return over_time, per_pair, sum(held_by_pair.values())


def _goal_progress(session: Session, programme: Programme, k: int, today: dt.date) -> list[Table]:
    """Mentees' own levels before (kickoff) and after (end), per skill area and per goal,
    over goals rated at both; groups of at least ``k`` mentees."""
    by_area = Table(
        "goal_progress", N_("Goal progress by skill area"),
        [N_("Skill area"), N_("Mentees"), N_("Goals"), N_("Level at kickoff"),
         N_("Level at the end"), N_("Change")],
    )  # fmt: skip
    by_goal = Table(
        "goal_progress_by_goal", N_("Goal progress by goal"),
        [N_("Goal"), N_("Mentees"), N_("Level at kickoff"), N_("Level at the end"),
         N_("Change")],
    )  # fmt: skip
    if not feedback.results_visible(programme, "end", today):
        window = feedback.window(programme, "end")
        for table in (by_area, by_goal):
            table.note = N_("Shown once the end round has closed (%(date)s).")
            table.note_params = {"date": window.closes.isoformat() if window else "?"}
        return [by_area, by_goal]
    ratings: dict[tuple[int, str], dict[str, tuple[int, str]]] = defaultdict(dict)
    for author, goal, round_, rating, area in session.execute(
        select(Feedback.author_id, Feedback.goal, Feedback.round, Feedback.rating, Feedback.area)
        .where(Feedback.programme_id == programme.id, Feedback.question_id.is_(None),
               Feedback.goal != "", Feedback.rating.is_not(None))
    ):  # fmt: skip
        ratings[(author, goal)][round_] = (int(rating or 0), area)
    # per area: {area: {mentee: [(before, after)...]}} kept as two parallel value lists
    before: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    after: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    goal_before: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    goal_after: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (author, goal), rounds in ratings.items():
        if "kickoff" not in rounds or "end" not in rounds:
            continue
        area = rounds["kickoff"][1] or rounds["end"][1] or OTHER
        before[area][author].append(rounds["kickoff"][0])
        after[area][author].append(rounds["end"][0])
        key = " ".join(goal.lower().split())
        goal_before[key][author].append(rounds["kickoff"][0])
        goal_after[key][author].append(rounds["end"][0])
    shown_before = dict(safe_groups(before, k))
    shown_after = dict(safe_groups(after, k))
    for label, members in shown_before.items():
        b, a = _flat(members), _flat(shown_after[label])
        mb, ma = _mean(b), _mean(a)
        by_area.rows.append([
            Label(label) if label == OTHER else SkillArea(label), len(members), len(b), mb, ma,
            round(ma - mb, 2) if ma is not None and mb is not None else None,
        ])  # fmt: skip
    everyone = {p for members in before.values() for p in members}
    if len(everyone) >= k:
        b = [v for m in before.values() for vs in m.values() for v in vs]
        a = [v for m in after.values() for vs in m.values() for v in vs]
        by_area.rows.append(
            [
                Label(N_("All skill areas")),
                len(everyone),
                len(b),
                _mean(b),
                _mean(a),
                round((_mean(a) or 0) - (_mean(b) or 0), 2),
            ]
        )
    elif everyone:
        by_area.note = N_("Fewer than %(count)s mentees rated their goals twice: not shown.")
        by_area.note_params = {"count": k}
    by_area.chart = {"kind": "pairs", "label": 0, "series": [3, 4]}
    for goal, members in sorted(goal_before.items()):
        if len(members) < k:
            continue
        b, a = _flat(members), _flat(goal_after[goal])
        by_goal.rows.append(
            [goal, len(members), _mean(b), _mean(a), round((_mean(a) or 0) - (_mean(b) or 0), 2)]
        )
    by_goal.note = N_("Goals rated by fewer than %(count)s mentees count only in their skill "
                      "area.")  # fmt: skip
    by_goal.note_params = {"count": k}
    return [by_area, by_goal]


@dataclass
class Answers:
    """One round's answers, read once: per question id, (author, role, rating, comment)."""

    by_question: dict[int, list[tuple[int, str, int | None, str]]]
    respondents: dict[str, set[int]]  # role -> authors


def _answers(session: Session, programme: Programme, round_: str) -> Answers:
    found = Answers(defaultdict(list), {"mentor": set(), "mentee": set()})
    for question_id, author, role, rating, comment in session.execute(
        select(Feedback.question_id, Feedback.author_id, Feedback.role, Feedback.rating,
               Feedback.comment)
        .join(SurveyQuestion, SurveyQuestion.id == Feedback.question_id)
        .where(SurveyQuestion.programme_id == programme.id, SurveyQuestion.round == round_)
    ):  # fmt: skip
        found.by_question[int(question_id or 0)].append((author, role, rating, comment))
        found.respondents.setdefault(role, set()).add(author)
    return found


def _questions(session: Session, programme: Programme, round_: str) -> list[QuestionText]:
    return [QuestionText(q) for q in session.scalars(select(SurveyQuestion).where(
        SurveyQuestion.programme_id == programme.id, SurveyQuestion.round == round_)
        .order_by(SurveyQuestion.position, SurveyQuestion.id))]  # fmt: skip


def _ratings(
    session: Session, programme: Programme, k: int, today: dt.date,
    answers: Mapping[str, Answers],
) -> list[Table]:  # fmt: skip
    """Per rating question of each closed round: answers, mean and how many gave each value,
    for everyone, and per role only when both roles reach ``k``."""
    table = Table(
        "ratings", N_("Questionnaire ratings (1 to 5)"),
        [N_("Questionnaire"), N_("Question"), N_("Who"), N_("Answers"), N_("Mean"),
         "1", "2", "3", "4", "5"],
    )  # fmt: skip
    response = Table(
        "responses", N_("Questionnaire responses"),
        [N_("Questionnaire"), N_("State"), N_("Closes"), N_("Mentors answered"),
         N_("Mentees answered")],
    )  # fmt: skip
    hidden = 0
    for round_, title in (("mid", N_("Mid-programme")), ("end", N_("End of programme"))):
        state = feedback.round_state(programme, round_, today)
        window = feedback.window(programme, round_)
        found = answers[round_]
        response.rows.append([
            Label(title), Label(STATE_LABELS.get(state, state)),
            window.closes.isoformat() if window else None,
            len(found.respondents.get("mentor", ())), len(found.respondents.get("mentee", ())),
        ])  # fmt: skip
        if state != "closed":
            continue
        for question in _questions(session, programme, round_):
            if question.question.kind != "rating":
                continue
            given = [g for g in found.by_question.get(question.question.id, ())
                     if g[2] is not None]  # fmt: skip
            groups = {"all": {author: [float(r or 0)] for author, _, r, _ in given}}
            by_role = {role: {author: [float(r or 0)] for author, who, r, _ in given
                              if who == role}
                       for role in ("mentor", "mentee")}  # fmt: skip
            if all(len(v) >= k for v in by_role.values()):
                groups.update(by_role)
            shown = False
            for who, members in groups.items():
                if len(members) < k:
                    continue
                values = _flat(members)
                counts = Counter(int(v) for v in values)
                table.rows.append([
                    Label(title), question, Label(WHO_LABELS[who]), len(members),
                    _mean(values), *(counts.get(n, 0) for n in feedback.SCALE),
                ])  # fmt: skip
                shown = True
            if not shown and given:
                hidden += 1
    table.note = N_("Only closed questionnaires; a question answered by fewer than %(count)s "
                    "people is not shown (%(hidden)s hidden).")  # fmt: skip
    table.note_params = {"count": k, "hidden": hidden}
    table.chart = {"kind": "hbars", "label": 1, "series": [4], "max": 5}
    return [response, table]


class QuestionText(str):
    """A question cell: shown in the reader's language (``feedback.question_text``)."""

    question: SurveyQuestion

    def __new__(cls, question: SurveyQuestion) -> QuestionText:
        made = super().__new__(cls, feedback.question_text(question, "en"))
        made.question = question
        return made


STATE_LABELS = {
    "upcoming": N_("not open yet"), "open": N_("open"), "closed": N_("closed"),
    "undated": N_("no dates"),
}  # fmt: skip
WHO_LABELS = {"all": N_("everyone"), "mentor": N_("mentors"), "mentee": N_("mentees")}


def _free_text(
    session: Session, programme: Programme, k: int, today: dt.date,
    answers: Mapping[str, Answers],
) -> Table:  # fmt: skip
    anonymous = programme.anonymous_answers
    columns = [N_("Questionnaire"), N_("Question"), N_("Answer")]
    if not anonymous:
        columns.append(N_("Name"))
    table = Table("free_text", N_("Free-text answers"), columns, page_group=1)
    names: dict[int, str] = {}
    if not anonymous:
        authors = {a for found in answers.values() for given in found.by_question.values()
                   for a, _, _, c in given if c}  # fmt: skip
        for start in range(0, len(authors), 5000):
            chunk = sorted(authors)[start : start + 5000]
            names.update(session.execute(
                select(Person.id, Person.name).where(Person.id.in_(chunk))).all())  # fmt: skip
    for round_, title in (("mid", N_("Mid-programme")), ("end", N_("End of programme"))):
        if not feedback.results_visible(programme, round_, today):
            continue
        label = Label(title)
        for question in _questions(session, programme, round_):
            given = [g for g in answers[round_].by_question.get(question.question.id, ())
                     if g[3]]  # fmt: skip
            if not given or anonymous and len({g[0] for g in given}) < k:
                continue
            for author, _, _, comment in sorted(given, key=lambda g: g[3].lower()):
                cells: list[Cell] = [label, question, comment]
                if not anonymous:
                    cells.append(names.get(author, ""))
                table.rows.append(cells)
    table.note = (
        N_("Without names; only questions at least %(count)s people answered, in alphabetical "
           "order.") if anonymous else N_("With names, as the programme's settings say.")
    )  # fmt: skip
    table.note_params = {"count": k}
    return table


def _produced(session: Session, programme: Programme, pairs: list) -> list[Table]:
    """Guides the programme's mentors published during the programme, and insights its pairs
    published (both are public; notes are only counted)."""
    summary = Table("produced", N_("Guides and insights produced"), [N_("What"), N_("Count")])
    guides = Table("guides", N_("Guides published by the programme's mentors"),
                   [N_("Title"), N_("Author"), N_("Published on")])  # fmt: skip
    mentors = {p.mentor_id for p in pairs if p.started is not None}
    pair_ids = [p.id for p in pairs]
    query = select(Guide.title, Person.name, Guide.published_on).join(
        Person, Person.id == Guide.author_id).where(
        Guide.status == "published", Guide.author_id.in_(mentors or {-1}))  # fmt: skip
    if programme.starts:
        query = query.where(Guide.published_on >= programme.starts)
    if programme.ends:
        query = query.where(Guide.published_on <= programme.ends)
    for title, author, published in session.execute(query.order_by(Guide.published_on)):
        guides.rows.append([title, author, published.isoformat() if published else None])
    insights = 0
    notes = 0
    for start in range(0, len(pair_ids), 5000):
        chunk = pair_ids[start : start + 5000]
        notes += (
            session.scalar(select(func.count(SessionNote.id)).where(SessionNote.pair_id.in_(chunk)))
            or 0
        )
        insights += session.scalar(
            select(func.count(SharedInsight.id)).join(SessionNote).where(
                SessionNote.pair_id.in_(chunk), SharedInsight.mentor_consent_at.is_not(None),
                SharedInsight.mentee_consent_at.is_not(None))) or 0  # fmt: skip
    summary.rows = [
        [Label(N_("Guides published")), len(guides.rows)],
        [Label(N_("Insights shared")), insights],
        [Label(N_("Session notes written (count only)")), notes],
    ]
    return [summary, guides]


def _topics(session: Session, pair_ids: list[int], k: int) -> Table:
    """Topic tags of the sessions pairs planned or held (never a note's tags); a topic a
    few pairs used counts under "Other"."""
    table = Table("topics", N_("Topics covered in sessions"),
                  [N_("Topic"), N_("Pairs"), N_("Sessions")])  # fmt: skip
    pairs_by_topic: dict[str, set[int]] = defaultdict(set)
    sessions_by_topic: Counter[str] = Counter()
    for start in range(0, len(pair_ids), 5000):
        chunk = pair_ids[start : start + 5000]
        for pair_id, tags in session.execute(
            select(Meeting.pair_id, Meeting.tags).where(
                Meeting.pair_id.in_(chunk), Meeting.status != "cancelled", Meeting.tags != "")
        ):  # fmt: skip
            for tag in split_list(tags):
                pairs_by_topic[tag].add(pair_id)
                sessions_by_topic[tag] += 1
    other_pairs: set[int] = set()
    other_sessions = 0
    for tag, pair_set in sorted(
        pairs_by_topic.items(), key=lambda t: (-len(t[1]), -sessions_by_topic[t[0]], t[0])
    ):
        if len(pair_set) >= k:
            table.rows.append([tag, len(pair_set), sessions_by_topic[tag]])
        else:
            other_pairs |= pair_set
            other_sessions += sessions_by_topic[tag]
    if len(other_pairs) >= k:
        table.rows.append([Label(N_("Other topics")), len(other_pairs), other_sessions])
    table.note = N_("A topic fewer than %(count)s pairs used counts under other topics.")
    table.note_params = {"count": k}
    table.chart = {"kind": "hbars", "label": 0, "series": [1]}
    return table


def _gaps(session: Session, programme: Programme) -> Table:
    """The goals no mentor covered, from the programme's latest gap analysis (HR's gaps page
    computes it)."""
    table = Table("gaps", N_("Goals no mentor covered"), [N_("Theme"), N_("Goals")])
    found = session.scalar(
        select(MatchingJob.result).where(
            MatchingJob.kind == "gaps", MatchingJob.programme == programme.slug,
            MatchingJob.status == "done").order_by(MatchingJob.updated_at.desc()).limit(1)
    )  # fmt: skip
    data: object = None
    try:
        data = json.loads(found) if found else None
    except ValueError:
        data = None
    themes = data.get("themes", data) if isinstance(data, dict) else data
    if not isinstance(themes, list):
        table.note = N_("No gap analysis yet: open the gaps page of the programme once.")
        return table
    for theme in themes:
        if isinstance(theme, dict):
            table.rows.append([str(theme.get("theme", "")), int(theme.get("size") or 0)])
    table.note = N_("From the latest gap analysis of the programme.")
    return table


# --- exports ------------------------------------------------------------------------------------


def to_csv(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """CSV text (RFC 4180 line ends). A cell a spreadsheet would run as a formula (``=``,
    ``+``, ``-``, ``@`` and not a number) is written as text, with a leading apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        cells = []
        for value in row:
            text = "" if value is None else str(value)
            if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
                text = "'" + text
            cells.append(text)
        writer.writerow(cells)
    return out.getvalue()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def write_report(found: Evaluation, folder: Path) -> list[Path]:
    """Every table as ``<slug>-<table>.csv`` (UTF-8, English headings) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for table in found.tables:
        path = folder / f"{found.programme.slug}-{table.name}.csv"
        path.write_text(to_csv(list(table.columns), list(table.rows)), "utf-8", newline="")
        written.append(path)
    return written
