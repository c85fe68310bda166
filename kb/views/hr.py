"""HR pages: programmes and their pairs (never notes), recommendations, proposals, gaps."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext, ngettext, pgettext
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.i18n import N_, Text, Texts
from kb.models import PAIR_STATUSES, MatchingVector, Pair, PairChange, Person, Programme
from kb.services import accounts, audit, pairs
from kb.views.auth import safe_next
from kb.views.i18n import translate_error
from kb.views.support import current_person, db, me, parse_date, parse_page, tandem
from matching import service as matching
from matching.jobs import JobRunner
from matching.results import to_data
from matching.service import PoolCache

bp = Blueprint("hr", __name__, url_prefix="/hr")

P = ParamSpec("P")
R = TypeVar("R")


def hr_required(view: Callable[P, R]) -> Callable[P, R]:
    """Logged in and holding the HR role."""

    @wraps(view)
    @login_required
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        person = current_person()
        if person is None or not person.has_role("hr"):
            raise PermissionDenied(N_("This page is for HR."))
        return view(*args, **kwargs)

    return wrapped


def admin_required(view: Callable[P, R]) -> Callable[P, R]:
    """Logged in and an HR administrator (role "admin")."""

    @wraps(view)
    @login_required
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        person = current_person()
        if person is None or not person.has_role("admin"):
            raise PermissionDenied(N_("This is for HR administrators."))
        return view(*args, **kwargs)

    return wrapped


@bp.route("/")
@hr_required
def index() -> ResponseReturnValue:
    programmes = (
        db()
        .scalars(
            select(Programme)
            .options(selectinload(Programme.pairs))
            .order_by(Programme.starts.desc())
        )
        .all()
    )
    return render_template("hr/index.html", programmes=programmes)


@bp.route("/programmes/<slug>")
@hr_required
def programme(slug: str) -> ResponseReturnValue:
    found = db().scalar(select(Programme).where(Programme.slug == slug))
    if found is None:
        raise NotFound(N_("No such programme."))
    pairs = (
        db()
        .scalars(
            select(Pair)
            .where(Pair.programme_id == found.id)
            .options(
                selectinload(Pair.mentor),
                selectinload(Pair.mentee),
                selectinload(Pair.changes).selectinload(PairChange.actor),
            )
            .order_by(Pair.id)
        )
        .all()
    )
    from kb.views.programmes import stages

    return render_template(
        "hr/programme.html", programme=found, pairs=pairs, statuses=PAIR_STATUSES,
        stages=stages(slug, "hr.programme"),
    )  # fmt: skip


@bp.route("/pairs/<int:pair_id>", methods=["POST"])
@hr_required
def correct_pair(pair_id: int) -> ResponseReturnValue:
    """HR corrects a pair: its status (start, pause, end, reject) and whether proposals keep it
    (lock). A refused change (e.g. the mentor has no place left) is shown, nothing is saved."""
    session, hr = db(), current_person()
    assert hr is not None
    pair = pairs.get_pair(session, pair_id, hr)
    slug = pair.programme.slug
    who = f"{pair.mentor.name} / {pair.mentee.name}"
    status = request.form.get("status")
    locked = request.form.get("locked")
    try:
        if locked not in (None, "0", "1"):
            raise ValidationError(N_("lock must be 0 or 1."), field="locked")
        if status and status != pair.status:
            pairs.set_pair_status(session, pair, status, hr)
        if locked in ("0", "1"):
            pairs.set_pair_locked(session, pair, locked == "1", hr)
        session.commit()
    except ValidationError as error:
        session.rollback()
        flash(
            gettext("%(pair)s: not changed: %(reason)s", pair=who, reason=translate_error(error)),
            "error",
        )
    else:
        status_word = pair_status_word(pair.status)
        if pair.locked:
            flash(
                gettext(
                    "%(pair)s: %(status)s (locked: proposals keep it).",
                    pair=who,
                    status=status_word,
                ),
                "info",
            )
        else:
            flash(gettext("%(pair)s: %(status)s.", pair=who, status=status_word), "info")
    return redirect(url_for("hr.programme", slug=slug))


def pair_status_word(code: str) -> str:
    """A pair's status in the reader's language (the words of templates/_macros.html)."""
    words = {
        "proposed": pgettext("pair status", "proposed"),
        "active": pgettext("pair status", "active"),
        "paused": pgettext("pair status", "paused"),
        "ended": pgettext("pair status", "ended"),
        "rejected": pgettext("pair status", "rejected"),
        "dropped": pgettext("pair status", "dropped"),
    }
    return words.get(code, code)


@bp.app_template_global()
def pair_change_line(change: PairChange) -> str:
    """A line of a pair's history in the reader's language, its status codes as status words;
    a line stored before lines kept their message is shown as its English text."""
    return str(_change_part(pairs.change_text(change)))


# The label of a history line without an actor, by pairs.change_source.
CHANGE_SOURCES = {
    "import": N_("import"),
    "enrolment": N_("enrolment"),
    "erasure": N_("erasure"),
    "": N_("command line / import"),
}


@bp.app_template_global()
def pair_change_actor(change: PairChange) -> str:
    """Who made a line of a pair's history: its actor's name, else where it came from."""
    if change.actor is not None:
        return change.actor.name
    return gettext(CHANGE_SOURCES[pairs.change_source(change)])


def _change_part(value: object, key: str = "") -> object:
    if isinstance(value, Texts):
        return value.separator.join(str(_change_part(item)) for item in value.items)
    if isinstance(value, Text):
        params = {k: _change_part(v, k) for k, v in value.params.items()}
        try:
            return gettext(value.template, **params)
        except (KeyError, ValueError, TypeError):  # a translation whose placeholders do not fit
            return str(value)
    if key in pairs.STATUS_PARAMS and isinstance(value, str):
        return pair_status_word(value)
    return value


@bp.route("/people/<int:person_id>/deactivate", methods=["POST"])
@admin_required
def deactivate(person_id: int) -> ResponseReturnValue:
    """An HR administrator deactivates an account from a programme page (the same service as
    the account page: no more logins, open sessions and unused links end)."""
    session = db()
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(N_("No such person."))
    accounts.deactivate(session, person, me())
    session.commit()
    flash(gettext("%(name)s: account deactivated.", name=person.name), "info")
    return redirect(safe_back() or url_for("hr.index"))


def safe_back() -> str | None:
    """The HR page the form was on (a same-site path only)."""
    return safe_next(request.form.get("back"))


# How long a matching read waits for this process's pending matching vectors (a guide's
# take about a second; a cold model longer).
REFRESH_WAIT_SECONDS = 30.0
# How long a page waits for a fresh matching job before it shows the progress instead.
JOB_WAIT_SECONDS = 1.5
# Rows a list of a proposal or gaps page shows unless HR asks for all (?all=1): a company's
# proposal has thousands.
LIST_ROWS = 200


def pool_cache() -> PoolCache:
    """This process's matching pools: built from stored vectors once per data state. The
    matching vectors of documents this process has just published are stored first (its
    refresher thread: kb.services.match_vectors.Refresher); another process's land with
    their commit, and the pools' data state counts them."""
    tandem().matching_refresh.wait(REFRESH_WAIT_SECONDS)
    cache = current_app.extensions.get("matching_pools")
    if cache is None:
        cache = current_app.extensions.setdefault("matching_pools", PoolCache())
    return cache


def job_runner() -> JobRunner:
    """This process's runner of background matching jobs."""
    runner = current_app.extensions.get("matching_jobs")
    if runner is None:
        runner = current_app.extensions.setdefault(
            "matching_jobs",
            JobRunner(
                tandem().sessions,
                tandem().matching_embedders,
                pool_cache(),
                inline=bool(current_app.config.get("TANDEM_MATCHING_JOBS_INLINE")),
            ),
        )
    return runner


def warm_up_matching(app: Flask) -> None:
    """Build this worker's matching pool before the first HR page asks for it (on an
    instance with matching vectors: a library served for search only is left alone)."""
    with app.app_context():
        with tandem().sessions() as session:
            if session.scalar(select(MatchingVector.text_hash).limit(1)) is not None:
                pool_cache().get(session, tandem().matching_embedders)


def job_answer(kind: str, slug: str, title: str) -> tuple[Any, ResponseReturnValue | None]:
    """A job's answer once it is ready, else the page showing its progress (or failure)."""
    state = job_runner().request(kind, slug, wait=JOB_WAIT_SECONDS)
    if state.done:
        return state.result, None
    status = 500 if state.status == "failed" else 202
    return None, (render_template("hr/job.html", slug=slug, job=state, title=title), status)


@bp.route("/programmes/<slug>/proposal")
@hr_required
def proposal(slug: str) -> ResponseReturnValue:
    found, waiting = job_answer("proposal", slug, gettext("Proposed pairs"))
    if waiting is not None:
        return waiting
    rows = None if request.args.get("all") else LIST_ROWS
    return render_template("hr/proposal.html", slug=slug, proposal=present_proposal(found, rows))


def present_proposal(data: dict[str, Any], rows: int | None = None) -> dict[str, Any]:
    """The proposal as the page lists it: kept pairs, new pairs, and nobody in two lists;
    each list cut to ``rows`` (its full length in ``sizes``)."""
    paired = {p["mentor"] for p in data["pairs"]} | {p["mentee"] for p in data["pairs"]}
    lists = {
        "kept": [p for p in data["pairs"] if p["locked"]],
        "new": [p for p in data["pairs"] if not p["locked"]],
        "unmatched_mentees": [u for u in data["unmatched_mentees"] if u["email"] not in paired],
        "unmatched_mentors": [u for u in data["unmatched_mentors"] if u["email"] not in paired],
        "mentors_with_places": data.get("mentors_with_places", []),
    }
    return {
        **data,
        **{k: v[:rows] for k, v in lists.items()},
        "sizes": {k: len(v) for k, v in lists.items()},
    }


@bp.route("/programmes/<slug>/proposal", methods=["POST"])
@hr_required
def apply_proposal(slug: str) -> ResponseReturnValue:
    """Save the proposal HR was shown (if the data changed since, it must be reviewed again)."""
    state = job_runner().request("proposal", slug)
    if not state.done:
        flash(
            gettext(
                "The proposal changed since it was shown (or is still being computed): "
                "review it again before saving."
            ),
            "error",
        )
        return redirect(url_for("hr.proposal", slug=slug))
    session = db()
    created = pairs.store_proposed(
        session, slug, [(p["mentor"], p["mentee"]) for p in state.result["pairs"]],
        current_person(),
    )  # fmt: skip
    session.commit()
    flash(
        ngettext(
            "Saved %(num)d new proposed pair.", "Saved %(num)d new proposed pairs.", len(created)
        ),
        "info",
    )
    return redirect(url_for("hr.programme", slug=slug))


@bp.route("/programmes/<slug>/proposal/decide", methods=["POST"])
@hr_required
def decide_pair(slug: str) -> ResponseReturnValue:
    """HR accepts (keeps: locks) or rejects one proposed pair, through the pairs service."""
    session, hr = db(), current_person()
    pairs.programme_by_slug(session, slug)
    mentor = request.form.get("mentor", "")
    mentee = request.form.get("mentee", "")
    decision = request.form.get("decision")
    try:
        if decision == "accept":
            pair = matching.lock_pair(session, slug, mentor, mentee, hr)
        elif decision == "reject":
            pair = pairs.reject_pair(session, slug, mentor, mentee, hr)
        else:
            raise ValidationError(N_("The decision must be accept or reject."), field="decision")
        session.commit()
    except ValidationError as error:
        session.rollback()
        flash(gettext("Not changed: %(reason)s", reason=translate_error(error)), "error")
    except NotFound as error:  # a person of the form is unknown (the programme exists)
        session.rollback()
        flash(gettext("Not changed: %(reason)s", reason=translate_error(error)), "error")
    else:
        who = f"{pair.mentor.name} / {pair.mentee.name}"
        if decision == "accept":
            message = gettext("%(pair)s: kept in every later proposal.", pair=who)
        else:
            message = gettext("%(pair)s: rejected: it will not be proposed again.", pair=who)
        flash(message, "info")
    return redirect(url_for("hr.proposal", slug=slug))


@bp.route("/programmes/<slug>/gaps")
@hr_required
def gaps(slug: str) -> ResponseReturnValue:
    themes, waiting = job_answer("gaps", slug, gettext("Goals no mentor covers well"))
    if waiting is not None:
        return waiting
    rows = None if request.args.get("all") else LIST_ROWS
    return render_template("hr/gaps.html", slug=slug, themes=themes[:rows], total=len(themes))


@bp.route("/recommend")
@hr_required
def recommend() -> ResponseReturnValue:
    mentee = (request.args.get("mentee") or "").strip()
    mentor = (request.args.get("mentor") or "").strip()
    if bool(mentee) == bool(mentor):
        raise ValidationError(N_("Ask for one person: ?mentee=EMAIL or ?mentor=EMAIL."))
    if mentee:
        found = matching.recommend_mentors(
            db(), tandem().matching_embedders, mentee, limit=10, cache=pool_cache()
        )
    else:
        found = matching.recommend_mentees(
            db(), tandem().matching_embedders, mentor, limit=10, cache=pool_cache()
        )
    open_programmes = (
        db()
        .scalars(select(Programme).where(Programme.status != "finished").order_by(Programme.name))
        .all()
    )
    return render_template(
        "hr/recommend.html", result=to_data(found), mentee=mentee, programmes=open_programmes
    )


AUDIT_ROWS = 100


@bp.route("/audit")
@admin_required
def audit_log() -> ResponseReturnValue:
    """The audit log for HR administrators, filtered by actor, action, programme and dates."""
    session = db()
    args = request.args
    programme_slug = (args.get("programme") or "").strip()
    programme_id = None
    if programme_slug:
        programme_id = pairs.programme_by_slug(session, programme_slug).id
    actor = (args.get("actor") or "").strip()
    where = audit.AuditFilter(
        actor_id=int(actor) if actor.isdigit() and len(actor) < 18 else None,
        action=(args.get("action") or "").strip() or None,
        programme_id=programme_id,
        since=parse_date(args.get("since")),
        until=parse_date(args.get("until")),
    )
    page = parse_page(args.get("page"))
    found, total = audit.entries(session, where, limit=AUDIT_ROWS, offset=(page - 1) * AUDIT_ROWS)
    rows = [(entry, audit.describe(audit.detail_of(entry))) for entry in found]
    return render_template(
        "hr/audit.html", rows=rows, total=total, page=page, per_page=AUDIT_ROWS, where=where,
        programme_slug=programme_slug, actions=audit.actions(session),
        actors=audit.actors(session),
        programmes=session.scalars(select(Programme).order_by(Programme.name)).all(),
    )  # fmt: skip
