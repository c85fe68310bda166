"""Stage 7, feedback and evaluation: mentees rate their level on each goal at kickoff and at
the end; both roles answer the mid- and end-of-programme questionnaires (in their language);
HR configures the questions and reads the programme's evaluation, as aggregates only.

Answers go to HR only and the partner never sees them; HR never sees one person's answers,
only figures over groups of at least the programme's minimum size, and never a note.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale, gettext
from flask_login import login_required
from markupsafe import Markup

from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.i18n import N_
from kb.models import QUESTION_AUDIENCES, QUESTION_KINDS, Person, SurveyQuestion
from kb.services import audit, charts, evaluation, feedback, programmes
from kb.views.hr import hr_required
from kb.views.i18n import competence_name, translate_error
from kb.views.support import current_person, db

bp = Blueprint("evaluation", __name__)

ROUND_TITLES = {
    "kickoff": N_("Kickoff: your level on each goal"),
    "mid": N_("Mid-programme questionnaire"),
    "end": N_("End-of-programme questionnaire"),
}
# How states, kinds and audiences read on the pages.
LABELS = {
    "upcoming": N_("not open yet"),
    "open": N_("open"),
    "closed": N_("closed"),
    "undated": N_("no dates"),
    "rating": N_("rating 1 to 5"),
    "text": N_("free text"),
    "both": N_("mentors and mentees"),
    "mentor": N_("mentors"),
    "mentee": N_("mentees"),
}
LEVELS = {
    1: N_("1 – beginner"),
    2: N_("2 – basics"),
    3: N_("3 – can do it with help"),
    4: N_("4 – on my own"),
    5: N_("5 – could teach it"),
}


LANGS = ("en", "pl", "ru")


def today() -> dt.date:
    return dt.date.today()


def _me() -> Person:
    person = current_person()
    assert person is not None  # login_required ran
    return person


def _programme(slug: str) -> Any:
    try:
        return programmes.get_programme(db(), slug)
    except NotFound as error:
        raise NotFound(gettext("No such programme.")) from error


def locale() -> str:
    return str(get_locale() or "en")


def text_of(question: SurveyQuestion) -> str:
    return feedback.question_text(question, locale(), gettext)


# --- participants -------------------------------------------------------------------------------


@bp.route("/programmes/feedback")
@login_required
def mine() -> ResponseReturnValue:
    """The feedback I can give now, per pair and round."""
    session, me = db(), _me()
    tasks = feedback.open_tasks(session, me, today())
    return render_template("evaluation/mine.html", tasks=tasks, titles=ROUND_TITLES)


@bp.route("/programmes/pairs/<int:pair_id>/feedback/<round_>", methods=["GET", "POST"])
@login_required
def give(pair_id: int, round_: str) -> ResponseReturnValue:
    """One round's form for a pair member: the goal ratings (mentee, kickoff and end) and the
    questionnaire (mid and end). Only its author ever sees it filled in."""
    session, me = db(), _me()
    pair = feedback.member_pair(session, pair_id, me)
    if round_ not in ROUND_TITLES:
        raise NotFound(gettext("No such questionnaire."))
    role = feedback.role_in(pair, me)
    with_goals = role == "mentee" and round_ in ("kickoff", "end")
    asked = (
        [
            q
            for q in feedback.questions(session, pair.programme, round_)
            if feedback.for_role(q, role)
        ]
        if round_ in feedback.SURVEY_ROUNDS
        else []
    )
    if request.method == "POST":
        try:
            stored = 0
            if with_goals:
                levels: dict[str, int | None] = {}
                areas: dict[str, str] = {}
                for index, goal in enumerate(feedback.goals_of(me)):
                    raw = (request.form.get(f"level-{index}") or "").strip()
                    levels[goal] = int(raw) if raw.isdigit() else None
                    areas[goal] = request.form.get(f"area-{index}") or ""
                stored += feedback.save_self_ratings(session, pair, me, round_, levels, areas,
                                                     today())  # fmt: skip
            if asked:
                given = {q.id: request.form.get(f"q{q.id}", "") for q in asked}
                stored += feedback.save_answers(session, pair, me, round_, given, today())
            session.commit()
        except (ValidationError, PermissionDenied) as error:
            session.rollback()
            flash(gettext("Not saved: %(reason)s", reason=translate_error(error)), "error")
        else:
            flash(gettext("Thank you: %(count)s answer(s) saved. Only HR sees them, and only "
                          "together with others'.", count=stored), "info")  # fmt: skip
        return redirect(url_for("evaluation.give", pair_id=pair_id, round_=round_))
    session.commit()  # the default questions, stored the first time they are needed
    state = feedback.round_state(pair.programme, round_, today())
    rated = feedback.self_ratings(session, pair, me) if with_goals else {}
    kickoff = rated.get("kickoff", {})
    goals = [
        {"index": i, "goal": goal,
         "level": (rated.get(round_, {}).get(goal).rating  # type: ignore[union-attr]
                   if goal in rated.get(round_, {}) else None),
         "area": (kickoff[goal].area if goal in kickoff else ""),
         "before": kickoff[goal].rating if round_ == "end" and goal in kickoff else None}
        for i, goal in enumerate(feedback.goals_of(me))
    ] if with_goals else []  # fmt: skip
    mine_now = feedback.answers(session, pair, me, round_) if asked else {}
    items = [
        {"question": q, "text": text_of(q),
         "value": (str(mine_now[q.id].rating) if q.kind == "rating" and q.id in mine_now
                   and mine_now[q.id].rating is not None
                   else mine_now[q.id].comment if q.id in mine_now else "")}
        for q in asked
    ]  # fmt: skip
    found = feedback.window(pair.programme, round_)
    return render_template(
        "evaluation/give.html", pair=pair, role=role, round=round_, state=state,
        window=found, title=ROUND_TITLES[round_], goals=goals, items=items,
        areas=pair.programme.competence_list, levels=LEVELS,
        partner=pair.mentee if role == "mentor" else pair.mentor,
    )  # fmt: skip


# --- HR: questions and settings -----------------------------------------------------------------


@bp.route("/hr/programmes/<slug>/questions", methods=["GET", "POST"])
@hr_required
def questions(slug: str) -> ResponseReturnValue:
    """HR configures the questionnaires (add, remove, put back a question) and the
    evaluation's settings (minimum group size, names on free text, weeks open)."""
    programme, session, hr = _programme(slug), db(), current_person()
    if request.method == "POST":
        action = request.form.get("action", "")
        try:
            if action == "add":
                feedback.add_question(
                    session, programme, hr, round_=request.form.get("round", ""),
                    kind=request.form.get("kind", ""),
                    audience=request.form.get("audience", "both"),
                    texts={lang: request.form.get(f"text_{lang}", "") for lang in LANGS},
                )  # fmt: skip
            elif action in ("off", "on"):
                raw = request.form.get("question", "")
                question = session.get(SurveyQuestion, int(raw)) if raw.isdigit() else None
                if question is None or question.programme_id != programme.id:
                    raise ValidationError(gettext("No such question."), field="question")
                feedback.set_question_active(session, question, action == "on", hr)
            elif action == "settings":
                numbers = {}
                for name in ("min_group", "survey_weeks"):
                    raw = (request.form.get(name) or "").strip()
                    if not raw.isdigit():
                        raise ValidationError(gettext("A whole number, please."), field=name)
                    numbers[name] = int(raw)
                feedback.set_settings(
                    session, programme, hr, min_group=numbers["min_group"],
                    anonymous_answers=request.form.get("anonymous_answers") == "1",
                    survey_weeks=numbers["survey_weeks"],
                )  # fmt: skip
            else:
                raise ValidationError(gettext("Unknown action."), field="action")
            session.commit()
        except (ValidationError, PermissionDenied) as error:
            session.rollback()
            flash(gettext("Not saved: %(reason)s", reason=translate_error(error)), "error")
        else:
            flash(gettext("Saved."), "info")
        return redirect(url_for("evaluation.questions", slug=slug))
    rows = feedback.questions(session, programme, active_only=False)
    session.commit()
    from kb.views.programmes import stages

    rounds = [
        {"round": r, "title": ROUND_TITLES[r],
         "window": feedback.window(programme, r),
         "state": feedback.round_state(programme, r, today()),
         "questions": [{"q": q, "text": text_of(q)} for q in rows if q.round == r]}
        for r in feedback.SURVEY_ROUNDS
    ]  # fmt: skip
    kickoff = feedback.window(programme, "kickoff")
    return render_template(
        "evaluation/questions.html", programme=programme, rounds=rounds, kickoff=kickoff,
        kickoff_state=feedback.round_state(programme, "kickoff", today()),
        kinds=QUESTION_KINDS, audiences=QUESTION_AUDIENCES, labels=LABELS,
        stages=stages(slug, "evaluation.evaluation_page"),
    )  # fmt: skip


# --- HR: the evaluation -------------------------------------------------------------------------


def cell_text(value: Any) -> Any:
    """A cell as the reader sees it: labels and questions in their language."""
    if isinstance(value, evaluation.QuestionText):
        return text_of(value.question)
    if isinstance(value, evaluation.Label):
        return gettext(value)
    if isinstance(value, evaluation.SkillArea):
        return " + ".join(
            gettext(part) if part == evaluation.OTHER else competence_name(part)
            for part in value.parts
        )
    return value


def present(
    found: evaluation.Evaluation, only: str | None = None, draw: bool = True,
    limit: bool = True,
) -> list[dict[str, Any]]:  # fmt: skip
    """Each table (or ``only`` that one) with its headings, cells, note and chart (when
    ``draw``), in the reader's language. With ``limit``, a table with a ``page_group`` lists
    at most PAGE_ROWS rows per group (the CSV has them all)."""
    memo: dict[tuple[type, str], Any] = {}

    def shown(value: Any) -> Any:
        if not isinstance(value, str) or type(value) is str:
            return cell_text(value) if isinstance(value, str) else value
        key = (type(value), value)
        if key not in memo:
            memo[key] = cell_text(value)
        return memo[key]

    out = []
    for table in found.tables:
        if only is not None and table.name != only:
            continue
        columns = [gettext(c) if c not in "12345" else c for c in table.columns]
        source = table.rows
        more = 0
        if limit and table.page_group is not None:
            seen: Counter[Any] = Counter()
            kept = []
            for row in source:
                seen[row[table.page_group]] += 1
                if seen[row[table.page_group]] <= evaluation.PAGE_ROWS:
                    kept.append(row)
            more, source = len(source) - len(kept), kept
        rows = [[shown(v) for v in row] for row in source]
        chart = ""
        if draw and table.chart and rows:
            spec = table.chart
            label_col = int(spec["label"])  # type: ignore[call-overload]
            series_cols = list(spec["series"])  # type: ignore[call-overload]
            chart = charts.svg(
                str(spec["kind"]), gettext(table.title), [r[label_col] for r in rows],
                [[r[c] for r in rows] for c in series_cols], [columns[c] for c in series_cols],
                maximum=float(spec["max"]) if "max" in spec else None,  # type: ignore[arg-type]
                description=gettext("The same figures are in the table below."),
            )  # fmt: skip
        notes = [gettext(table.note, **table.note_params) if table.note else ""]
        if more:
            notes.append(gettext("%(count)s more answers are in the CSV export.", count=more))
        out.append({
            "name": table.name, "title": gettext(table.title), "columns": columns,
            "rows": rows, "note": " ".join(n for n in notes if n), "chart": Markup(chart),
        })  # fmt: skip
    return out


def _evaluation_page(slug: str, printable: bool) -> ResponseReturnValue:
    programme = _programme(slug)
    session = db()
    found = evaluation.evaluate(session, programme, today())
    session.commit()  # the default questions, stored the first time they are needed
    from kb.views.programmes import stages

    return render_template(
        "evaluation/evaluation.html", programme=programme, found=found,
        headline=[(gettext(label), value) for label, value in found.headline],
        tables=present(found), printable=printable,
        stages=[] if printable else stages(slug, "evaluation.evaluation_page"),
    )  # fmt: skip


@bp.route("/hr/programmes/<slug>/evaluation")
@hr_required
def evaluation_page(slug: str) -> ResponseReturnValue:
    """Stage 7: the programme's evaluation, as figures over groups (never one person's
    answers, never a note)."""
    return _evaluation_page(slug, printable=False)


@bp.route("/hr/programmes/<slug>/evaluation/print")
@hr_required
def evaluation_print(slug: str) -> ResponseReturnValue:
    """The same evaluation laid out for printing (no navigation, tables after charts)."""
    return _evaluation_page(slug, printable=True)


@bp.route("/hr/programmes/<slug>/evaluation/<table>.csv")
@hr_required
def evaluation_csv(slug: str, table: str) -> ResponseReturnValue:
    """One table of the evaluation as CSV (UTF-8 with a byte-order mark, for spreadsheets);
    the export is audited."""
    programme, session = _programme(slug), db()
    if table not in evaluation.TABLE_NAMES:
        raise NotFound(gettext("No such table."))
    found = evaluation.evaluate(session, programme, today(), only=table)
    chosen = found.table(table)
    audit.record(session, current_person(), "evaluation.export", "programme", programme.id,
                 programme.id, {"table": table, "rows": len(chosen.rows)})  # fmt: skip
    session.commit()
    shown = present(found, only=table, draw=False, limit=False)[0]
    body = "\ufeff" + evaluation.to_csv(shown["columns"], shown["rows"])
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{programme.slug}-{table}.csv"'},
    )
