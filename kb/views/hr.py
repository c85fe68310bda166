"""HR pages: programmes and their pairs (never notes), recommendations, proposals, gaps."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.models import PAIR_STATUSES, Pair, PairChange, Person, Programme
from kb.services import pairs, people
from kb.views.auth import safe_next
from kb.views.support import current_person, db, tandem
from matching import service as matching
from matching.pool import VectorMemo
from matching.results import to_data

bp = Blueprint("hr", __name__, url_prefix="/hr")

F = TypeVar("F", bound=Callable[..., Any])


def hr_required(view: F) -> F:
    """Logged in and holding the HR role."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        person = current_person()
        if person is None or not person.has_role("hr"):
            raise PermissionDenied("This page is for HR.")
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def admin_required(view: F) -> F:
    """Logged in and an HR administrator (role "admin")."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        person = current_person()
        if person is None or not person.has_role("admin"):
            raise PermissionDenied("This is for HR administrators.")
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


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
        raise NotFound("No such programme.")
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
    return render_template(
        "hr/programme.html", programme=found, pairs=pairs, statuses=PAIR_STATUSES
    )


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
            raise ValidationError(f"lock must be 0 or 1, not {locked!r}", field="locked")
        if status and status != pair.status:
            pairs.set_pair_status(session, pair, status, hr)
        if locked in ("0", "1"):
            pairs.set_pair_locked(session, pair, locked == "1", hr)
        session.commit()
    except ValidationError as error:
        session.rollback()
        flash(f"{who}: not changed: {error.reason}", "error")
    else:
        lock_note = " (locked: proposals keep it)" if pair.locked else ""
        flash(f"{who}: {pair.status}{lock_note}.", "info")
    return redirect(url_for("hr.programme", slug=slug))


@bp.route("/people/<int:person_id>/deactivate", methods=["POST"])
@admin_required
def deactivate(person_id: int) -> ResponseReturnValue:
    """An HR administrator deactivates an account: no more logins, open sessions end."""
    session = db()
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("No such person.")
    people.deactivate(person)
    session.commit()
    flash(f"{person.name}: account deactivated.", "info")
    return redirect(safe_back() or url_for("hr.index"))


def safe_back() -> str | None:
    """The HR page the form was on (a same-site path only)."""
    return safe_next(request.form.get("back"))


def memo() -> VectorMemo:
    """One vector memo per process, so profiles are embedded once, not on every request."""
    return current_app.extensions.setdefault("matching_memo", VectorMemo())


@bp.route("/programmes/<slug>/proposal")
@hr_required
def proposal(slug: str) -> ResponseReturnValue:
    found = matching.propose(db(), tandem().matching_embedders, slug, memo=memo())
    return render_template("hr/proposal.html", slug=slug, proposal=to_data(found))


@bp.route("/programmes/<slug>/proposal", methods=["POST"])
@hr_required
def apply_proposal(slug: str) -> ResponseReturnValue:
    session = db()
    found = matching.propose(session, tandem().matching_embedders, slug, explain=False, memo=memo())
    created = matching.apply_proposal(session, found, current_person())
    session.commit()
    flash(f"Saved {len(created)} new proposed pair(s).", "info")
    return redirect(url_for("hr.programme", slug=slug))


@bp.route("/programmes/<slug>/gaps")
@hr_required
def gaps(slug: str) -> ResponseReturnValue:
    themes = matching.gaps(db(), tandem().matching_embedders, slug, memo=memo())
    return render_template("hr/gaps.html", slug=slug, themes=to_data(themes))


@bp.route("/recommend")
@hr_required
def recommend() -> ResponseReturnValue:
    mentee = (request.args.get("mentee") or "").strip()
    mentor = (request.args.get("mentor") or "").strip()
    if bool(mentee) == bool(mentor):
        raise ValidationError("Ask for one person: ?mentee=EMAIL or ?mentor=EMAIL.")
    if mentee:
        found = matching.recommend_mentors(
            db(), tandem().matching_embedders, mentee, limit=10, memo=memo()
        )
    else:
        found = matching.recommend_mentees(
            db(), tandem().matching_embedders, mentor, limit=10, memo=memo()
        )
    return render_template("hr/recommend.html", result=to_data(found))
