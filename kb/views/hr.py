"""HR pages: programmes and their pairs (never notes), recommendations, proposals, gaps."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb.errors import NotFound, PermissionDenied
from kb.models import Pair, Programme
from kb.views.support import current_person, db

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
            .options(selectinload(Pair.mentor), selectinload(Pair.mentee))
            .order_by(Pair.id)
        )
        .all()
    )
    return render_template("hr/programme.html", programme=found, pairs=pairs)
